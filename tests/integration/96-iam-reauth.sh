#!/usr/bin/env bash
# 96-iam-reauth: ElastiCache ends an IAM connection 12 hours after its last
# AUTH; redsleeve logs every link in again before then (issue #17).  The
# fake server here ends a connection 6 s after its last good AUTH, and the
# service re-AUTHs every 2 s (iam_reauth_interval): idle links in the pool
# and a link a client holds stay up for over twice the lifetime.  A held
# link is re-AUTHed only where our AUTH cannot land in the client's way:
# not inside MULTI (it would be queued and answered by EXEC), and its +OK
# never reaches the client.  Without re-AUTH the fake's "EXPIRED" lines
# would show, and the held client would be cut off.
. "$(dirname "$0")/lib.sh"

reauth_gate 6 2

out=$("$REDSLEEVE" -c "$W/r.ini" --check-config 2>&1 || true)
check "link_max_lifetime = 0 is accepted with IAM (links log in again instead)" \
    grep -q 'auth IAM user app' <<<"$out"
printf '[a]\nlisten = 127.0.0.1:0\nupstream = 127.0.0.1:1\niam_reauth_interval = 1h\n' >"$W/orphan.ini"
check "iam_reauth_interval without iam_user_id is refused" \
    grep -q 'orphan.ini:4: iam_reauth_interval: needs iam_user_id' <<<"$("$REDSLEEVE" -c "$W/orphan.ini" --check-config 2>&1 || true)"
sed 's/^iam_reauth_interval = 2s$/iam_reauth_interval = 12h/' "$W/r.ini" >"$W/long.ini"
check "an iam_reauth_interval of 12 h is refused (the server's own limit)" \
    grep -q 'long.ini:13: iam_reauth_interval' <<<"$("$REDSLEEVE" -c "$W/long.ini" --check-config 2>&1 || true)"

start_redsleeve rs "$W/r.ini"
A=$RS_PORT_admin
wait_until 10 test "$(rcli "$RS_PORT_cache" PING)" = PONG

# One client holds its link for 13 s (over two lifetimes), PING every 0.3 s;
# another opens MULTI, waits 3 s (past the interval), then EXEC.
python3 - "$RS_PORT_cache" >"$W/held.out" 2>&1 <<'EOF' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
f = s.makefile("rb")
ok = 0
end = time.time() + 13
while time.time() < end:
    s.sendall(b"*1\r\n$4\r\nPING\r\n")
    line = f.readline()
    if line != b"+PONG\r\n":
        print("held: unexpected %r after %d PONGs" % (line, ok))
        sys.exit(1)
    ok += 1
    time.sleep(0.3)
print("held: %d PONGs" % ok)
EOF
held=$!
python3 - "$RS_PORT_cache" >"$W/multi.out" 2>&1 <<'EOF' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
f = s.makefile("rb")
time.sleep(2.5)             # the link is due a re-AUTH from now on
s.sendall(b"*1\r\n$5\r\nMULTI\r\n*1\r\n$4\r\nPING\r\n")
got = [f.readline(), f.readline()]
time.sleep(3)               # sweeps come and go: none may AUTH in MULTI
s.sendall(b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nEXEC\r\n")
got += [f.readline() for _ in range(4)]
want = [b"+OK\r\n", b"+QUEUED\r\n", b"+QUEUED\r\n", b"*2\r\n", b"+PONG\r\n",
        b"+PONG\r\n"]
print("multi: %s" % ("ok" if got == want else "got %r" % got))
time.sleep(1.5)             # after EXEC: the overdue re-AUTH goes out
s.sendall(b"*1\r\n$4\r\nPING\r\n")
print("after: %r" % f.readline())
EOF
multi=$!
wait "$held" && rc=0 || rc=$?
check "a client holding its link for over two lifetimes is never cut off" \
    test "$rc" = 0
check "... its PINGs all answered ($(cat "$W/held.out"))" grep -q '^held: [0-9]* PONGs$' "$W/held.out"
wait "$multi" || true
check "MULTI held past the interval: no AUTH queued in it, EXEC answers exactly the client's commands" \
    grep -qx 'multi: ok' "$W/multi.out"
check "... and the link is re-AUTHed after EXEC, the client sees only its PONG" \
    grep -qx "after: b'+PONG\\\\r\\\\n'" "$W/multi.out"
check "the server never had to end a connection (no EXPIRED)" \
    bash -c "! grep -q EXPIRED '$FL'"
reauths=$(grep -c '^REAUTH conn=' "$FL" || true)
check "links logged in again on the same connection ($reauths times)" \
    test "$reauths" -ge 8
conns=$(grep '^REAUTH conn=' "$FL" | sort -u | wc -l)
check "... held and pooled links alike ($conns connections)" test "$conns" -ge 3
check "every token was good" bash -c "! grep -q '^AUTH bad' '$FL'"
m=$(metric 'redsleeve_iam_reauths_total{service="cache"}')
check "/metrics: redsleeve_iam_reauths_total ($m)" test "${m:-0}" -ge "$reauths"
check "no secret or token in the log" \
    bash -c "! grep -q -e NeverLogged -e X-Amz-Signature -e 'Action=connect' '$W/rs.log'"
stop_bg rs
stop_bg fakeiam

finish
