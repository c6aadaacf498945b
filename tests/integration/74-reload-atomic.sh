#!/usr/bin/env bash
# 74-reload-atomic: with workers = 2 a reload commits in every worker or
# in none.  The config is read once (the control loop parses it and every
# worker builds from that one copy), and a failure in one worker's part
# (here: worker 1 finds no descriptor for its new service, because the
# soft limit leaves exactly one, which worker 0's listener took) makes
# every worker
# drop what it prepared: the new port is not served by anyone, the old
# service keeps serving through both workers, the failure is counted
# once.  With the limit back, the same reload applies everywhere.
. "$(dirname "$0")/lib.sh"

start_redis_tls main
RP=$REDIS_PORT_main
# The password from the environment: parsing then opens only the config
# file, so the one free descriptor is left for the workers.
export RS74_PW=$REDIS_PASSWORD
NP=$("$TOOLS/freeport")
conf() {  # conf [EXTRA SECTION LINES...]
    printf '[global]\nadmin_listen = 127.0.0.1:0\nworkers = 2\n'
    svc_ini main "$RP" "auth_password_env = RS74_PW" 'pool_min_idle = 0' \
        'pool_max_idle = 0'
    if (($#)); then printf '%s\n' "$@"; fi
}
conf >"$W/rs.ini"
start_redsleeve rs "$W/rs.ini"
P=$RS_PORT_main
A=$RS_PORT_admin
LOG=$W/rs.log
check "two workers start" grep -q 'event=workers count=2' "$LOG"
ready() { grep -q 'event=ready .* workers=2' "$LOG"; }
check "... and get ready" wait_until 10 ready

extra=$(printf '[extra]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:%s\nverify_host = redis.test\nca_file = %s\nauth_password_env = RS74_PW\npool_min_idle = 0\npool_max_idle = 0' \
    "$NP" "$RP" "$PKI/ca.crt")
conf "$extra" >"$W/rs.ini"
# Exactly one descriptor left: worker 0's new listener takes it.  The
# limit bounds descriptor numbers, not their count (a descriptor inherited
# high up, as from the test harness, leaves room below it), so the limit
# is the second free number.  The set must be still first (the workers'
# first links, made to learn that the upstream is up, close a moment
# after start).
fds() { ls "/proc/$RS_PID/fd" | sort -n | tr '\n' ' '; }
stable_fds() {
    local was
    was=$(fds)
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        sleep 0.1
        [[ $(fds) == "$was" ]] || return 1
    done
}
wait_until 15 stable_fds
used=" $(fds)"
low=0 free=0
while :; do
    if [[ $used != *" $low "* ]]; then
        free=$((free + 1))
        ((free == 2)) && break
    fi
    low=$((low + 1))
done
prlimit --pid "$RS_PID" --nofile="$low":"$(prlimit --pid "$RS_PID" --nofile -o HARD --noheadings)"
check "a reload that fails in one worker is refused" \
    hup_and_wait 'event=reload result=failed action='
check "... it failed in worker 1, after worker 0 had prepared" \
    grep -q 'event=reload phase=prepare worker=1 result=failed' "$LOG"
check "... no worker serves the new port" \
    bash -c "! timeout 3 redis-cli -h 127.0.0.1 -p $NP PING >/dev/null 2>&1"
prlimit --pid "$RS_PID" --nofile=65536:"$(prlimit --pid "$RS_PID" --nofile -o HARD --noheadings)" 2>/dev/null ||
    prlimit --pid "$RS_PID" --nofile=1024:1024
served=0
for _ in $(seq 1 20); do
    [[ $(rcli "$P" PING) == PONG ]] && served=$((served + 1))
done
check "the running service still serves ($served of 20)" test "$served" = 20
parsed=$(metric 'redsleeve_worker_clients_total{worker="0"}'):$(metric 'redsleeve_worker_clients_total{worker="1"}')
check "... through both workers ($parsed)" \
    awk -F: '{exit !($1 > 0 && $2 > 0)}' <<<"$parsed"
check "the failure is counted once" \
    test "$(metric 'redsleeve_config_reloads_total{result="failure"}')" = 1
check "... and none succeeded" \
    test "$(metric 'redsleeve_config_reloads_total{result="success"}')" = 0

check "with descriptors back, the same reload applies" \
    hup_and_wait 'event=reload result=ok services=2 unchanged=1 new=1'
check "... the new port serves" test "$(rcli "$NP" PING)" = PONG
check "... counted once" \
    test "$(metric 'redsleeve_config_reloads_total{result="success"}')" = 1

finish
