#!/usr/bin/env bash
# 73-reload-probe: a reload cannot lock every client out.  A new or
# changed service proves itself with one real link (connected, verified,
# AUTH +OK, role) before it replaces the running one: a server that
# answers and rejects the new settings (wrong password, a CA that does not
# sign it, a wrong verify_host) fails the reload like a config error
# (result=failed naming file:line:key, the old config keeps serving,
# last_reload_successful 0); a server that cannot be reached proves
# nothing, so that reload is applied with a warning.
. "$(dirname "$0")/lib.sh"

start_redis_pair_ab
P=$("$TOOLS/freeport")
printf 'not-the-password\n' >"$W/badpw"

conf() {  # conf UPSTREAM_PORT [KEY=VALUE overrides as sed expressions...]
    local up=$1
    shift
    {
        printf '[global]\nadmin_listen = 127.0.0.1:0\n\n'
        printf '[main]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:%s\n' \
            "$P" "$up"
        printf 'verify_host = redis.test\nca_file = %s\n' "$PKI/ca.crt"
        printf 'auth_password_file = %s\npool_min_idle = 1\n' "$W/pw"
    } | sed "$@"
}
conf "$RA" -e '' >"$W/rs.ini"
start_redsleeve rs "$W/rs.ini"
A=$RS_PORT_admin
LOG=$W/rs.log

served_by() {  # served_by X: five new clients in a row all read X
    local i
    for i in 1 2 3 4 5; do
        [[ $(rcli "$P" GET who 2>&1) == "$1" ]] || return 1
    done
}
check "before any reload, clients reach A" served_by A

# 1. A password the server rejects.
conf "$RA" -e "s|^auth_password_file = .*|auth_password_file = $W/badpw|" \
    >"$W/rs.ini"
check "reload with a wrong password fails" \
    hup_and_wait 'event=reload result=failed action='
check "... naming the auth_password_file line and WRONGPASS" \
    grep -q "error=\"$W/rs.ini:[0-9]*: auth_password_file: the upstream rejected the new settings: AUTH rejected: WRONGPASS" "$LOG"
check "... and never logs result=ok" bash -c "! grep -q 'event=reload result=ok' '$LOG'"
check "... clients are still served by the running config" served_by A
check "... last_reload_successful is 0" \
    test "$(metric redsleeve_config_last_reload_successful)" = 0

# 2. A CA that does not sign the server.
conf "$RA" -e "s|^ca_file = .*|ca_file = $PKI/untrusted-ca.crt|" >"$W/rs.ini"
check "reload with the wrong CA fails" \
    hup_and_wait 'event=reload result=failed action='
check "... naming the ca_file line and the certificate" \
    grep -q "error=\"$W/rs.ini:[0-9]*: ca_file: the upstream rejected the new settings: certificate rejected: " "$LOG"
check "... clients are still served" served_by A

# 3. A verify_host the certificate does not carry.
conf "$RA" -e 's|^verify_host = .*|verify_host = other.test|' >"$W/rs.ini"
check "reload with a wrong verify_host fails" \
    hup_and_wait 'event=reload result=failed action='
check "... naming the verify_host line and the mismatch" \
    grep -q "error=\"$W/rs.ini:[0-9]*: verify_host: the upstream rejected the new settings: certificate rejected: hostname mismatch" "$LOG"
check "... clients are still served" served_by A
check "three failures counted" \
    test "$(metric 'redsleeve_config_reloads_total{result="failure"}')" = 3

# 4. A correct change: applied.
conf "$RB" -e '' >"$W/rs.ini"
check "reload to B with good settings is applied" \
    hup_and_wait 'event=reload result=ok'
check "... after its probe link succeeded" \
    grep -q 'event=reload-probe service=main result=ok' "$LOG"
check "... new clients reach B" served_by B
check "... last_reload_successful is 1" \
    test "$(metric redsleeve_config_last_reload_successful)" = 1

# 5. An upstream nobody listens on: no proof either way, applied with a
# warning (an operator may change settings during an outage).
DEAD=$("$TOOLS/freeport")
conf "$DEAD" -e '' >"$W/rs.ini"
check "reload to an unreachable upstream is applied" \
    hup_and_wait 'event=reload result=ok'
check "... with a warning that it could not be tried" \
    grep -q 'event=reload service=main warning="the new settings could not be tried: unreachable: connect to' "$LOG"
out=$(rcli "$P" GET who 2>&1 || true)
check "... and clients are told the upstream is unreachable" \
    grep -q "ERR redsleeve: upstream main (127.0.0.1:$DEAD) unreachable: connect to" <<<"$out"
check "the proxy is still running" kill -0 "$RS_PID"

finish
