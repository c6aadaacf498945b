#!/usr/bin/env bash
# 79-reload-once: a reload reads each secret once, however many workers
# run: the control loop parses the config (and reads the password file)
# once and every worker builds from that copy.  Counted with inotify on
# the password file, in file mode and in sidecar mode (flags and
# variables), both with two workers.
. "$(dirname "$0")/lib.sh"

start_redis_tls main
RP=$REDIS_PORT_main
printf '%s\n' "$REDIS_PASSWORD" >"$W/pw"
chmod 600 "$W/pw"

watch_opens() {  # watch_opens: count opens of $W/pw into $W/opens
    rm -f "$W/opens"
    start_bg opens python3 "$(dirname "$0")/watch-opens.py" "$W/pw" \
        "$W/opens"
    wait_until 5 test -s "$W/opens"
}
opens() { cat "$W/opens"; }
# opened_by_reload PATTERN: SIGHUP, wait for PATTERN, print the opens.
opened_by_reload() {
    local before
    before=$(opens)
    hup_and_wait "$1" || return 1
    sleep 0.3                       # late opens would be counted too
    echo $(($(opens) - before))
}

# File mode, two workers, the password rotated between reloads.
{
    printf '[global]\nadmin_listen = 127.0.0.1:0\nworkers = 2\n'
    svc_ini main "$RP" "auth_password_file = $W/pw"
} >"$W/rs.ini"
start_redsleeve rs "$W/rs.ini"
LOG=$W/rs.log
check "two workers start" grep -q 'event=workers count=2' "$LOG"
watch_opens
n=$(opened_by_reload 'event=reload result=ok services=1 unchanged=1')
check "a reload with nothing changed opens the password file once ($n)" \
    test "$n" = 1
rcli_tls "$RP" ACL SETUSER default ">rotated-$REDIS_PASSWORD" >/dev/null
printf 'rotated-%s\n' "$REDIS_PASSWORD" >"$W/pw"
n=$(opened_by_reload 'event=reload result=ok services=1 unchanged=0 new=1')
check "a rotated password is read once for both workers ($n)" \
    test "$n" = 1
check "... and both workers use it" \
    bash -c "for i in \$(seq 1 12); do
        [[ \$(redis-cli -h 127.0.0.1 -p $RS_PORT_main PING) == PONG ]] ||
            exit 1; done"
stop_bg opens
stop_pid "$RS_PID"
rcli_tls "$RP" ACL SETUSER default ">$REDIS_PASSWORD" >/dev/null
printf '%s\n' "$REDIS_PASSWORD" >"$W/pw"

# Sidecar mode: flags and variables, two workers.
REDSLEEVE_AUTH_PASSWORD_FILE=$W/pw run_redsleeve side 1 --workers 2 \
    --listen 127.0.0.1:0 --upstream "127.0.0.1:$RP" --verify-host redis.test \
    --ca-file "$PKI/ca.crt" --admin-listen 127.0.0.1:0
LOG=$W/side.log
watch_opens
n=$(opened_by_reload 'event=reload result=ok services=1 unchanged=1')
check "sidecar mode: a reload opens the password file once ($n)" \
    test "$n" = 1
check "... and relays through both workers" \
    bash -c "for i in \$(seq 1 12); do
        [[ \$(redis-cli -h 127.0.0.1 -p $RS_PORT_sidecar PING) == PONG ]] ||
            exit 1; done"

finish
