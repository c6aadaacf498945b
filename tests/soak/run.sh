#!/usr/bin/env bash
# tests/soak/run.sh (make soak): SOAK_SECONDS (default 300) of mixed
# traffic through redsleeve (tests/soak/driver.py: SET/GET of binary
# values up to 64 KiB, pipelines, slow readers, aborted clients, pub/sub,
# RESET; every reply compared byte for byte) while the chaos loop restarts
# the redis-server (kill -9, same port) and CLIENT KILLs every client.
# RSS and descriptors of redsleeve are sampled every second.  Passes when
# no reply was corrupt, no sanitizer report appeared, RSS has no upward
# trend after the warm-up, and descriptors return to the baseline.
# REDSLEEVE may be the sanitizer build (make soak-asan).
. "$(dirname "$0")/../integration/lib.sh"

SECS=${SOAK_SECONDS:-300}
WORKERS=${SOAK_WORKERS:-12}
WARMUP=$((SECS / 5))
OUT=${SOAK_OUT:-$W/soak-summary.txt}

start_redis_tls main
RP=$REDIS_PORT_main
printf '%s\n' "$REDIS_PASSWORD" >"$W/pw"
{
    printf '[global]\nadmin_listen = 127.0.0.1:0\n'
    svc_ini main "$RP" "auth_password_file = $W/pw" 'pool_min_idle = 4' \
        'pool_max_idle = 32' 'buffer_limit = 64k' 'connect_timeout = 2s'
} >"$W/rs.ini"
start_redsleeve rs "$W/rs.ini"
P=$RS_PORT_main
A=$RS_PORT_admin
# Descriptors not counting the pool's links (the pool may hold 4 or 32).
pool_links() {
    exec 3<>/dev/tcp/127.0.0.1/"$A"
    printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3
    awk '/^redsleeve_links\{.*state="(idle|filling|recycling|busy)"/ {n += $2}
         END {print n + 0}' <&3
    exec 3<&-
}
own_fds() { echo $(($(fd_count "$RS_PID") - $(pool_links))); }
sleep 0.5
base_fds=$(own_fds)

# Sampler: time, RSS (KiB), descriptors.
(
    while kill -0 "$RS_PID" 2>/dev/null && [[ ! -e $W/stop-sampler ]]; do
        echo "$SECONDS $(rss_kib "$RS_PID") $(fd_count "$RS_PID")"
        sleep 1
    done
) >"$W/samples.txt" 2>/dev/null &
SAMPLER=$!

# Chaos: CLIENT KILL every 7 s, a server restart (kill -9) every 40 s.
(
    t=0
    rpid=$REDIS_PID_main
    while [[ ! -e $W/stop-chaos ]]; do
        sleep 1
        t=$((t + 1))
        if ((t % 7 == 0)); then
            rcli_tls "$RP" CLIENT KILL TYPE normal SKIPME yes >/dev/null 2>&1 || true
            echo "client-kill" >>"$W/chaos.log"
        fi
        if ((t % 40 == 0)); then
            kill -9 "$rpid" 2>/dev/null || true
            sleep 0.5
            redis-server "$W/main.conf" >>"$W/main-restarts.log" 2>&1 &
            rpid=$!
            echo "$rpid" >"$W/redis.pid"
            echo "restart" >>"$W/chaos.log"
        fi
    done
) &
CHAOS=$!

echo "soak: $SECS s, $WORKERS workers, redsleeve pid $RS_PID"
python3 "$(dirname "$0")/driver.py" "$P" "$SECS" "$WORKERS" "$W/driver.json"
touch "$W/stop-chaos"
wait "$CHAOS" 2>/dev/null || true
[[ -s $W/redis.pid ]] && BG_PIDS+=("$(cat "$W/redis.pid")")
# Every server the chaos loop started serves our port (redis names itself
# "redis-server 127.0.0.1:PORT"): stop
# whichever is left (by PID) with the rest at exit.
for pid in $(pgrep -xf "redis-server 127.0.0.1:$RP" || true); do
    BG_PIDS+=("$pid")
done
# Let links settle back into the pool, then look at descriptors.
wait_until 10 rcli_tls "$RP" PING >/dev/null 2>&1 || true
sleep 3
end_fds=$(own_fds)
touch "$W/stop-sampler"
wait "$SAMPLER" 2>/dev/null || true

read -r requests nbytes corrupt closes sessions <<<"$(python3 - "$W/driver.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
print(d["requests"], d["bytes_checked"], d["corrupt"],
      ",".join("%s=%d" % kv for kv in sorted(d["closes"].items())) or "none",
      ",".join("%s=%d" % kv for kv in sorted(d["sessions"].items())))
EOF
)"
read -r rss_start rss_end slope peak <<<"$(python3 - "$W/samples.txt" "$WARMUP" <<'EOF'
import sys
rows = [tuple(map(int, l.split())) for l in open(sys.argv[1]) if len(l.split()) == 3]
warm = int(sys.argv[2])
t0 = rows[0][0]
after = [(t - t0, r) for t, r, _ in rows if t - t0 >= warm]
n = len(after)
mt = sum(t for t, _ in after) / n
mr = sum(r for _, r in after) / n
var = sum((t - mt) ** 2 for t, _ in after) or 1
slope = sum((t - mt) * (r - mr) for t, r in after) / var   # KiB per second
print(after[0][1], after[-1][1], "%.2f" % (slope * 60), max(r for _, r, in [(0, r) for _, r, _ in rows]))
EOF
)"
restarts=$(grep -c restart "$W/chaos.log" 2>/dev/null || true)
kills=$(grep -c client-kill "$W/chaos.log" 2>/dev/null || true)
{
    echo "soak: ${SECS}s, $WORKERS workers, binary $(basename "$REDSLEEVE")"
    echo "  requests checked: $requests, bytes checked: $nbytes, corrupt: $corrupt"
    echo "  sessions: $sessions"
    echo "  chaos: $restarts server restarts (kill -9), $kills CLIENT KILL rounds"
    echo "  client-side closes/errors by cause: $closes"
    echo "  RSS after warm-up (${WARMUP}s): start ${rss_start} KiB, end ${rss_end} KiB, peak ${peak} KiB, trend ${slope} KiB/min"
    echo "  descriptors (pool links aside): baseline $base_fds, after the load $end_fds"
} | tee "$OUT"

check "no reply was corrupt ($requests requests, $nbytes bytes checked)" \
    test "$corrupt" = 0 -a "$requests" -gt 1000
check "the chaos happened (restarts $restarts, kills $kills)" \
    test "$restarts" -ge 1 -a "$kills" -ge 1
check "redsleeve is alive" kill -0 "$RS_PID"
# No upward trend: the fitted growth over the measured span stays under
# 5 % of the RSS (ASan keeps a quarantine; that run reports it only).
span=$((SECS - WARMUP))
if [[ -z ${SOAK_NO_RSS_CHECK:-} ]]; then
    check "RSS has no upward trend after warm-up (${slope} KiB/min)" \
        awk -v s="$slope" -v span="$span" -v r="$rss_start" \
        'BEGIN {exit !(s * span / 60 < 0.05 * r)}'
fi
check "descriptors (pool links aside) back to the baseline ($end_fds vs $base_fds)" \
    test "$end_fds" -le "$base_fds"

finish
