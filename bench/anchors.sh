#!/usr/bin/env bash
# anchors.sh (copied from ../shared/bench, with a server-connections count added) - baseline ("anchor") benchmark for a plaintext->TLS Redis sidecar.
#
# Measures, in ONE run and side by side on this machine (loopback only):
#   plain    redis-server without TLS                 (absolute ceiling)
#   tls      redis-benchmark --tls straight to Redis  (no proxy)
#   stunnel  stunnel client mode  -> verified TLS -> Redis
#   haproxy  HAProxy mode tcp     -> verified TLS -> Redis
#   socat    socat fork OPENSSL   -> verified TLS -> Redis   (WITH_SOCAT=1)
#   extra    any future proxy on EXTRA_PROXY_PORT             (optional)
# Cases (each repeated REPS=3 times, interleaved; medians reported):
#   a  -c 50 -n 200000 -t get,set -P 1
#   b  -c 50 -n 200000 -t get,set -P 16
#   c  -k 0 -c 20 -n 20000 -t ping_mbulk   (new client connection per request)
#   d  -c 1 -P 1 -n 20000 -t get           (latency)
# plus proxy/server CPU-seconds per 100k requests (from /proc/PID/stat) and
# proxy memory per idle connection (IDLE_CONNS=2000, via idle_conns.py).
#
# Usage:
#   bash anchors.sh                                  # writes ./bench-results.txt
#   RESULTS=/tmp/r.txt bash anchors.sh
#   # add a third proxy that the script starts and stops itself; the command
#   # sees BENCH_TLS_HOST BENCH_TLS_PORT BENCH_CA_FILE BENCH_SNI BENCH_PASSWORD
#   # BENCH_WORK and EXTRA_PROXY_PORT in its environment, and should stay in
#   # the foreground:
#   EXTRA_PROXY_PORT=6399 EXTRA_PROXY_NAME=redsleeve \
#     EXTRA_PROXY_CMD='./redsleeve -c my.ini' bash anchors.sh
#   # or, with only EXTRA_PROXY_PORT set, a proxy you already started (it must
#   # trust $PKI_DIR/ca.crt and forward to 127.0.0.1:$TLS_PORT; set PKI_DIR to
#   # a fixed directory so the CA survives between runs).
#
# Knobs (environment): BASE_PORT(6390) REPS(3) IDLE_CONNS(2000) WITH_SOCAT(1)
#   KEY_ALG(rsa2048|ec256) HAPROXY_NBTHREAD(empty = HAProxy default)
#   CASES("a b c d") N_AB(200000) N_C(20000) N_D(20000) PKI_DIR KEEP_WORK(0)
#   RESULTS  INSTALL(1: apt-get install missing tools, services kept stopped)
#
# Nothing is started as a system service; every process is started here, in
# the foreground of a background job, and stopped here by PID.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CONF="$HERE/conf"

BASE_PORT=${BASE_PORT:-6390}
TLS_PORT=${TLS_PORT:-$BASE_PORT}
PLAIN_PORT=${PLAIN_PORT:-$((BASE_PORT + 1))}
STUNNEL_PORT=${STUNNEL_PORT:-$((BASE_PORT + 2))}
HAPROXY_PORT=${HAPROXY_PORT:-$((BASE_PORT + 3))}
SOCAT_PORT=${SOCAT_PORT:-$((BASE_PORT + 4))}
NEG_PORT=${NEG_PORT:-$((BASE_PORT + 5))}
EXTRA_PROXY_PORT=${EXTRA_PROXY_PORT:-}
EXTRA_PROXY_NAME=${EXTRA_PROXY_NAME:-extra}
EXTRA_PROXY_CMD=${EXTRA_PROXY_CMD:-}
WITH_SOCAT=${WITH_SOCAT:-1}
SOCAT_N_DIV=${SOCAT_N_DIV:-4}   # socat forks per connection: its runs use -n/SOCAT_N_DIV to save time
REPS=${REPS:-3}
IDLE_CONNS=${IDLE_CONNS:-2000}
KEY_ALG=${KEY_ALG:-rsa2048}
HAPROXY_NBTHREAD=${HAPROXY_NBTHREAD:-}
CASES=${CASES:-"a b c d"}
N_AB=${N_AB:-200000}
N_C=${N_C:-20000}
N_D=${N_D:-20000}
SNI=redis.test
PASSWORD=${PASSWORD:-bench-$(od -An -N8 -tx8 /dev/urandom | tr -d ' \n')}
RESULTS=${RESULTS:-$PWD/bench-results.txt}
KEEP_WORK=${KEEP_WORK:-0}
INSTALL=${INSTALL:-1}

declare -A CASE_ARGS=(
  [a]="-c 50 -n $N_AB -t get,set -P 1"
  [b]="-c 50 -n $N_AB -t get,set -P 16"
  [c]="-k 0 -c 20 -n $N_C -t ping_mbulk"
  [d]="-c 1 -P 1 -n $N_D -t get"
)

log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }

# ---------------------------------------------------------------- tools
need_pkgs=()
for pair in redis-server:redis-server redis-cli:redis-tools redis-benchmark:redis-tools \
            stunnel:stunnel4 haproxy:haproxy socat:socat openssl:openssl \
            python3:python3 ss:iproute2; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need_pkgs+=("${pair#*:}")
done
if ((${#need_pkgs[@]})); then
  [[ $INSTALL == 1 && $(id -u) == 0 ]] || die "missing: ${need_pkgs[*]} (apt-get install them, or run as root with INSTALL=1)"
  log "installing ${need_pkgs[*]} (services prevented from starting)"
  made_policy=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; made_policy=1
  fi
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
  ((made_policy)) && rm -f /usr/sbin/policy-rc.d
fi

# ---------------------------------------------------------------- processes
WORK=$(mktemp -d /tmp/redis-anchors.XXXXXX)
PIDS=()
declare -A PNAME=()

descendants() {  # all descendants of $1 (no /proc/PID/task/*/children on this kernel)
  ps -eo pid=,ppid= | awk -v root="$1" '
    { parent[$1] = $2 }
    END { for (p in parent) { q = p; while (q in parent && q != root && q > 1) q = parent[q]; if (q == root && p != root) print p } }'
}

stop_pid() {  # stop one process we started (and any children it forked), by PID
  local pid=$1 i kids
  kill -0 "$pid" 2>/dev/null || return 0
  kids=$(descendants "$pid" | tr '\n' ' ')
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  for k in $kids; do kill -TERM "$k" 2>/dev/null || true; done
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$? i
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}"; done
  if [[ $KEEP_WORK == 1 ]]; then log "work dir kept: $WORK"; else rm -rf "$WORK"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_bg() {  # start_bg NAME CMD... ; sets LAST_PID
  local name=$1; shift
  "$@" >"$WORK/$name.out" 2>&1 &
  LAST_PID=$!
  PIDS+=("$LAST_PID"); PNAME[$LAST_PID]=$name
}

port_busy() { [[ -n $(ss -Hltn "sport = :$1") ]]; }
wait_port() {
  local i
  for i in $(seq 100); do port_busy "$1" && return 0; kill -0 "$2" 2>/dev/null || break; sleep 0.1; done
  cat "$WORK/${PNAME[$2]:-x}.out" >&2 2>/dev/null || true
  die "nothing listening on 127.0.0.1:$1 (${PNAME[$2]:-pid $2})"
}
listener_pid() { ss -Hltnp "sport = :$1" | grep -o "pid=[0-9]*" | sed -n "1s/pid=//p"; }

CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() {  # utime+stime+cutime+cstime (reaped children count: socat forks)
  [[ -n ${1:-} && -r /proc/$1/stat ]] || { echo 0; return; }
  sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13 + $14 + $15}'
}

render() {  # render TEMPLATE OUT KEY=VALUE...
  local tmpl=$1 out=$2; shift 2
  local expr=() kv
  for kv in "$@"; do expr+=(-e "s|@${kv%%=*}@|${kv#*=}|g"); done
  sed "${expr[@]}" "$tmpl" >"$out"
  ! grep -q '@[A-Z_]*@' "$out" || die "unrendered placeholder in $out"
}

# ---------------------------------------------------------------- limits
soft=$(ulimit -Sn); hard=$(ulimit -Hn)
[[ $hard == unlimited ]] && hard=1048576
want=$((IDLE_CONNS * 2 + 1000))
((want > hard)) && want=$hard
((soft < want)) && ulimit -Sn "$want"
if ((IDLE_CONNS * 2 + 200 > $(ulimit -Sn))); then
  IDLE_CONNS=$((($(ulimit -Sn) - 200) / 2))
  log "fd limit $(ulimit -Sn): IDLE_CONNS lowered to $IDLE_CONNS"
fi

for p in "$TLS_PORT" "$PLAIN_PORT" "$STUNNEL_PORT" "$HAPROXY_PORT" "$NEG_PORT"; do
  port_busy "$p" && die "port $p already in use; set BASE_PORT"
done
((WITH_SOCAT)) && port_busy "$SOCAT_PORT" && die "port $SOCAT_PORT already in use; set BASE_PORT"
if [[ -n $EXTRA_PROXY_PORT && -n $EXTRA_PROXY_CMD ]]; then
  port_busy "$EXTRA_PROXY_PORT" && die "port $EXTRA_PROXY_PORT already in use"
fi

exec 3>&1
exec > >(tee "$RESULTS") 2>&1

echo "=== redis TLS-proxy anchors: $(date -u +%FT%TZ) on $(hostname)"
echo "=== machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p'), kernel $(uname -r), $(. /etc/os-release; echo "$PRETTY_NAME")"
echo "=== load at start: $(cut -d' ' -f1-3 /proc/loadavg); fd soft limit $(ulimit -Sn)"
echo "=== other busy processes at start (not ours):"
ps -eo pid,pcpu,comm --sort=-pcpu | sed -n '2,6p' | sed 's/^/    /'
echo "=== versions"
{
  redis-server --version
  redis-benchmark --version 2>/dev/null || true
  stunnel -version 2>&1 | grep -E '^stunnel|Threading|Compiled|Running'
  haproxy -v | sed -n 1p
  haproxy -vv 2>/dev/null | grep -E 'multi-threading|Running on OpenSSL'
  socat -V | grep -E 'socat version'
  openssl version
  python3 --version
  dpkg-query -W -f '${Package} ${Version}\n' redis-server redis-tools stunnel4 haproxy socat openssl libssl3 2>/dev/null
} | sed 's/^/    /'
echo "=== settings: REPS=$REPS IDLE_CONNS=$IDLE_CONNS KEY_ALG=$KEY_ALG CASES='$CASES' WITH_SOCAT=$WITH_SOCAT HAPROXY_NBTHREAD=${HAPROXY_NBTHREAD:-default}"
for c in $CASES; do echo "    case $c: redis-benchmark ${CASE_ARGS[$c]}"; done

# ---------------------------------------------------------------- PKI
PKI=${PKI_DIR:-$WORK/pki}
mkdir -p "$PKI"
keyopt() { case $KEY_ALG in rsa2048) echo "-newkey rsa:2048" ;; ec256) echo "-newkey ec -pkeyopt ec_paramgen_curve:P-256" ;; *) die "KEY_ALG=$KEY_ALG" ;; esac; }
make_ca() {  # make_ca DIR NAME
  openssl req -x509 $(keyopt) -nodes -keyout "$1/ca.key" -out "$1/ca.crt" -days 30 \
    -subj "/CN=$2" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}
if [[ ! -s $PKI/server.crt ]]; then
  log "making PKI ($KEY_ALG) in $PKI"
  make_ca "$PKI" "anchors test CA"
  openssl req $(keyopt) -nodes -keyout "$PKI/server.key" -out "$PKI/server.csr" -subj "/CN=$SNI" 2>/dev/null
  printf 'subjectAltName=DNS:%s,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' "$SNI" >"$PKI/server.ext"
  openssl x509 -req -in "$PKI/server.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -out "$PKI/server.crt" -days 30 -extfile "$PKI/server.ext" 2>/dev/null
fi
openssl verify -CAfile "$PKI/ca.crt" -verify_hostname "$SNI" "$PKI/server.crt" >/dev/null || die "server cert does not verify"
mkdir -p "$WORK/rogue" && make_ca "$WORK/rogue" "rogue CA"   # for negative checks
echo "=== server cert: $(openssl x509 -in "$PKI/server.crt" -noout -subject -ext subjectAltName 2>/dev/null | tr '\n' ' ' | tr -s ' ')"

# ---------------------------------------------------------------- servers
render "$CONF/redis-tls.conf.tmpl" "$WORK/redis-tls.conf" TLS_PORT="$TLS_PORT" PKI="$PKI" PASSWORD="$PASSWORD" WORK="$WORK"
render "$CONF/redis-plain.conf.tmpl" "$WORK/redis-plain.conf" PLAIN_PORT="$PLAIN_PORT" PASSWORD="$PASSWORD" WORK="$WORK"
start_bg redis-tls redis-server "$WORK/redis-tls.conf"; REDIS_TLS_PID=$LAST_PID
start_bg redis-plain redis-server "$WORK/redis-plain.conf"; REDIS_PLAIN_PID=$LAST_PID
wait_port "$TLS_PORT" "$REDIS_TLS_PID"
wait_port "$PLAIN_PORT" "$REDIS_PLAIN_PID"

# ---------------------------------------------------------------- proxies
start_stunnel() {  # start_stunnel NAME PORT HOST CAFILE
  render "$CONF/stunnel.conf.tmpl" "$WORK/$1.conf" NAME="$1" LISTEN_PORT="$2" TLS_PORT="$TLS_PORT" \
    UPSTREAM_HOST="$3" CA_FILE="$4" WORK="$WORK"
  start_bg "$1" stunnel "$WORK/$1.conf"; wait_port "$2" "$LAST_PID"
}
start_haproxy() {
  local nb=""; [[ -n $HAPROXY_NBTHREAD ]] && nb="    nbthread $HAPROXY_NBTHREAD"
  render "$CONF/haproxy.cfg.tmpl" "$WORK/$1.cfg" LISTEN_PORT="$2" TLS_PORT="$TLS_PORT" \
    UPSTREAM_HOST="$3" CA_FILE="$4" NBTHREAD_LINE="$nb"
  haproxy -c -q -f "$WORK/$1.cfg" || die "haproxy config check failed"
  start_bg "$1" haproxy -db -f "$WORK/$1.cfg"; wait_port "$2" "$LAST_PID"
}
start_socat() {
  render "$CONF/socat.args.tmpl" "$WORK/$1.args" LISTEN_PORT="$2" TLS_PORT="$TLS_PORT" \
    UPSTREAM_HOST="$3" CA_FILE="$4"
  local args; mapfile -t args < <(grep -v '^#' "$WORK/$1.args")
  start_bg "$1" socat "${args[@]}"; wait_port "$2" "$LAST_PID"
}

start_stunnel stunnel "$STUNNEL_PORT" "$SNI" "$PKI/ca.crt"; STUNNEL_PID=$LAST_PID
start_haproxy haproxy "$HAPROXY_PORT" "$SNI" "$PKI/ca.crt"; HAPROXY_PID=$LAST_PID
if ((WITH_SOCAT)); then start_socat socat "$SOCAT_PORT" "$SNI" "$PKI/ca.crt"; SOCAT_PID=$LAST_PID; fi

if [[ -n $EXTRA_PROXY_PORT ]]; then
  if [[ -n $EXTRA_PROXY_CMD ]]; then
    export BENCH_TLS_HOST=127.0.0.1 BENCH_TLS_PORT=$TLS_PORT BENCH_CA_FILE=$PKI/ca.crt \
      BENCH_SNI=$SNI BENCH_PASSWORD=$PASSWORD BENCH_WORK=$WORK EXTRA_PROXY_PORT
    start_bg "$EXTRA_PROXY_NAME" bash -c "$EXTRA_PROXY_CMD"
    wait_port "$EXTRA_PROXY_PORT" "$LAST_PID"
  fi
  port_busy "$EXTRA_PROXY_PORT" || die "nothing listening on EXTRA_PROXY_PORT=$EXTRA_PROXY_PORT"
  EXTRA_PID=$(listener_pid "$EXTRA_PROXY_PORT")
  [[ -n $EXTRA_PID ]] || log "WARNING: cannot see the PID on $EXTRA_PROXY_PORT: no CPU/RSS for it"
fi

# redsleeve addition: a second and a third extra proxy (say, an older
# build, or redsleeve with other settings), same way.
EXTRA2_PROXY_PORT=${EXTRA2_PROXY_PORT:-}
EXTRA2_PROXY_NAME=${EXTRA2_PROXY_NAME:-extra2}
EXTRA3_PROXY_PORT=${EXTRA3_PROXY_PORT:-}
EXTRA3_PROXY_NAME=${EXTRA3_PROXY_NAME:-extra3}
for x in 2 3; do
  pv=EXTRA${x}_PROXY_PORT nv=EXTRA${x}_PROXY_NAME cv=EXTRA${x}_PROXY_CMD
  [[ -n ${!pv} ]] || continue
  export BENCH_TLS_HOST=127.0.0.1 BENCH_TLS_PORT=$TLS_PORT BENCH_CA_FILE=$PKI/ca.crt \
    BENCH_SNI=$SNI BENCH_PASSWORD=$PASSWORD BENCH_WORK=$WORK "$pv"
  start_bg "${!nv}" bash -c "${!cv}"
  wait_port "${!pv}" "$LAST_PID"
  printf -v "EXTRA${x}_PID" '%s' "$(listener_pid "${!pv}")"
done

# target tables
TARGETS=(plain tls stunnel haproxy)
declare -A T_ARGS=(
  [plain]="-h 127.0.0.1 -p $PLAIN_PORT"
  [tls]="-h 127.0.0.1 -p $TLS_PORT --tls --cacert $PKI/ca.crt --sni $SNI"
  [stunnel]="-h 127.0.0.1 -p $STUNNEL_PORT"
  [haproxy]="-h 127.0.0.1 -p $HAPROXY_PORT"
)
declare -A T_PROXY=([plain]="" [tls]="" [stunnel]=$STUNNEL_PID [haproxy]=$HAPROXY_PID)
declare -A T_SERVER=([plain]=$REDIS_PLAIN_PID [tls]=$REDIS_TLS_PID [stunnel]=$REDIS_TLS_PID [haproxy]=$REDIS_TLS_PID)
if ((WITH_SOCAT)); then
  TARGETS+=(socat); T_ARGS[socat]="-h 127.0.0.1 -p $SOCAT_PORT"; T_PROXY[socat]=$SOCAT_PID; T_SERVER[socat]=$REDIS_TLS_PID
fi
if [[ -n $EXTRA_PROXY_PORT ]]; then
  X=$EXTRA_PROXY_NAME
  TARGETS+=("$X"); T_ARGS[$X]="-h 127.0.0.1 -p $EXTRA_PROXY_PORT"; T_PROXY[$X]=${EXTRA_PID:-}; T_SERVER[$X]=$REDIS_TLS_PID
fi
if [[ -n $EXTRA2_PROXY_PORT ]]; then
  X=$EXTRA2_PROXY_NAME
  TARGETS+=("$X"); T_ARGS[$X]="-h 127.0.0.1 -p $EXTRA2_PROXY_PORT"; T_PROXY[$X]=${EXTRA2_PID:-}; T_SERVER[$X]=$REDIS_TLS_PID
fi
if [[ -n $EXTRA3_PROXY_PORT ]]; then
  X=$EXTRA3_PROXY_NAME
  TARGETS+=("$X"); T_ARGS[$X]="-h 127.0.0.1 -p $EXTRA3_PROXY_PORT"; T_PROXY[$X]=${EXTRA3_PID:-}; T_SERVER[$X]=$REDIS_TLS_PID
fi
PROXIES=("${TARGETS[@]:2}")

echo "=== processes (all started by this script):"
for t in "${TARGETS[@]}"; do
  p=${T_PROXY[$t]:-}; [[ -n $p ]] || continue
  echo "    $t pid=$p threads=$(awk '/^Threads:/{print $2}' /proc/$p/status) rss=$(awk '/^VmRSS:/{print $2}' /proc/$p/status)KiB"
done
echo "    redis-tls pid=$REDIS_TLS_PID redis-plain pid=$REDIS_PLAIN_PID"

# ---------------------------------------------------------------- sanity
cli() { timeout 5 redis-cli --no-auth-warning "$@" 2>&1 || true; }
# redsleeve addition: a target named *-shared injects AUTH itself (its
# clients send none: a client's own AUTH would pin it, pool_mode = shared).
auth_args() { [[ $1 == *-shared ]] || printf -- '-a %s' "$PASSWORD"; }
auth_pw() { [[ $1 == *-shared ]] || printf '%s' "$PASSWORD"; }
# redsleeve addition: connections the TLS server accepted (handshakes it did).
server_conns() {
  cli -h 127.0.0.1 -p "$TLS_PORT" --tls --cacert "$PKI/ca.crt" --sni "$SNI" \
    -a "$PASSWORD" INFO stats | tr -d '\r' | sed -n 's/^total_connections_received://p'
}
echo "=== sanity (redis-cli PING with AUTH through every target; must be PONG)"
for t in "${TARGETS[@]}"; do
  # shellcheck disable=SC2086
  r=$(cli ${T_ARGS[$t]} $(auth_args "$t") PING)
  printf '    %-10s %s\n' "$t" "$r"
  [[ $r == PONG ]] || die "$t does not work"
done
r=$(cli -h 127.0.0.1 -p "$STUNNEL_PORT" PING)
echo "    no AUTH via stunnel -> ${r:0:60}"; [[ $r == NOAUTH* ]] || die "requirepass not enforced"
echo "=== negative checks (a proxy built from the same template but with a wrong hostname or an untrusted CA must NOT pass traffic)"
neg() {  # neg KIND HOST CAFILE
  "start_$1" "neg-$1-$2" "$NEG_PORT" "$2" "$3"; local pid=$LAST_PID
  local r; r=$(cli -h 127.0.0.1 -p "$NEG_PORT" -a "$PASSWORD" PING | tr '\n' ' ')
  stop_pid "$pid"
  printf '    %-8s host=%-11s ca=%-6s -> %s\n' "$1" "$2" "$(basename "$(dirname "$3")")" "${r:0:70}"
  [[ $r != PONG* ]] || die "$1 passed traffic with host=$2 ca=$3: verification is not effective"
}
for k in stunnel haproxy $( ((WITH_SOCAT)) && echo socat); do
  neg "$k" wrong.test "$PKI/ca.crt"
  neg "$k" "$SNI" "$WORK/rogue/ca.crt"
done
r=$(cli -h 127.0.0.1 -p "$TLS_PORT" --tls --cacert "$PKI/ca.crt" --sni wrong.test -a "$PASSWORD" PING | tr '\n' ' ')
echo "    (info) redis-cli --tls direct with --sni wrong.test -> ${r:0:60}"

# ---------------------------------------------------------------- idle memory
IDLE_JSON=$WORK/idle.jsonl; : >"$IDLE_JSON"
echo "=== idle connections: $IDLE_CONNS per proxy (AUTH+PING once each, then held idle)"
for t in "${PROXIES[@]}"; do
  [[ -n ${T_PROXY[$t]:-} ]] || { echo "    $t: no PID, skipped"; continue; }
  port=${T_ARGS[$t]##* }
  log "idle: $t"
  python3 "$HERE/idle_conns.py" --name "$t" --port "$port" --n "$IDLE_CONNS" --password "$(auth_pw "$t")" \
    --proxy-pid "${T_PROXY[$t]}" --server-pid "$REDIS_TLS_PID" | tee -a "$IDLE_JSON" | sed 's/^/    /' \
    || echo "    $t: idle test reported failures (see JSON)"
done

# ---------------------------------------------------------------- throughput / latency
ROWS=$WORK/rows.csv
# redis-benchmark stderr lines that carry no information here: the -a warning, and
# the -k 0 advice to set tcp_tw_reuse=1 (2, the default, already covers loopback).
BENCH_NOISE="Using a password|Keepalive disabled"
echo "=== net.ipv4.tcp_tw_reuse=$(cat /proc/sys/net/ipv4/tcp_tw_reuse) ip_local_port_range=$(tr '\t' - </proc/sys/net/ipv4/ip_local_port_range); socat runs use -n/$SOCAT_N_DIV"
echo "target,case,rep,test,rps,avg_ms,min_ms,p50_ms,p95_ms,p99_ms,max_ms,wall_s,requests,proxy_cpu_s,server_cpu_s" >"$ROWS"
echo "=== redis-benchmark runs (raw CSV rows; cpu in seconds from /proc/PID/stat)"
echo "    target,case,rep,test,rps,avg_ms,min_ms,p50_ms,p95_ms,p99_ms,max_ms,wall_s,requests,proxy_cpu_s,server_cpu_s"
t_start=$SECONDS
for rep in $(seq "$REPS"); do
  for c in $CASES; do
    for t in "${TARGETS[@]}"; do
      pp=${T_PROXY[$t]:-}; sp=${T_SERVER[$t]}
      cargs=${CASE_ARGS[$c]}
      n=$(sed -n 's/.*-n \([0-9]*\).*/\1/p' <<<"$cargs")
      if [[ $t == socat ]] && ((SOCAT_N_DIV > 1)); then
        cargs=${cargs/-n $n/-n $((n / SOCAT_N_DIV))}; n=$((n / SOCAT_N_DIV))
      fi
      k0=$(server_conns); p0=$(cpu_ticks "$pp"); s0=$(cpu_ticks "$sp"); w0=$(date +%s.%N)
      # shellcheck disable=SC2086
      redis-benchmark ${T_ARGS[$t]} $(auth_args "$t") $cargs --csv >"$WORK/bench.out" 2>"$WORK/bench.err" || true
      w1=$(date +%s.%N); sleep 0.3   # let forked proxies reap their children
      p1=$(cpu_ticks "$pp"); s1=$(cpu_ticks "$sp"); k1=$(server_conns)
      echo "$t,$c,$rep,$((k1 - k0))" >>"$WORK/conns.csv"
      wall=$(awk -v a="$w0" -v b="$w1" 'BEGIN{printf "%.2f", b-a}')
      pcpu=$([[ -n $pp ]] && awk -v a="$p0" -v b="$p1" -v h="$CLK_TCK" 'BEGIN{printf "%.2f", (b-a)/h}' || echo "")
      scpu=$(awk -v a="$s0" -v b="$s1" -v h="$CLK_TCK" 'BEGIN{printf "%.2f", (b-a)/h}')
      ntests=$(grep -vc '^"test"' "$WORK/bench.out" || true)
      if ((ntests == 0)); then
        echo "    $t,$c,$rep,ERROR,,,,,,,,$wall,,$pcpu,$scpu  $(grep -vE "$BENCH_NOISE" "$WORK/bench.err" | sed -n 1,3p | tr '\n' ' ')"
        continue
      fi
      grep -v '^"test"' "$WORK/bench.out" | tr -d '"' | while IFS=, read -r test rps avg min p50 p95 p99 max; do
        line="$t,$c,$rep,$test,$rps,$avg,$min,$p50,$p95,$p99,$max,$wall,$((n * ntests)),$pcpu,$scpu"
        echo "$line" >>"$ROWS"; echo "    $line"
      done
      grep -vE "$BENCH_NOISE" "$WORK/bench.err" | sed "s/^/    [$t $c stderr] /" | sed -n 1,5p || true
    done
  done
done
echo "=== benchmark phase: $((SECONDS - t_start)) s"
echo "=== proxy threads at end:"
for t in "${PROXIES[@]}"; do
  p=${T_PROXY[$t]:-}; [[ -n $p && -r /proc/$p/status ]] || continue
  echo "    $t threads=$(awk '/^Threads:/{print $2}' /proc/$p/status) rss=$(awk '/^VmRSS:/{print $2}' /proc/$p/status)KiB cpu_total=$(awk -v a="$(cpu_ticks "$p")" -v h="$CLK_TCK" 'BEGIN{printf "%.2f", a/h}')s"
done
echo "=== load at end: $(cut -d' ' -f1-3 /proc/loadavg); sockets in TIME-WAIT: $(ss -Htan state time-wait | wc -l)"
echo
python3 "$HERE/summarize.py" "$ROWS" "$IDLE_JSON"
echo "=== connections accepted by the TLS redis-server per run (median over reps; redsleeve addition)"
for c in $CASES; do
  for t in "${TARGETS[@]}"; do
    m=$(awk -F, -v t="$t" -v c="$c" '$1 == t && $2 == c {print $4}' "$WORK/conns.csv" | sort -n |
        awk '{v[NR] = $1} END {if (NR) print v[int((NR + 1) / 2)]}')
    printf '    case %s %-10s %s\n' "$c" "$t" "${m:-?}"
  done
done
echo "=== total wall time: $SECONDS s"
