#!/usr/bin/env bash
# bench/cpu-split.sh: case a (-c 50 -P 1 GET) with each process's CPU:
# the TLS redis-server, the proxy and redis-benchmark, per 100k requests,
# direct TLS beside redsleeve in shared and session mode, interleaved
# (bench/profile.md, "Shared links, case a").  Bring your own servers:
#
#   REDIS_PID REDIS_PORT CA SNI PASSWORD  the TLS redis-server
#   RS_PID SHARED_PORT SESSION_PORT       one redsleeve with a shared and a
#                                         session service, both injecting AUTH
#   ROUNDS (3) N (300000)
set -euo pipefail
: "${REDIS_PID:?}" "${REDIS_PORT:?}" "${CA:?}" "${SNI:?}" "${PASSWORD:?}"
: "${RS_PID:?}" "${SHARED_PORT:?}" "${SESSION_PORT:?}"
ROUNDS=${ROUNDS:-3} N=${N:-300000}
tick=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }     # utime + stime
run() {  # run NAME PORT [ARGS...]
    local name=$1 port=$2 r0 s0 r1 s1 out ops bt
    shift 2
    r0=$(cpu "$REDIS_PID") s0=$(cpu "$RS_PID")
    out=$( { /usr/bin/time -f "%U %S" redis-benchmark -p "$port" "$@" \
        -c 50 -P 1 -n "$N" -t get --csv; } 2>&1)
    r1=$(cpu "$REDIS_PID") s1=$(cpu "$RS_PID")
    ops=$(awk -F, '/"GET"/ {gsub(/"/, ""); print $2}' <<<"$out")
    bt=$(tail -n 1 <<<"$out")
    awk -v n="$name" -v o="$ops" -v r=$((r1 - r0)) -v s=$((s1 - s0)) \
        -v bt="$bt" -v t="$tick" -v k=$((N / 100000)) 'BEGIN {
        split(bt, a, " "); b = (a[1] + a[2]) / k
        printf "%-8s ops/s=%7.0f  CPU-s per 100k: server=%.2f proxy=%.2f " \
               "bench=%.2f all=%.2f\n", n, o, r / t / k, s / t / k, b,
               r / t / k + s / t / k + b }'
}
for _ in $(seq "$ROUNDS"); do
    run direct "$REDIS_PORT" --tls --cacert "$CA" --sni "$SNI" -a "$PASSWORD"
    run shared "$SHARED_PORT"
    run session "$SESSION_PORT"
done
