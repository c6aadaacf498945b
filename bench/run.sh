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
pool_min_idle = 4
pool_max_idle = 64
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
# WORKERS=N adds redsleeve with `workers = N` (same config otherwise) as
# a second target, to see in one run whether more loops help here.
if [[ -n ${WORKERS:-} ]]; then
  export EXTRA2_PROXY_PORT=${EXTRA2_PROXY_PORT:-6398}
  export EXTRA2_PROXY_NAME=redsleeve-w$WORKERS
  export EXTRA2_PROXY_CMD="sed 's/^listen = .*/listen = 127.0.0.1:'\$EXTRA2_PROXY_PORT'/; s/^\\[global\\]\$/[global]\\nworkers = $WORKERS/' \
    \"\$BENCH_WORK/redsleeve.ini\" >\"\$BENCH_WORK/workers.ini\"
exec '$ROOT/redsleeve' -c \"\$BENCH_WORK/workers.ini\""
fi
# BUSY_POLL=D (say 100us) adds redsleeve with `busy_poll = D` (same
# config otherwise) as a third target: the latency it buys, the CPU it
# costs, beside the default in one run.
if [[ -n ${BUSY_POLL:-} ]]; then
  export EXTRA3_PROXY_PORT=${EXTRA3_PROXY_PORT:-6397}
  export EXTRA3_PROXY_NAME=redsleeve-bp$BUSY_POLL
  export EXTRA3_PROXY_CMD="sed 's/^listen = .*/listen = 127.0.0.1:'\$EXTRA3_PROXY_PORT'/; s/^\\[global\\]\$/[global]\\nbusy_poll = $BUSY_POLL/' \
    \"\$BENCH_WORK/redsleeve.ini\" >\"\$BENCH_WORK/busypoll.ini\"
exec '$ROOT/redsleeve' -c \"\$BENCH_WORK/busypoll.ini\""
fi
# The command, for docs/performance.md.
knobs=""
for k in REPS CASES WORKERS BUSY_POLL WITH_SOCAT N_AB N_C N_D IDLE_CONNS; do
  [[ -n ${!k:-} ]] && knobs+="$k=${!k} "
done
printf '%smake bench\n' "$knobs" >"$RESULTS.command"
bash "$HERE/anchors.sh" | tee "$RESULTS"
