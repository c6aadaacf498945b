#!/usr/bin/env bash
# 15-sidecar: no config file: one service from flags and REDSLEEVE_*
# variables (a flag wins), errors naming the flag or variable, and a real
# proxy started that way.
. "$(dirname "$0")/lib.sh"

start_redis_tls main
RP=$REDIS_PORT_main
printf '%s\n' "$REDIS_PASSWORD" >"$W/pw"

out=$("$REDSLEEVE" --listen 127.0.0.1:0 --upstream "127.0.0.1:$RP" \
    --verify-host redis.test --ca-file "$PKI/ca.crt" -t 2>&1) && rc=0 || rc=$?
check "flags alone make a valid config" test "$rc" -eq 0
check "... one service, named sidecar" grep -q '^\[sidecar\] listen 127.0.0.1:0' <<<"$out"

out=$(REDSLEEVE_LISTEN=127.0.0.1:0 REDSLEEVE_UPSTREAM="127.0.0.1:$RP" \
    REDSLEEVE_VERIFY_HOST=redis.test REDSLEEVE_CA_FILE="$PKI/ca.crt" \
    "$REDSLEEVE" -t 2>&1) && rc=0 || rc=$?
check "the environment alone makes a valid config" test "$rc" -eq 0

out=$(REDSLEEVE_VERIFY=bogus "$REDSLEEVE" --listen 1 --upstream h:1 -t 2>&1) \
    && rc=0 || rc=$?
check "a bad variable is named in the error" \
    grep -q '^REDSLEEVE_VERIFY: verify: expected full, chain or none' <<<"$out"
out=$("$REDSLEEVE" --listen 1 --upstream h:0 -t 2>&1) && rc=0 || rc=$?
check "a bad flag is named in the error" grep -q '^--upstream: upstream:' <<<"$out"
check "... and the exit code is 1" test "$rc" -eq 1
out=$(REDSLEEVE_UPSTREAM=h:0 "$REDSLEEVE" --listen 1 --upstream "127.0.0.1:$RP" \
    --verify-host redis.test --ca-file "$PKI/ca.crt" -t 2>&1) && rc=0 || rc=$?
check "a flag wins over its variable" test "$rc" -eq 0
"$REDSLEEVE" -c "$W/none.ini" --listen 1 >/dev/null 2>&1 && rc=0 || rc=$?
check "-c and settings flags together are a usage error" test "$rc" -eq 2

REDSLEEVE_AUTH_PASSWORD_FILE=$W/pw start_redsleeve_flags rs \
    --listen 127.0.0.1:0 --upstream "127.0.0.1:$RP" --verify-host redis.test \
    --ca-file "$PKI/ca.crt"
check "a sidecar started from flags relays with AUTH injected" \
    test "$(rcli "$RS_PORT_sidecar" PING)" = PONG

# Reload in sidecar mode: the flags and variables again, files re-read.
hup_until() {  # hup_until PATTERN: SIGHUP, then wait for PATTERN's next line
    local n
    n=$(grep -c "$1" "$W/rs.log" || true)
    kill -HUP "$RS_PID"
    more() { (($(grep -c "$1" "$W/rs.log" || true) > n)); }
    wait_until 5 more "$1"
}
check "SIGHUP in sidecar mode: same flags, same files, service unchanged" \
    hup_until 'event=reload result=ok services=1 unchanged=1 new=0'
rcli_tls "$RP" ACL SETUSER default ">rotated-$REDIS_PASSWORD" >/dev/null
printf 'rotated-%s\n' "$REDIS_PASSWORD" >"$W/pw"
check "a rotated password file is picked up on SIGHUP" \
    hup_until 'event=reload result=ok services=1 unchanged=0 new=1'
check "... and the sidecar still relays" \
    test "$(rcli "$RS_PORT_sidecar" PING)" = PONG
printf '%s\n' "$REDIS_PASSWORD" >"$W/pw"

# user / group: privileges dropped after binding and reading secrets.
if [[ $(id -u) == 0 ]] && getent passwd nobody >/dev/null; then
    grp=$(id -gn nobody)
    REDSLEEVE_AUTH_PASSWORD_FILE=$W/pw start_redsleeve_flags rsnobody \
        --listen 127.0.0.1:0 --upstream "127.0.0.1:$RP" \
        --verify-host redis.test --ca-file "$PKI/ca.crt" --user nobody \
        --group "$grp" --pool-min-idle 0
    uid=$(awk '/^Uid:/ {print $2}' "/proc/$RS_PID/status")
    check "user = nobody: the proxy runs as nobody" \
        test "$uid" = "$(id -u nobody)"
    check "... and still relays (secrets were read before)" \
        test "$(rcli "$RS_PORT_sidecar" PING)" = PONG
    out=$("$REDSLEEVE" --listen 1 --upstream h:1 --user no-such-user-x \
        2>&1) && rc=0 || rc=$?
    check "an unknown user stops start-up" test "$rc" -eq 1
fi

# A flag given twice is refused, as a key set twice in a file is (60 of
# them once wrote past the flag table).
many=()
for i in $(seq 1 60); do many+=(--listen "127.0.0.1:$((20000 + i))"); done
out=$("$REDSLEEVE" "${many[@]}" --upstream 127.0.0.1:1 2>&1) && rc=0 || rc=$?
check "a repeated flag is refused (exit 2), not written past the table" \
    test "$rc" = 2
check "... and named" grep -q -- '--listen given twice' <<<"$out"

finish
