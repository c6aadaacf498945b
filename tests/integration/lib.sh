# lib.sh: sourced by tests/integration/NN-*.sh.
#
# Gives each test file a work dir ($W), a test PKI ($PKI), a password for
# the redis servers it starts ($REDIS_PASSWORD), helpers to start real
# redis-server and redsleeve processes on free loopback ports, pass/fail
# bookkeeping, and a cleanup that stops every process it started, by PID.
# Environment: REDSLEEVE (the binary), TOOLS (dir of tests/tools builds),
# KEEP=1 keeps $W.
set -eu -o pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${REDSLEEVE:?set REDSLEEVE to the redsleeve binary}"
: "${TOOLS:?set TOOLS to the directory of the test tools}"
REDSLEEVE=$(realpath "$REDSLEEVE")
TOOLS=$(realpath "$TOOLS")
W=$(mktemp -d /tmp/redsleeve-test.XXXXXX)
# Files the tests write (password files above all) are the owner's alone:
# redsleeve refuses a password file open to group or others.
umask 077
# Room for thousands of clients (and their proxy and server ends): root may
# raise the hard limit; anyone may raise the soft one up to it.
ulimit -Hn 65536 2>/dev/null || true
ulimit -Sn "$(ulimit -Hn)" 2>/dev/null || true
if [[ -z ${PKI:-} ]]; then
    PKI=$W/pki
    bash "$HERE/gen-certs.sh" "$PKI"
fi
REDIS_PASSWORD=${REDIS_PASSWORD:-pw-$(od -An -N8 -tx8 /dev/urandom | tr -d ' \n')}
export PKI REDIS_PASSWORD W
# The tests run as root (CI does); redsleeve refuses to stay root without
# [global] user unless told.  70-lifecycle checks that refusal without it.
export REDSLEEVE_ALLOW_ROOT=yes

BG_PIDS=()
declare -A BG_NAME=()

# ------------------------------------------------------------- bookkeeping

. "$HERE/report.sh"

# ------------------------------------------------------------- processes

start_bg() {  # start_bg NAME CMD...: output to $W/NAME.log; sets LAST_PID
    local name=$1
    shift
    "$@" >"$W/$name.log" 2>&1 &
    LAST_PID=$!
    BG_PIDS+=("$LAST_PID")
    BG_NAME[$LAST_PID]=$name
}

stop_pid() {  # TERM, up to 5 s, then KILL
    local pid=$1 i
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

stop_bg() {  # stop_bg NAME: stops the process started as NAME
    local pid
    for pid in "${BG_PIDS[@]}"; do
        [[ ${BG_NAME[$pid]} == "$1" ]] && stop_pid "$pid"
    done
    return 0
}

cleanup() {
    local rc=$? i f
    for ((i = ${#BG_PIDS[@]} - 1; i >= 0; i--)); do
        stop_pid "${BG_PIDS[i]}"
    done
    # A sanitizer report (leak at exit, bad access) in any log fails the file.
    for f in "$W"/*.log; do
        [[ -f $f ]] || continue
        if grep -Eq 'ERROR: (AddressSanitizer|LeakSanitizer)|WARNING: ThreadSanitizer|runtime error:' "$f"; then
            printf 'FAIL  sanitizer report in %s\n' "$(basename "$f")"
            grep -E -A12 'ERROR: (AddressSanitizer|LeakSanitizer)|WARNING: ThreadSanitizer|runtime error:' "$f" | head -40
            rc=1
        fi
    done
    if ((rc != 0 || FAILED > 0)); then
        for f in "$W"/*.log; do
            [[ -f $f ]] || continue
            printf -- '--- last lines of %s\n' "$f" >&2
            tail -n 40 "$f" >&2
        done
    fi
    if [[ ${KEEP:-0} == 1 ]]; then
        printf 'work dir kept: %s\n' "$W" >&2
    else
        rm -rf "$W"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_until() {  # wait_until SECONDS CMD...: polls every 0.05 s
    local deadline=$((SECONDS + $1))
    shift
    while ! "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || return 1
        sleep 0.05
    done
}

fd_count() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 | wc -l; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# ------------------------------------------------------------- redis

rcli_tls() {  # rcli_tls PORT ARGS...: straight to a TLS redis
    local port=$1
    shift
    redis-cli --tls --cacert "$PKI/ca.crt" --insecure --cert "$PKI/client.crt" \
        --key "$PKI/client.key" -h 127.0.0.1 \
        -p "$port" -a "$REDIS_PASSWORD" --no-auth-warning "$@"
}

rcli_plain() {  # rcli_plain PORT ARGS...: a plaintext redis
    local port=$1
    shift
    redis-cli -h 127.0.0.1 -p "$port" -a "$REDIS_PASSWORD" \
        --no-auth-warning "$@"
}

rcli() {  # rcli PORT ARGS...: through redsleeve, no password
    local port=$1
    shift
    redis-cli -h 127.0.0.1 -p "$port" "$@"
}

# start_redis NAME tls|plain [extra redis.conf lines...]
start_redis() {
    local name=$1 mode=$2 port conf line
    shift 2
    port=$("$TOOLS/freeport")
    conf=$W/$name.conf
    {
        printf 'bind 127.0.0.1\n'
        if [[ $mode == tls ]]; then
            printf 'port 0\ntls-port %s\n' "$port"
            printf 'tls-cert-file %s\ntls-key-file %s\n' \
                "$PKI/server.crt" "$PKI/server.key"
            printf 'tls-ca-cert-file %s\ntls-auth-clients no\n' "$PKI/ca.crt"
        else
            printf 'port %s\ntls-port 0\n' "$port"
        fi
        printf 'requirepass %s\n' "$REDIS_PASSWORD"
        printf 'save ""\nappendonly no\ndir %s\n' "$W"
        printf 'logfile %s\ndaemonize no\n' "$W/$name.log"
        for line in "$@"; do printf '%s\n' "$line"; done
    } >"$conf"
    start_bg "$name-stdout" redis-server "$conf"
    local pid=$LAST_PID probe=rcli_plain
    [[ $mode == tls ]] && probe=rcli_tls
    if ! wait_until 10 "$probe" "$port" PING; then
        fail "start redis $name" "no PING answer on port $port"
        tail -n 20 "$W/$name.log" >&2 || true
        exit 1
    fi
    printf -v "REDIS_PORT_$name" '%s' "$port"
    printf -v "REDIS_PID_$name" '%s' "$pid"
    LAST_PORT=$port
    LAST_PID=$pid
}

start_redis_tls() { start_redis "$1" tls "${@:2}"; }

# start_redis_pair_ab: TLS servers a and b (ports in RA, RB) whose key
# "who" says A or B, and the password file $W/pw for redsleeve: tests that
# move a service from one upstream to the other.
start_redis_pair_ab() {
    start_redis_tls a
    RA=$REDIS_PORT_a
    start_redis_tls b
    RB=$REDIS_PORT_b
    rcli_tls "$RA" SET who A >/dev/null
    rcli_tls "$RB" SET who B >/dev/null
    printf '%s\n' "$REDIS_PASSWORD" >"$W/pw"
}
start_redis_plain() { start_redis "$1" plain "${@:2}"; }

# ------------------------------------------------------------- redsleeve

# svc_ini NAME REDIS_PORT [LINE...]: a service section for a TLS redis on
# loopback, verified against the test CA as redis.test; LINEs are added
# as they are ("auth_password_file = ...", "pool_min_idle = 0").
svc_ini() {
    local name=$1 port=$2
    shift 2
    printf '[%s]\nlisten = 127.0.0.1:0\nupstream = 127.0.0.1:%s\n' \
        "$name" "$port"
    printf 'verify_host = redis.test\nca_file = %s\n' "$PKI/ca.crt"
    if (($#)); then printf '%s\n' "$@"; fi
}

# NWORKERS: event loops per redsleeve (make test-workers sets RS_WORKERS),
# for the tests that count per-process figures (links, descriptors).
NWORKERS=${RS_WORKERS:-1}

# start_redsleeve NAME CONFIG [ARGS...]: runs redsleeve, waits for every
# listener, sets RS_PORT_<service> (or RS_ADDR_<service> for unix) and RS_PID.
start_redsleeve() {
    local name=$1 conf=$2
    shift 2
    if [[ -n ${RS_WORKERS:-} ]] && ! grep -q '^workers' "$conf"; then
        # make test-workers: the same tests with N event loops.  Appended
        # when there is no [global] yet, so the line numbers a test expects
        # in errors stay put.
        if grep -q '^\[global\]' "$conf"; then
            sed -i "s/^\[global\]\$/[global]\nworkers = $RS_WORKERS/" "$conf"
        else
            printf '\n[global]\nworkers = %s\n' "$RS_WORKERS" >>"$conf"
        fi
    fi
    inject_pool_mode "$conf"
    RS_CONF=$conf
    run_redsleeve "$name" "$(grep -Eic '^[[:space:]]*(listen|accept)[[:space:]]*=' "$conf")" \
        -c "$conf" "$@"
}

# inject_pool_mode FILE: make test-shared runs every test with
# pool_mode = shared: the last line of every service section that does not
# set pool_mode itself (lines before it keep their numbers).
inject_pool_mode() {
    [[ -n ${RS_POOL_MODE:-} ]] || return 0
    awk -v pm="$RS_POOL_MODE" '
        function close_section() { if (svc && !has) print "pool_mode = " pm }
        /^[[:space:]]*\[/ { close_section()
                             svc = ($0 !~ /^[[:space:]]*\[global\]/); has = 0 }
        /^[[:space:]]*pool_mode[[:space:]]*=/ { has = 1 }
        { print }
        END { close_section() }' "$1" >"$1.pm"
    cat "$1.pm" >"$1"
    rm -f "$1.pm"
}

# start_redsleeve_flags NAME ARGS...: the same for sidecar mode (no file).
start_redsleeve_flags() {
    local name=$1
    shift
    run_redsleeve "$name" 1 "$@" ${RS_WORKERS:+--workers "$RS_WORKERS"} \
        ${RS_POOL_MODE:+--pool-mode "$RS_POOL_MODE"}
}

run_redsleeve() {  # run_redsleeve NAME LISTENERS ARGS...
    local name=$1 want=$2 have line svc addr
    shift 2
    start_bg "$name" "$REDSLEEVE" "$@"
    RS_PID=$LAST_PID
    local deadline=$((SECONDS + 10))
    while :; do
        have=$(grep -c 'event=listen ' "$W/$name.log" || true)
        ((have >= want)) && break
        if ! kill -0 "$RS_PID" 2>/dev/null; then
            fail "start redsleeve $name" "exited: $(tail -n 5 "$W/$name.log")"
            exit 1
        fi
        if ((SECONDS > deadline)); then
            fail "start redsleeve $name" "no listener after 10 s"
            exit 1
        fi
        sleep 0.05
    done
    while read -r line; do
        svc=$(sed -n 's/.* service=\([^ ]*\) .*/\1/p' <<<"$line")
        addr=$(sed -n 's/.* addr=\([^ ]*\) .*/\1/p' <<<"$line")
        svc=${svc//[^A-Za-z0-9_]/_}
        printf -v "RS_ADDR_$svc" '%s' "$addr"
        printf -v "RS_PORT_$svc" '%s' "${addr##*:}"
    done < <(grep 'event=listen ' "$W/$name.log")
}

expect_log() { grep -Eq -- "$2" "$1"; }
gone() { ! kill -0 "$RS_PID" 2>/dev/null; }   # the last redsleeve has exited

# ------------------------------------------------------------- reloads

metric() {  # metric NAME_WITH_LABELS: its value from /metrics on port $A
    local body
    exec 3<>/dev/tcp/127.0.0.1/"$A"
    printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3
    body=$(cat <&3)
    exec 3<&-
    awk -v k="$1" '$1 == k {print $2}' <<<"$body"
}
reloads() { grep -c "$1" "$LOG" || true; }   # lines matching $1 in $LOG
hup_and_wait() {  # hup_and_wait PATTERN: SIGHUP, wait for PATTERN once more
    local before
    before=$(reloads "$1")
    # a config the test rewrote keeps the mode it started with
    [[ -z ${RS_CONF:-} || ! -f ${RS_CONF:-} ]] || inject_pool_mode "$RS_CONF"
    kill -HUP "$RS_PID"
    more() { (($(reloads "$1") >= before + 1)); }   # one per reload, any workers
    wait_until 15 more "$1"
}

# ------------------------------------------------------------- IAM

# iam_gate ISSUED INI: starts the TLS fake that checks every IAM token
# (forge-reset.py iam: user app, cache c1, eu-west-1, the credentials
# listed in ISSUED by fake-aws.py) and writes INI, a service [cache] in
# front of it with an admin port.  Sets FL, the fake's log.
iam_gate() {
    export FAKE_RS=$REDSLEEVE FAKE_IAM_CACHE=c1 FAKE_IAM_REGION=eu-west-1 FAKE_ISSUED=$1
    start_bg fakeiam python3 "$HERE/forge-reset.py" iam \
        "$PKI/server.crt" "$PKI/server.key" "$W/iam.port"
    wait_until 10 test -s "$W/iam.port"
    FL=$W/iam.port.log
    { printf '[global]\nadmin_listen = 127.0.0.1:0\n'
      printf '[cache]\nlisten = 127.0.0.1:0\nupstream = 127.0.0.1:%s\n' "$(cat "$W/iam.port")"
      printf 'verify_host = redis.test\nca_file = %s\npool_min_idle = 1\n' "$PKI/ca.crt"
      printf 'iam_user_id = app\niam_cache_name = c1\n'; } >"$2"
}

# cli_token KEY: `redsleeve --iam-token` in the test's environment fetches
# the credentials as the daemon does (STS, container, instance metadata)
# and prints a token signed with a fetched key (KEY followed by digits).
cli_token() {
    local out rc
    out=$("$REDSLEEVE" --iam-token --iam-user-id app --iam-cache-name c1 \
        --iam-region eu-west-1 2>"$W/cli-token.err") && rc=0 || rc=$?
    check "--iam-token fetches as the daemon does: a token signed with $1..." \
        bash -c "test $rc = 0 && grep -q 'X-Amz-Credential=$1[0-9]*%2F' <<<'$out'"
    check "... and says nothing secret on stderr" \
        bash -c "! grep -q -e NeverLogged -e X-Amz '$W/cli-token.err'"
}

# ------------------------------------------------------------- cluster

# start_cluster PRIMARIES REPLICAS [redis.conf lines...]: a TLS-only Redis
# Cluster on loopback (port 0, tls-port, tls-cluster yes, tls-replication
# yes): nodes n1.. (REDIS_PORT_nI), the primaries first, each replica
# following primary ((i - 1) mod PRIMARIES) + 1, the slots split evenly.
# NODE_EXTRA[i], when set, is one more line for node i.  Joined by hand
# (CLUSTER MEET with the bus port, which is not tls-port + 10000 here).
# Returns once every node says cluster_state:ok and every replica shows
# in CLUSTER SLOTS (synced).
cport() { local v=REDIS_PORT_n$1; echo "${!v}"; }
# cluster_node I [LINE...]: node nI of a TLS-only cluster, not yet met
# (its bus port in BUS_nI).
cluster_node() {
    local i=$1 bus
    shift
    bus=$("$TOOLS/freeport")
    printf -v "BUS_n$i" '%s' "$bus"
    start_redis_tls "n$i" 'cluster-enabled yes' \
        "cluster-config-file $W/nodes-$i.conf" "cluster-port $bus" \
        'tls-cluster yes' 'tls-replication yes' \
        "tls-client-cert-file $PKI/client.crt" \
        "tls-client-key-file $PKI/client.key" \
        "masterauth $REDIS_PASSWORD" 'cluster-node-timeout 2000' \
        "$@" ${NODE_EXTRA[$i]:+"${NODE_EXTRA[$i]}"}
}
# cluster_meet I: node 1 meets node nI.
cluster_meet() {
    local bus=BUS_n$1
    rcli_tls "$(cport 1)" CLUSTER MEET 127.0.0.1 "$(cport "$1")" "${!bus}" >/dev/null
}
# cluster_service_ini: [cache], mode = cluster in front of node 1 with 20
# cluster_ports and the password in $W/pw, and an admin port.
cluster_service_ini() {
    local base
    base=$("$TOOLS/freeport")
    printf '%s\n' "$REDIS_PASSWORD" >"$W/pw"
    printf '[global]\nadmin_listen = 127.0.0.1:0\n'
    printf '[cache]\nmode = cluster\nlisten = 127.0.0.1:0\n'
    printf 'upstream = 127.0.0.1:%s\ncluster_ports = %s-%s\n' "$(cport 1)" "$base" "$((base + 19))"
    printf 'ca_file = %s\nauth_password_file = %s\n' "$PKI/ca.crt" "$W/pw"
}
start_cluster() {
    local np=$1 nr=$2 n i id lo hi
    shift 2
    n=$((np * (1 + nr)))
    CLUSTER_NODES=$n
    for i in $(seq "$n"); do
        cluster_node "$i" "$@"
    done
    for i in $(seq 2 "$n"); do
        cluster_meet "$i"
    done
    for i in $(seq "$np"); do
        lo=$(((i - 1) * 16384 / np)) hi=$((i * 16384 / np - 1))
        rcli_tls "$(cport "$i")" CLUSTER ADDSLOTSRANGE "$lo" "$hi" >/dev/null
    done
    for i in $(seq $((np + 1)) "$n"); do
        id=$(rcli_tls "$(cport $(((i - 1) % np + 1)))" CLUSTER MYID)
        knows() { rcli_tls "$(cport "$1")" CLUSTER NODES | grep -q "^$2 "; }
        wait_until 10 knows "$i" "$id"
        rcli_tls "$(cport "$i")" CLUSTER REPLICATE "$id" >/dev/null
    done
    cluster_ok() {
        local k
        for k in $(seq "$CLUSTER_NODES"); do
            rcli_tls "$(cport "$k")" CLUSTER INFO | grep -q 'cluster_state:ok' || return 1
        done
        # replicas show in CLUSTER SLOTS once they have synced
        test "$(rcli_tls "$(cport 1)" CLUSTER SLOTS | grep -c '^[0-9][0-9]*$')" -ge $((np * 2 + n))
    }
    check "a TLS-only cluster of $np primaries and $((np * nr)) replicas is up" \
        wait_until 40 cluster_ok
}

# reauth_gate LIFETIME POOL_MIN_IDLE: the fake TLS server of the re-AUTH
# tests (forge-reset.py iam: it checks every token, ends a connection
# LIFETIME seconds after its last good AUTH) with static AWS keys in the
# environment, and $W/r.ini, a service [cache] in front of it that logs in
# again every 2 s.  Sets FL, the fake's log.
reauth_gate() {
    unset AWS_PROFILE AWS_REGION AWS_DEFAULT_REGION
    export AWS_SHARED_CREDENTIALS_FILE=$W/none AWS_CONFIG_FILE=$W/none
    export AWS_ACCESS_KEY_ID=AKIDREAUTH AWS_SECRET_ACCESS_KEY=reauthSecretNeverLogged
    export AWS_SESSION_TOKEN=reauthSessionTokenNeverLogged AWS_EC2_METADATA_DISABLED=true
    export FAKE_RS=$REDSLEEVE FAKE_IAM_CACHE=c1 FAKE_IAM_REGION=eu-west-1 FAKE_IAM_LIFETIME=$1
    start_bg fakeiam python3 "$HERE/forge-reset.py" iam \
        "$PKI/server.crt" "$PKI/server.key" "$W/iam.port"
    wait_until 10 test -s "$W/iam.port"
    FL=$W/iam.port.log
    { printf '[global]\nadmin_listen = 127.0.0.1:0\nlog_level = debug\n'
      printf '[cache]\nlisten = 127.0.0.1:0\nupstream = 127.0.0.1:%s\n' "$(cat "$W/iam.port")"
      printf 'verify_host = redis.test\nca_file = %s\npool_min_idle = %s\n' "$PKI/ca.crt" "$2"
      printf 'iam_user_id = app\niam_cache_name = c1\niam_region = eu-west-1\n'
      printf 'iam_reauth_interval = 2s\nlink_max_lifetime = 0\nlink_idle_check = 0\n'; } >"$W/r.ini"
}
