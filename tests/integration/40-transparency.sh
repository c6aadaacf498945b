#!/usr/bin/env bash
# 40-transparency: every kind of Redis conversation works through the
# proxy as it does directly: transactions, pub/sub, blocking pops, MONITOR,
# RESP3, a 64 MiB value, a 100k-command pipeline, 2000 clients at once.
. "$(dirname "$0")/lib.sh"

start_redis_tls main
RP=$REDIS_PORT_main
printf '%s\n' "$REDIS_PASSWORD" >"$W/pw"
{
    svc_ini main "$RP" \
        "auth_password_file = $W/pw" \
        "max_clients = 5000"
} >"$W/rs.ini"
start_redsleeve rs "$W/rs.ini"
P=$RS_PORT_main

out=$(printf 'MULTI\nSET tx 1\nINCR tx\nEXEC\n' | rcli "$P")
check "MULTI/EXEC" test "$out" = $'OK\nQUEUED\nQUEUED\nOK\n2'

out=$(printf 'SET w 1\nWATCH w\nMULTI\nINCR w\nEXEC\n' | rcli "$P")
check "WATCH + MULTI/EXEC" test "$out" = $'OK\nOK\nOK\nQUEUED\n2'

out=$(printf 'SELECT 5\nSET s5 x\nGET s5\n' | rcli "$P")
check "SELECT keeps the database for the connection" \
    test "$out" = $'OK\nOK\nx'

check "SUBSCRIBE/PUBLISH: 100 messages in order" \
    "$TOOLS/rclient" pubsub 127.0.0.1 "$P"

# BLPOP that times out, then one that a push through the proxy wakes.
out=$(rcli "$P" BLPOP empty:list 0.2)
check "BLPOP with a timeout returns nil" test -z "$out"
rcli "$P" BLPOP q:wake 10 >"$W/blpop.out" &
blpop=$!
blpop_waiting() { rcli_tls "$RP" CLIENT LIST | grep -q 'cmd=blpop'; }
wait_until 5 blpop_waiting || true
rcli "$P" LPUSH q:wake hello >/dev/null
wait "$blpop" || true
check "BLPOP woken by a push" test "$(cat "$W/blpop.out")" = $'q:wake\nhello'

rcli "$P" MONITOR >"$W/monitor.out" 2>&1 &
mon=$!
wait_until 5 test -s "$W/monitor.out"   # "OK" once MONITOR is on
rcli "$P" SET monitored:key 1 >/dev/null
check "MONITOR sees commands of other clients" \
    wait_until 5 grep -q monitored:key "$W/monitor.out"
kill "$mon" 2>/dev/null || true
wait "$mon" 2>/dev/null || true

check "HELLO 3 (RESP3) map replies" "$TOOLS/rclient" resp3 127.0.0.1 "$P"
check "64 MiB value written and read back byte-exact" \
    "$TOOLS/rclient" bigvalue 127.0.0.1 "$P" 64
check "100k pipelined commands, replies in order" \
    "$TOOLS/rclient" pipeline 127.0.0.1 "$P" 100000
check "2000 concurrent clients, each sees its own values" \
    "$TOOLS/rclient" concurrent 127.0.0.1 "$P" 2000 3

out=$(redis-benchmark -h 127.0.0.1 -p "$P" -q -n 20000 -c 50 -t set,get \
    2>&1 | tr '\r' '\n' | grep -c 'requests per second' || true)
check "redis-benchmark SET/GET through the proxy" test "$out" -eq 2

finish
