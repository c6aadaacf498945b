#!/usr/bin/env bash
# 68-drain-budget: links that departed clients left with replies owed are
# drained by the pool, each holding a descriptor; they count against the
# descriptor budget (two for one client), so with a limit of 64 a burst
# of clients that leave mid-request never runs the proxy out of
# descriptors: the next clients wait in the kernel's backlog until the
# drains end, then are served.
. "$(dirname "$0")/lib.sh"

start_redis_tls main
RP=$REDIS_PORT_main
printf '%s\n' "$REDIS_PASSWORD" >"$W/pw"
{
    printf '[global]\nlog_level = debug\n'
    svc_ini main "$RP" "auth_password_file = $W/pw" 'pool_min_idle = 0' \
        'drain_timeout = 10s'
} >"$W/rs.ini"
printf '#!/bin/sh\nexec prlimit --nofile=64:64 %s "$@"\n' "$REDSLEEVE" >"$W/limited"
chmod +x "$W/limited"
REDSLEEVE=$W/limited start_redsleeve rs "$W/rs.ini"
P=$RS_PORT_main
check "it serves" test "$(rcli "$P" PING)" = PONG

cat >"$W/burst.py" <<'PY'
import socket, struct, sys, time
port, rounds, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
# Each round: n clients send a write (held by CLIENT PAUSE WRITE) and
# leave with a TCP reset: their links go to the pool to be drained.
for _ in range(rounds):
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.settimeout(0.5)
        try:
            s.connect(("127.0.0.1", port))
            s.sendall(b"SET drain:k v\r\n")
            socks.append(s)
        except OSError:
            s.close()       # waiting in the backlog: fine
    time.sleep(0.3)
    for s in socks:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                     struct.pack("ii", 1, 0))
        s.close()
PY
max_fds=0
watch_fds() {
    while kill -0 "$RS_PID" 2>/dev/null; do
        n=$(fd_count "$RS_PID" 2>/dev/null || echo 0)
        ((n > max_fds)) && max_fds=$n && echo "$n" >"$W/maxfds"
        sleep 0.02
    done
}
echo 0 >"$W/maxfds"
watch_fds &
WATCH=$!
rcli_tls "$RP" CLIENT PAUSE 6000 WRITE >/dev/null
python3 "$W/burst.py" "$P" 10 12
# New clients while the links drain: served once descriptors come back.
out=$(timeout 20 redis-cli -h 127.0.0.1 -p "$P" PING 2>&1 || true)
check "a client that came during the drains is served" test "$out" = PONG
kill "$WATCH" 2>/dev/null || true
wait "$WATCH" 2>/dev/null || true
check "the proxy never ran out of descriptors (most held: $(cat "$W/maxfds") of 64)" \
    test "$(cat "$W/maxfds")" -lt 64
check "... and accept() never failed for want of one" \
    bash -c "! grep -q 'event=accept-paused' '$W/rs.log'"
check "... and every link got its descriptor" \
    bash -c "! grep -Eq 'Too many open files|EMFILE' '$W/rs.log'"
check "the drained links were recycled or closed (not leaked)" \
    wait_until 15 grep -q 'event=link-recycled\|link-discard' "$W/rs.log"
check "it still serves" test "$(rcli "$P" PING)" = PONG
finish
