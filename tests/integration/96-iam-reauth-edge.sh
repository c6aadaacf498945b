#!/usr/bin/env bash
# 96-iam-reauth-edge: the edges of a held link's re-AUTH (issue #17),
# found in review: our AUTH is never queued inside a MULTI that Redis
# kept open (a DISCARD with an argument is refused and the transaction
# goes on); more pipelined RESETs than the AUTHs we can follow close the
# client rather than let a +OK of ours reach it; and a request the
# scanner cannot read while our AUTH is unanswered closes the client
# too, for the same reason.
. "$(dirname "$0")/lib.sh"

reauth_gate 60 0
start_redsleeve rs "$W/r.ini"
P=$RS_PORT_cache
export FL

# 1. A DISCARD with an argument inside MULTI: Redis answers an error and
#    stays in MULTI (the fake does the same).
python3 - "$P" >"$W/t1.out" 2>&1 <<'EOF' || true
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
f = s.makefile("rb")
s.sendall(b"*1\r\n$5\r\nMULTI\r\n*1\r\n$4\r\nPING\r\n*2\r\n$7\r\nDISCARD\r\n$1\r\nx\r\n")
got = [f.readline() for _ in range(3)]
time.sleep(3.5)                 # past iam_reauth_interval: a sweep comes
s.sendall(b"*1\r\n$4\r\nEXEC\r\n")
got += [f.readline(), f.readline()]
print("t1: %r" % got)
EOF
check "t1: a client whose MULTI is still open is not cut off by our AUTH ($(cat "$W/t1.out"))" \
    grep -q "b'\*1" "$W/t1.out"

# 2. Nine pipelined RESETs: more than TRACK_MAX_REAUTH (8) injected AUTHs.
python3 - "$P" >"$W/t2.out" 2>&1 <<'EOF' || true
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(2)
s.sendall(b"*1\r\n$5\r\nRESET\r\n" * 9 + b"*1\r\n$4\r\nPING\r\n")
buf = b""
try:
    while buf.count(b"\r\n") < 20:
        d = s.recv(4096)
        if not d:
            break
        buf += d
except socket.timeout:
    pass
print("t2: %r" % buf)
EOF
check "t2: nine pipelined RESETs: the client sees no +OK of ours ($(cat "$W/t2.out"))" \
    bash -c "! grep -q 'OK' '$W/t2.out'"

# 3. The timed AUTH is in flight when the client sends a request the
#    scanner refuses (an inline line with a NUL).
python3 - "$P" >"$W/t3.out" 2>&1 <<'EOF' || true
import os, socket, sys, time
fl = os.environ["FL"]
def auths():
    try:
        return sum(1 for l in open(fl, "rb") if l.strip() == b"AUTH")
    except OSError:
        return 0
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
f = s.makefile("rb")
s.sendall(b"*1\r\n$4\r\nPING\r\n")
print("first:", f.readline())
base = auths()
end = time.time() + 6
while auths() == base and time.time() < end:
    time.sleep(0.001)
s.sendall(b"PI\x00NG\r\n")         # our AUTH is being checked by the fake
s.settimeout(2)
buf = b""
try:
    while True:
        d = s.recv(4096)
        if not d:
            break
        buf += d
except socket.timeout:
    pass
print("t3: %r" % buf)
EOF
check "t3: the client never sees the +OK of our timed AUTH ($(tr '\n' ' ' <"$W/t3.out"))" \
    bash -c "! grep -q \"+OK\" '$W/t3.out'"
stop_bg rs
stop_bg fakeiam
finish
