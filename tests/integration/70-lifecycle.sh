#!/usr/bin/env bash
# 70-lifecycle: systemd notifications (READY, STATUS, WATCHDOG, STOPPING)
# on a test NOTIFY_SOCKET, and the drain on SIGTERM: no new clients, live
# ones finish (a BLPOP gets its value), then exit 0; shutdown_timeout
# closes what remains; busy_poll; refusing root.
. "$(dirname "$0")/lib.sh"

start_redis_tls main
RP=$REDIS_PORT_main
printf '%s\n' "$REDIS_PASSWORD" >"$W/pw"
start_bg notify "$TOOLS/notifysock" "$W/notify.sock"
wait_until 5 test -S "$W/notify.sock"

{
    printf '%s\n' '[global]' 'shutdown_timeout = 20s'
    svc_ini main "$RP" \
        "auth_password_file = $W/pw"
} >"$W/rs.ini"
NOTIFY_SOCKET=$W/notify.sock WATCHDOG_USEC=400000 \
    start_redsleeve rs "$W/rs.ini"
P=$RS_PORT_main
NLOG=$W/notify.log

check "READY=1 sent once listening and the first link was tried" \
    wait_until 5 grep -q '^READY=1 STATUS=serving clients=0 links_idle=' "$NLOG"
pings() { grep -c '^WATCHDOG=1' "$NLOG" || true; }
at_least_pings() { (($(pings) >= $1)); }
check "WATCHDOG=1 arrives from the loop (every WatchdogSec/2)" \
    wait_until 5 at_least_pings 4
check "STATUS= lines report clients and idle links" \
    grep -q 'STATUS=serving clients=[0-9]* links_idle=[0-9]*' "$NLOG"

# A client waits in BLPOP; SIGTERM must not cut it off.
rcli "$P" BLPOP q:drain 0 >"$W/blpop.out" 2>&1 &
blpop=$!
blocked() { rcli_tls "$RP" CLIENT LIST | grep -q 'cmd=blpop'; }
wait_until 5 blocked
kill -TERM "$RS_PID"
check "STOPPING=1 sent on SIGTERM" wait_until 5 grep -q '^STOPPING=1' "$NLOG"
refused() { ! redis-cli -h 127.0.0.1 -p "$P" PING >/dev/null 2>&1; }
check "no new clients while draining" wait_until 5 refused
check "the BLPOP client is still connected" kill -0 "$blpop"
rcli_tls "$RP" LPUSH q:drain done >/dev/null
wait "$blpop" || true
check "the draining proxy delivered its reply" \
    test "$(cat "$W/blpop.out")" = $'q:drain\ndone'
check "then it exits once the last client left" wait_until 10 gone
check "... cleanly (drained, code 0)" \
    grep -q 'phase=close reason=drained' "$W/rs.log"
check "exit code 0 logged" grep -q 'event=exit code=0' "$W/rs.log"

# shutdown_timeout: an idle client that never leaves is closed at the end.
sed 's/shutdown_timeout = 20s/shutdown_timeout = 500ms/' "$W/rs.ini" \
    >"$W/rs2.ini"
start_redsleeve rs2 "$W/rs2.ini"
exec 5<>/dev/tcp/127.0.0.1/"$RS_PORT_main"
printf 'PING\r\n' >&5
read -r -t 5 pong <&5 || true
kill -TERM "$RS_PID"
check "shutdown_timeout closes clients that stay" wait_until 10 gone
check "... and says so" grep -q 'reason=shutdown-timeout' "$W/rs2.log"
if timeout 5 cat <&5 >/dev/null; then
    ok "the lingering client saw its connection closed"
else
    fail "the lingering client saw its connection closed" "still open"
fi
exec 5<&-
[[ $pong == $'+PONG\r' ]] && ok "it had been served before" ||
    fail "it had been served before" "got [$pong]"

# busy_poll: serves, polls only after activity (an idle proxy sleeps), and
# stops like any other.
sed 's/^\[global\]$/[global]\nbusy_poll = 200us/' "$W/rs.ini" >"$W/rs4.ini"
start_redsleeve rs4 "$W/rs4.ini"
check "busy_poll is logged at start" grep -q 'event=busy-poll window_us=200' "$W/rs4.log"
out=$(timeout 60 redis-benchmark -h 127.0.0.1 -p "$RS_PORT_main" -c 1 -n 2000 \
    -t set,get --csv 2>/dev/null || true)
check "with busy_poll, a latency-bound client is served (SET and GET)" \
    test "$(grep -c '^"\(SET\|GET\)"' <<<"$out")" = 2
ticks() { awk '{print $14 + $15}' "/proc/$RS_PID/stat"; }
t0=$(ticks)
sleep 1
t1=$(ticks)
check "... and when idle it sleeps ($((t1 - t0)) ticks of CPU in 1 s)" \
    test $((t1 - t0)) -le 5
kill -TERM "$RS_PID"
check "... and it stops on SIGTERM" wait_until 10 gone
check "... cleanly" grep -q 'event=exit code=0' "$W/rs4.log"

# Root without [global] user: refused unless told (allow_root).
if [[ $(id -u) == 0 ]]; then
    out=$(env -u REDSLEEVE_ALLOW_ROOT "$REDSLEEVE" -c "$W/rs2.ini" 2>&1) && rc=0 || rc=$?
    check "as root without user = it refuses to start (exit 1)" test "$rc" = 1
    check "... and says what to set" \
        grep -q 'refusing to run as root: set \[global\] user = .*allow_root = yes' <<<"$out"
    check "... before binding anything" bash -c "! grep -q 'event=listen' <<<'$out'"
    sed 's/^\[global\]$/[global]\nallow_root = yes/' "$W/rs2.ini" >"$W/rs3.ini"
    out=$(env -u REDSLEEVE_ALLOW_ROOT "$REDSLEEVE" -t -c "$W/rs3.ini" 2>&1) || true
    check "allow_root = yes is a valid [global] key" grep -q 'configuration OK' <<<"$out"
    REDSLEEVE_ALLOW_ROOT= start_redsleeve rs3 "$W/rs3.ini"
    check "... and lets root run it" kill -0 "$RS_PID"
    kill -TERM "$RS_PID"
    wait_until 10 gone
else
    echo "skip: root refusal (not root)"
fi

finish
