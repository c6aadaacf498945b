#!/usr/bin/env bash
# bench/churn.sh OLD_BIN NEW_BIN: what a connect-per-request app costs the
# server through two redsleeve builds, side by side in one run: a TLS
# redis-server, each proxy in front of it injecting AUTH (the app sends
# none), the same pool settings for both (pool_min_idle = 4,
# pool_max_idle = 64, so only the hand-over differs), and
# redis-benchmark -c 50 -k 0 (a new connection per request) doing SET,
# GET and INCR, REPS times, alternating.  Prints per build the median
# requests/s and, per 10,000 requests, the RESET, AUTH and ECHO commands
# the server ran and its CPU-milliseconds.  Loopback only.
set -euo pipefail
OLD=$(realpath "$1")
NEW=$(realpath "$2")
REPS=${REPS:-5}
N=${N:-20000}
HERE=$(cd "$(dirname "$0")" && pwd)
W=$(mktemp -d /tmp/redsleeve-churn.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$W"' EXIT
bash "$HERE/../tests/integration/gen-certs.sh" "$W/pki" >/dev/null 2>&1
PW=churn-$RANDOM$RANDOM
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
RP=$(port)
redis-server --port 0 --tls-port "$RP" --bind 127.0.0.1 \
    --tls-cert-file "$W/pki/server.crt" --tls-key-file "$W/pki/server.key" \
    --tls-ca-cert-file "$W/pki/ca.crt" --tls-auth-clients no \
    --requirepass "$PW" --save '' --appendonly no --dir "$W" \
    --logfile "$W/redis.log" &
pids+=($!)
r() {
    redis-cli --tls --cacert "$W/pki/ca.crt" -h 127.0.0.1 -p "$RP" -a "$PW" \
        --no-auth-warning "$@"
}
for _ in $(seq 1 100); do r PING >/dev/null 2>&1 && break; sleep 0.1; done
printf '%s\n' "$PW" >"$W/pw"
chmod 600 "$W/pw"
declare -A PORT=()
for b in old new; do
    PORT[$b]=$(port)
    cat >"$W/$b.ini" <<INI
[global]
log_level = warn
[churn]
listen = 127.0.0.1:${PORT[$b]}
upstream = 127.0.0.1:$RP
verify_host = redis.test
ca_file = $W/pki/ca.crt
auth_password_file = $W/pw
pool_min_idle = 4
pool_max_idle = 64
INI
    bin=$OLD
    [[ $b == new ]] && bin=$NEW
    REDSLEEVE_ALLOW_ROOT=yes "$bin" -c "$W/$b.ini" 2>"$W/$b.log" &
    pids+=($!)
done
sleep 1
calls() {
    r INFO commandstats | tr -d '\r' |
        sed -n "s/^cmdstat_$1:calls=\([0-9]*\),.*/\1/p" | head -n 1
}
cpu_ms() {
    r INFO cpu | tr -d '\r' | awk -F: '/^used_cpu_(sys|user):/ {s += $2}
        END {printf "%d", s * 1000}'
}
for rep in $(seq 1 "$REPS"); do
    for b in old new; do
        r CONFIG RESETSTAT >/dev/null
        c0=$(cpu_ms)
        out=$(redis-benchmark -h 127.0.0.1 -p "${PORT[$b]}" -c 50 -n "$N" \
            -k 0 -t set,get,incr -q 2>&1 | tr '\r' '\n' | grep 'requests per second' | tail -n 3)
        c1=$(cpu_ms)
        rps=$(awk '{s += $2} END {printf "%.0f", s / NR}' <<<"$out")
        reqs=$((3 * N))
        printf '%s rep=%d rps=%s reset=%s auth=%s echo=%s cpu_ms=%s\n' "$b" \
            "$rep" "$rps" \
            "$(awk -v c="$(calls reset)" -v n=$reqs 'BEGIN {printf "%.0f", (c + 0) * 10000 / n}')" \
            "$(awk -v c="$(calls auth)" -v n=$reqs 'BEGIN {printf "%.0f", (c + 0) * 10000 / n}')" \
            "$(awk -v c="$(calls echo)" -v n=$reqs 'BEGIN {printf "%.0f", (c + 0) * 10000 / n}')" \
            "$(awk -v c=$((c1 - c0)) -v n=$reqs 'BEGIN {printf "%.0f", c * 10000 / n}')"
    done
done | tee "$W/results"
echo "medians (per 10,000 requests):"
for b in old new; do
    for k in rps reset auth echo cpu_ms; do
        printf '%s %s=%s  ' "$b" "$k" "$(grep "^$b " "$W/results" |
            sed -n "s/.* $k=\([0-9]*\).*/\1/p" | sort -n |
            awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')"
    done
    echo
done
