#!/usr/bin/env bash
# 20-basic: a plaintext client through redsleeve to a TLS-only redis, AUTH
# injection (password, ACL user, wrong password), a client's own AUTH,
# address forms (IP literal, DNS name, unix socket), timeouts, max_clients,
# and the server's last reply reaching the client before the close.
. "$(dirname "$0")/lib.sh"

start_redis_tls main "user app on >apppass ~* &* +@all"
RP=$REDIS_PORT_main
printf '%s\n' "$REDIS_PASSWORD" >"$W/pw"
printf 'apppass\n' >"$W/app.pw"
printf 'wrongpass\n' >"$W/wrong.pw"

{
    printf '[global]\nlog_level = debug\n'
    svc_ini pw "$RP" "auth_password_file = $W/pw"
    svc_ini acl "$RP" \
        "auth_user = app" \
        "auth_password_file = $W/app.pw" \
        "tls_min_version = 1.3"
    svc_ini wrong "$RP" "auth_password_file = $W/wrong.pw"
    svc_ini noauth "$RP"
    # Address forms svc_ini does not write: IP SAN, DNS name, unix socket.
    cat <<INI
[iplit]
listen = 127.0.0.1:0
upstream = 127.0.0.1:$RP
ca_file = $PKI/ca.crt
auth_password_env = RS_TEST_PW
[byname]
listen = 127.0.0.1:0
upstream = localhost:$RP
ca_file = $PKI/ca.crt
auth_password_file = $W/pw
[sock]
listen = unix:$W/rs.sock
upstream = 127.0.0.1:$RP
verify_host = redis.test
ca_file = $PKI/ca.crt
auth_password_file = $W/pw
INI
    svc_ini idle "$RP" \
        "auth_password_file = $W/pw" \
        "client_idle_timeout = 300ms"
    svc_ini two "$RP" \
        "auth_password_file = $W/pw" \
        "max_clients = 2"
} >"$W/rs.ini"
export RS_TEST_PW=$REDIS_PASSWORD
start_redsleeve rs "$W/rs.ini"
LOG=$W/rs.log

check_eq() {  # check_eq NAME EXPECTED ACTUAL
    if [[ $2 == "$3" ]]; then ok "$1"; else fail "$1" "want [$2] got [$3]"; fi
}

check_eq "PING through the proxy" PONG "$(rcli "$RS_PORT_pw" PING)"
check_eq "SET through the proxy" OK "$(rcli "$RS_PORT_pw" SET k1 v1)"
check_eq "GET reads it back" v1 "$(rcli "$RS_PORT_pw" GET k1)"
check_eq "the server stored it (direct TLS read)" v1 "$(rcli_tls "$RP" GET k1)"
check_eq "injected password: default user" default \
    "$(rcli "$RS_PORT_pw" ACL WHOAMI)"
check_eq "injected ACL user" app "$(rcli "$RS_PORT_acl" ACL WHOAMI)"
check "tls_min_version = 1.3 negotiates TLS 1.3" \
    grep -q "tls=TLSv1.3" "$LOG"
check "... with AES-128-GCM, the first of the default ciphersuites" \
    grep -q "tls=TLSv1.3 cipher=TLS_AES_128_GCM_SHA256" "$LOG"
check "later links resume the TLS session (no full handshake)" \
    grep -q "resumed=1" "$LOG"

out=$(rcli "$RS_PORT_wrong" PING 2>&1 || true)
check "wrong injected password: client gets a clear error" \
    grep -q "ERR redsleeve: upstream wrong (127.0.0.1:$RP) AUTH rejected: WRONGPASS" <<<"$out"
rcli "$RS_PORT_wrong" PING >/dev/null 2>&1 || true
rcli "$RS_PORT_wrong" PING >/dev/null 2>&1 || true
# (Once per process: with workers, their pools share what was logged.)
check_eq "the cause is logged once, not per client (nor per worker)" 1 \
    "$(grep -c 'event=upstream-error service=wrong ' "$LOG")"
if grep -qF -- "wrongpass" "$LOG" || grep -qF -- "$REDIS_PASSWORD" "$LOG"; then
    fail "no password in the log" "found a password in $LOG"
else
    ok "no password in the log"
fi

out=$(rcli "$RS_PORT_noauth" PING 2>&1 || true)
check "without injection the server asks for AUTH" grep -q NOAUTH <<<"$out"
check_eq "a client's own AUTH still works" PONG \
    "$(redis-cli -h 127.0.0.1 -p "$RS_PORT_noauth" -a "$REDIS_PASSWORD" \
        --no-auth-warning PING)"
check_eq "a client's own AUTH as an ACL user" app \
    "$(redis-cli -h 127.0.0.1 -p "$RS_PORT_noauth" --user app --pass apppass \
        --no-auth-warning ACL WHOAMI)"

check_eq "IP literal upstream verified against the IP SAN" PONG \
    "$(rcli "$RS_PORT_iplit" PING)"
check_eq "DNS name upstream (evdns, hosts file)" PONG \
    "$(rcli "$RS_PORT_byname" PING)"
check_eq "unix socket listener" PONG "$(redis-cli -s "$W/rs.sock" PING)"

# Idle timeout: a silent client is closed, with the reason logged.
exec 5<>/dev/tcp/127.0.0.1/"$RS_PORT_idle"
if timeout 5 cat <&5 >/dev/null; then
    ok "an idle client is closed after client_idle_timeout"
else
    fail "an idle client is closed after client_idle_timeout" "still open"
fi
exec 5<&-
check "... logged as idle-timeout" \
    wait_until 5 grep -q "service=idle .*reason=idle-timeout" "$LOG"

# max_clients: a third client waits in the backlog until one leaves.
exec 6<>/dev/tcp/127.0.0.1/"$RS_PORT_two"
exec 7<>/dev/tcp/127.0.0.1/"$RS_PORT_two"
printf 'PING\r\n' >&6
read -r -t 5 r6 <&6 || true
check_eq "first of max_clients = 2 served" $'+PONG\r' "$r6"
redis-cli -h 127.0.0.1 -p "$RS_PORT_two" PING >"$W/third.out" 2>&1 6<&- 7<&- &
third=$!
sleep 0.5   # give the third client time to be (wrongly) served
if [[ -s $W/third.out ]]; then
    fail "a client over max_clients waits" "served: $(cat "$W/third.out")"
else
    ok "a client over max_clients waits"
fi
exec 6<&-
if wait_until 5 test -s "$W/third.out"; then
    check_eq "... and is served once a slot frees" PONG "$(cat "$W/third.out")"
else
    fail "... and is served once a slot frees" "no reply"
fi
wait "$third" 2>/dev/null || true
exec 7<&-

# The server's last reply reaches the client before the close.
exec 8<>/dev/tcp/127.0.0.1/"$RS_PORT_pw"
printf '*abc\r\n' >&8
out=$(timeout 5 cat <&8 || true)
exec 8<&-
check "server's last reply before its close reaches the client" \
    grep -q "Protocol error" <<<"$out"

# Half-close: a client that sends and shuts down its side still gets
# the replies to what it sent.
out=$(printf 'PING\r\nECHO hello\r\n' | timeout 5 redis-cli -h 127.0.0.1 \
    -p "$RS_PORT_pw" 2>&1 || true)
check_eq "commands piped then EOF: all replies arrive" \
    $'PONG\nhello' "$out"

check "every closed client got one close line with its reason" \
    grep -q "event=close s=[0-9a-f]* service=pw client=127.0.0.1:[0-9]* upstream=127.0.0.1:$RP rx=[0-9]* tx=[0-9]* duration=[0-9.]* reason=" "$LOG"

finish
