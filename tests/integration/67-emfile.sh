#!/usr/bin/env bash
# 67-emfile: redsleeve with a descriptor limit of 64.
# 1. 60 clients at once (two descriptors each): it accepts only as many
#    as the limit leaves a link descriptor for (the client budget, like
#    HAProxy's maxconn from ulimit -n), serves them, accepts the others as
#    the first ones leave, and serves every client in the end.
# 2. Descriptors used up by something else (idle /metrics connections,
#    under a lowered soft limit):
#    accept() fails with EMFILE; both listeners pause with a back-off
#    instead of spinning, and accept again once descriptors come back.
# Descriptors return to the baseline.
. "$(dirname "$0")/lib.sh"

start_redis_tls main
RP=$REDIS_PORT_main
printf '%s\n' "$REDIS_PASSWORD" >"$W/pw"
{
    printf '[global]\nadmin_listen = 127.0.0.1:0\n'
    svc_ini main "$RP" "auth_password_file = $W/pw" 'pool_min_idle = 0' \
        'pool_max_idle = 0'
} >"$W/rs.ini"
printf '#!/bin/sh\nexec prlimit --nofile=64:64 %s "$@"\n' "$REDSLEEVE" >"$W/limited"
chmod +x "$W/limited"
REDSLEEVE=$W/limited start_redsleeve rs "$W/rs.ini"
P=$RS_PORT_main
check "the descriptor limit is 64" \
    grep -Eq '^Max open files +64 +64' "/proc/$RS_PID/limits"
check "it serves" test "$(rcli "$P" PING)" = PONG
sleep 0.3
base_fds=$(fd_count "$RS_PID")

cat >"$W/clients.py" <<'EOF'
import select, socket, sys, time
port, n, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
for s in socks:
    s.sendall(b"PING\r\n")
got = {}
def poll(deadline):
    while time.time() < deadline and len(got) < n:
        waiting = [s for s in socks if s not in got]
        r, _, _ = select.select(waiting, [], [], 0.1)
        for s in r:
            data = s.recv(64)
            got[s] = data
poll(time.time() + 2.5)
first = sum(1 for v in got.values() if v == b"+PONG\r\n")
closed = set()
def leave():                 # the served leave: descriptors come back
    for s in got:
        if s not in closed:
            s.close()
            closed.add(s)
leave()
deadline = time.time() + 20
while len(got) < n and time.time() < deadline:
    poll(min(deadline, time.time() + 0.2))
    leave()
total = sum(1 for v in got.values() if v == b"+PONG\r\n")
bad = sum(1 for v in got.values() if v != b"+PONG\r\n")
for s in socks:
    s.close()
open(out, "w").write("%d %d %d\n" % (first, total, bad))
EOF
ticks() { awk '{print $14 + $15}' "/proc/$RS_PID/stat"; }
python3 "$W/clients.py" "$P" 60 "$W/clients.out" &
CL=$!
sleep 0.7
t1=$(ticks)
sleep 1.5
t2=$(ticks)
wait "$CL" || true
read -r first total bad <"$W/clients.out"
hz=$(getconf CLK_TCK)
cpu=$(awk -v a="$t1" -v b="$t2" -v hz="$hz" 'BEGIN {printf "%.2f", (b - a) / hz}')
check "it served what its descriptors allowed at first ($first of 60)" \
    test "$first" -ge 10 -a "$first" -lt 60
check "accepting paused at the budget, and said so" \
    grep -q 'event=clients-capped clients=' "$W/rs.log"
check "no spinning while paused (${cpu} s CPU in 1.5 s)" \
    awk -v c="$cpu" 'BEGIN {exit !(c < 0.3)}'
check "every client was served in the end ($total of 60, $bad bad)" \
    test "$total" = 60 -a "$bad" = 0
check "it still serves new clients" test "$(rcli "$P" PING)" = PONG

# 2. Real EMFILE: idle admin connections take every descriptor left.  The
# admin port serves 8 connections at most, so the soft limit is lowered
# for this part to 4 above what is in use, and the hog opens 7: four take
# the descriptors, the rest wait in the backlog while accept() fails.
# (It opened 70 before the cap: 4 served + 65 queued (backlog 64) left no
# room, and on CI the 70th connect() was refused.)
A=$RS_PORT_admin
low=$(($(fd_count "$RS_PID") + 4))
prlimit --pid "$RS_PID" --nofile="$low":64
cat >"$W/hog.py" <<'EOF'
import os, socket, sys, time
port, stop = int(sys.argv[1]), sys.argv[2]
held = [socket.create_connection(("127.0.0.1", port)) for _ in range(7)]
open(stop + ".ready", "w").close()
while not os.path.exists(stop):
    time.sleep(0.05)
EOF
python3 "$W/hog.py" "$A" "$W/hog.stop" &
HOG=$!
wait_until 5 test -e "$W/hog.stop.ready"
sleep 0.3
full() { test "$(fd_count "$RS_PID")" -ge "$low"; }
check "the admin connections use up the descriptors" wait_until 5 full
exec 7<>/dev/tcp/127.0.0.1/"$P"
printf 'PING\r\n' >&7
t1=$(ticks)
sleep 1.5
t2=$(ticks)
cpu=$(awk -v a="$t1" -v b="$t2" -v hz="$hz" 'BEGIN {printf "%.2f", (b - a) / hz}')
check "accept() failing with EMFILE pauses the listener, and says so" \
    grep -Eq 'event=accept-paused .*reason="Too many open files"' "$W/rs.log"
check "no spinning on EMFILE (${cpu} s CPU in 1.5 s)" \
    awk -v c="$cpu" 'BEGIN {exit !(c < 0.3)}'
touch "$W/hog.stop"
wait "$HOG" || true
prlimit --pid "$RS_PID" --nofile=64:64
read -r -t 10 pong <&7 || true
exec 7<&-
check "once descriptors come back the waiting client is served" \
    test "$pong" = $'+PONG\r'
check "and the admin endpoint answers again" \
    bash -c "exec 3<>/dev/tcp/127.0.0.1/$A; printf 'GET /healthz HTTP/1.0\r\n\r\n' >&3; grep -q '^ok' <&3"
back() { test "$(fd_count "$RS_PID")" -le "$base_fds"; }
check "descriptors return to the baseline ($base_fds)" wait_until 5 back

finish
