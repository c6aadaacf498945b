#!/usr/bin/env bash
# bench/run.sh (make bench): redsleeve beside direct TLS, stunnel, HAProxy
# (and socat unless WITH_SOCAT=0) in one run of anchors.sh.  Knobs are
# anchors.sh's (REPS, CASES, IDLE_CONNS, ...); results go to
# bench/results-latest.txt unless RESULTS is set.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
export RESULTS=${RESULTS:-$HERE/results-latest.txt}
# The chart (bench/report.py) is drawn with gnuplot.
if ! command -v gnuplot >/dev/null 2>&1 && [[ $(id -u) == 0 ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        gnuplot-nox >/dev/null || echo "run.sh: gnuplot not installed; no chart"
fi
export EXTRA_PROXY_PORT=${EXTRA_PROXY_PORT:-6399}
export EXTRA_PROXY_NAME=redsleeve
# The bench runs as root like the other proxies it measures.
export REDSLEEVE_ALLOW_ROOT=yes
# The command anchors.sh runs: write a config from its environment, then
# stay in the foreground.  The clients send their own AUTH (as they do
# for the other proxies), so none is injected here; log_level = warn
# keeps one log line per connection out of the measurement.
export EXTRA_PROXY_CMD="cat >\"\$BENCH_WORK/redsleeve.ini\" <<INI
[global]
log_level = warn
[bench]
listen = 127.0.0.1:\$EXTRA_PROXY_PORT
upstream = \$BENCH_TLS_HOST:\$BENCH_TLS_PORT
verify_host = \$BENCH_SNI
ca_file = \$BENCH_CA_FILE
max_clients = 10000
INI
exec '$ROOT/redsleeve' -c \"\$BENCH_WORK/redsleeve.ini\""
# BASELINE_BIN=path/to/older/redsleeve adds it as a second target, with
# the same config, to compare two builds in one run.
if [[ -n ${BASELINE_BIN:-} ]]; then
  export EXTRA2_PROXY_PORT=${EXTRA2_PROXY_PORT:-6398}
  export EXTRA2_PROXY_NAME=${EXTRA2_PROXY_NAME:-baseline}
  export EXTRA2_PROXY_CMD="sed 's/^listen = .*/listen = 127.0.0.1:'\$EXTRA2_PROXY_PORT'/; /^pool_/d' \
    \"\$BENCH_WORK/redsleeve.ini\" >\"\$BENCH_WORK/baseline.ini\"
exec '$BASELINE_BIN' -c \"\$BENCH_WORK/baseline.ini\""
fi
# variant X NAME LINE: redsleeve again with LINE added to [global] (same
# config otherwise) as extra target X (2 or 3, on port 6398 or 6397).
variant() {
  local x=$1 name=$2 line=$3
  export "EXTRA${x}_PROXY_PORT=$((6400 - x))" "EXTRA${x}_PROXY_NAME=$name"
  export "EXTRA${x}_PROXY_CMD=sed 's/^listen = .*/listen = 127.0.0.1:'\$EXTRA${x}_PROXY_PORT'/; s/^\\[global\\]\$/[global]\\n$line/' \
    \"\$BENCH_WORK/redsleeve.ini\" >\"\$BENCH_WORK/$name.ini\"
exec '$ROOT/redsleeve' -c \"\$BENCH_WORK/$name.ini\""
}
# WORKERS=N: redsleeve with `workers = N`, to see in one run whether more
# loops help here.  BUSY_POLL=D (say 100us): with `busy_poll = D`, the
# latency it buys and the CPU it costs beside the default.
[[ -z ${WORKERS:-} ]] || variant 2 "redsleeve-w$WORKERS" "workers = $WORKERS"
[[ -z ${BUSY_POLL:-} ]] || variant 3 "redsleeve-bp$BUSY_POLL" "busy_poll = $BUSY_POLL"
# SHARED=1 (make bench sets it): redsleeve with pool_mode = shared as the
# third target, "redsleeve-shared"; it injects AUTH (its clients send none,
# a client's own AUTH would pin it; anchors.sh knows the name).
if [[ -n ${SHARED:-} ]]; then
  [[ -z ${BUSY_POLL:-} ]] || { echo "run.sh: SHARED and BUSY_POLL both want target 3" >&2; exit 1; }
  export EXTRA3_PROXY_PORT=6397 EXTRA3_PROXY_NAME=redsleeve-shared
  export EXTRA3_PROXY_CMD="umask 077; printf '%s\\n' \"\$BENCH_PASSWORD\" >\"\$BENCH_WORK/shared.pw\"
sed 's/^listen = .*/listen = 127.0.0.1:6397/' \"\$BENCH_WORK/redsleeve.ini\" >\"\$BENCH_WORK/shared.ini\"
printf 'pool_mode = shared\\nauth_password_file = %s\\n' \"\$BENCH_WORK/shared.pw\" >>\"\$BENCH_WORK/shared.ini\"
exec '$ROOT/redsleeve' -c \"\$BENCH_WORK/shared.ini\""
fi
# The command, for docs/performance.md.
knobs=""
for k in REPS CASES WORKERS BUSY_POLL SHARED WITH_SOCAT N_AB N_C N_D IDLE_CONNS; do
  [[ -n ${!k:-} ]] && knobs+="$k=${!k} "
done
printf '%smake bench\n' "$knobs" >"$RESULTS.command"
bash "$HERE/anchors.sh" | tee "$RESULTS"
