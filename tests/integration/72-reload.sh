#!/usr/bin/env bash
# 72-reload: SIGHUP while clients are connected.  A good config applies at
# once to new clients (changed service: new upstream; new section: new
# listener), clients already connected keep their links until they leave,
# nothing is dropped or refused; broken configs (bad key, missing CA file,
# address in use) are logged with file:line:key and change nothing;
# an unchanged section keeps its warm links; a changed password file
# counts as a change; RELOADING=1 + MONOTONIC_USEC then READY=1 reach
# NOTIFY_SOCKET; /metrics counts reloads.
. "$(dirname "$0")/lib.sh"

start_redis_pair_ab
P=$("$TOOLS/freeport")
start_bg notify "$TOOLS/notifysock" "$W/notify.sock"
wait_until 5 test -S "$W/notify.sock"
NLOG=$W/notify.log

conf() {  # conf UPSTREAM_PORT [EXTRA SECTION LINES...]
    local up=$1
    shift
    printf '[global]\nadmin_listen = 127.0.0.1:0\n\n'
    printf '[main]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:%s\n' "$P" "$up"
    printf 'verify_host = redis.test\nca_file = %s\n' "$PKI/ca.crt"
    printf 'auth_password_file = %s\npool_min_idle = 2\n' "$W/pw"
    if (($#)); then printf '%s\n' "$@"; fi
}
conf "$RA" >"$W/rs.ini"
NOTIFY_SOCKET=$W/notify.sock start_redsleeve rs "$W/rs.ini"
A=$RS_PORT_admin
LOG=$W/rs.log
check "starts on the fixed port" test "$RS_PORT_main" = "$P"
wait_until 5 grep -q '^READY=1' "$NLOG"


# A client connected before the reload, mid-conversation.
exec 5<>/dev/tcp/127.0.0.1/"$P"
printf 'GET who\r\n' >&5
read -r -t 5 l1 <&5 && read -r -t 5 l2 <&5
check "the old client reads from A" test "${l2%$'\r'}" = A

# Clients that keep coming during every reload: none may be refused or
# see an error.
(
    end=$((SECONDS + 600))
    n=0 bad=0
    while [[ ! -e $W/stop-load ]] && ((SECONDS < end)); do
        out=$(redis-cli -h 127.0.0.1 -p "$P" GET who 2>&1) || bad=$((bad + 1))
        [[ $out == A || $out == B ]] || bad=$((bad + 1))
        n=$((n + 1))
    done
    echo "$n $bad" >"$W/load.result"
) 5<&- &
LOAD=$!
BENCH_OUT=$W/bench.out
redis-benchmark -h 127.0.0.1 -p "$P" -c 8 -n 400000 -t get -q \
    >"$BENCH_OUT" 2>&1 5<&- &
BENCH=$!

# 1. A good config: main moves to B, a new section appears.
sleep 0.3
conf "$RB" '' '[extra]' 'listen = 127.0.0.1:0' "upstream = 127.0.0.1:$RB" \
    'verify_host = redis.test' "ca_file = $PKI/ca.crt" \
    "auth_password_file = $W/pw" 'max_clients = 1' >"$W/rs.ini"
: >"$NLOG"
check "reload with a good config is applied" \
    hup_and_wait 'event=reload result=ok'
check "... logged with what changed" \
    grep -q 'event=reload result=ok services=2 unchanged=0 new=2 retiring_clients=' "$LOG"
check "RELOADING=1 with MONOTONIC_USEC reached NOTIFY_SOCKET" \
    grep -q '^RELOADING=1 MONOTONIC_USEC=[0-9][0-9]* STATUS=' "$NLOG"
check "... then READY=1" grep -q '^READY=1' "$NLOG"
check "new clients reach B at once" test "$(rcli "$P" GET who)" = B
EX=$(sed -n 's/.*event=listen service=extra addr=127.0.0.1:\([0-9]*\) .*/\1/p' "$LOG" | tail -n 1)
check "the new section listens and answers" test "$(rcli "$EX" GET who)" = B
printf 'GET who\r\n' >&5
read -r -t 5 l1 <&5 && read -r -t 5 l2 <&5
check "the client connected before keeps its link to A" test "${l2%$'\r'}" = A
# (the benchmark's clients, connected before too, are on old links.)
check "the replaced service waits for it" \
    test "$(metric redsleeve_clients_on_retired_config)" -ge 1
check "the replaced service says so" \
    grep -q 'event=reload-replaced service=main clients=[1-9]' "$LOG"
links_on_a() { rcli_tls "$RA" CLIENT LIST | grep -vc 'cmd=client' || true; }
only_busy_on_a() {
    # pool_mode = shared (make test-shared): busy clients share links, so
    # A holds at most one per client.
    if [[ ${RS_POOL_MODE:-} == shared ]]; then
        test "$(links_on_a)" -le "$(metric redsleeve_clients_on_retired_config)"
    else
        test "$(links_on_a)" = "$(metric redsleeve_clients_on_retired_config)"
    fi
}
check "... and its idle links were closed (A keeps only the busy ones)" \
    wait_until 5 only_busy_on_a

# 2. Broken configs: each logged with its line, nothing changes.
cp "$W/rs.ini" "$W/good.ini"
printf 'bogus_key = 1\n' >>"$W/rs.ini"
check "reload with an unknown key is refused" \
    hup_and_wait 'event=reload result=failed action='
check "... naming file, line and key" \
    grep -q "error=\"$W/rs.ini:[0-9]*: bogus_key: unknown key" "$LOG"
sed -e "s|ca_file = $PKI/ca.crt|ca_file = $W/missing.crt|" \
    -e 's/^max_clients = 1$/max_clients = 5/' "$W/good.ini" >"$W/rs.ini"
check "reload with a missing CA file is refused" \
    hup_and_wait 'event=reload result=failed action='
check "... naming the ca_file line and the cause" \
    grep -q "error=\"$W/rs.ini:[0-9]*: ca_file: .*missing.crt" "$LOG"
# The refused config also raised [extra]'s max_clients from 1 to 5: the
# running limit stays 1 (a second client waits while one is connected).
exec 6<>/dev/tcp/127.0.0.1/"$EX"
printf 'PING\r\n' >&6
read -r -t 5 held <&6 || true
second=$(timeout 1 redis-cli -h 127.0.0.1 -p "$EX" PING 2>&1 || true)
exec 6<&-
check "... and max_clients stays at the running 1 (second client waited: [$second])" \
    test "${held%$'\r'}" = +PONG -a -z "$second"
sed "s|^listen = 127.0.0.1:0|listen = 127.0.0.1:$RA|" "$W/good.ini" >"$W/rs.ini"
check "reload with an address in use is refused" \
    hup_and_wait 'event=reload result=failed action='
check "... naming the listen line" \
    grep -q "error=\"$W/rs.ini:[0-9]*: listen: .*$RA" "$LOG"
check "after three failures main still goes to B" test "$(rcli "$P" GET who)" = B
check "... and the extra section still answers" test "$(rcli "$EX" GET who)" = B
check "failures are counted" \
    test "$(metric 'redsleeve_config_reloads_total{result="failure"}')" = 3
check "last_reload_successful is 0" \
    test "$(metric redsleeve_config_last_reload_successful)" = 0
printf 'GET who\r\n' >&5
read -r -t 5 l1 <&5 && read -r -t 5 l2 <&5
check "the old client is still served by A" test "${l2%$'\r'}" = A

# 3. The same config again: both sections unchanged, warm links kept.
cp "$W/good.ini" "$W/rs.ini"
closed_before=$(metric 'redsleeve_links_closed_total{service="main",reason="reload"}')
check "reloading an unchanged config keeps every service" \
    hup_and_wait 'event=reload result=ok services=2 unchanged=2 new=0'
check "... and its idle links (none closed for reload)" \
    test "$(metric 'redsleeve_links_closed_total{service="main",reason="reload"}')" = "$closed_before"
check "successes are counted" \
    test "$(metric 'redsleeve_config_reloads_total{result="success"}')" = 2

# 4. A secret that changed on disk is a change.  (Both servers accept a
# second password too, so clients keep working across the rotation.)
PW2=second-$REDIS_PASSWORD
rcli_tls "$RA" ACL SETUSER default ">$PW2" >/dev/null
rcli_tls "$RB" ACL SETUSER default ">$PW2" >/dev/null
printf '%s\n' "$REDIS_PASSWORD" >"$W/pw2"
sed "s|^auth_password_file = $W/pw\$|auth_password_file = $W/pw2|" "$W/good.ini" \
    >"$W/rs.ini"
check "a changed password file replaces only the services using it" \
    hup_and_wait 'event=reload result=ok services=2 unchanged=0 new=2'
cp "$W/rs.ini" "$W/good2.ini"
printf '%s\n' "$PW2" >"$W/pw2"
check "the same file name with new contents counts as a change" \
    hup_and_wait 'event=reload result=ok services=2 unchanged=0 new=2'
check "... and the new secret is in use" test "$(rcli "$P" GET who)" = B

touch "$W/stop-load"
wait "$LOAD" || true
read -r n bad <"$W/load.result"
check "no new client was refused or saw an error during reloads ($n connections)" \
    test "$bad" = 0 -a "$n" -gt 20
kill -INT "$BENCH" 2>/dev/null || true
wait "$BENCH" || true
check "the long-lived benchmark clients saw no error" \
    bash -c "! grep -qi 'error' '$BENCH_OUT'"

# The old client leaves: its retired service goes with it.
printf 'QUIT\r\n' >&5
exec 5<&-
check "the retired services are freed once their clients left" \
    wait_until 5 grep -q 'event=reload-retired service=main' "$LOG"
retired_zero() { test "$(metric redsleeve_clients_on_retired_config)" = 0; }
check "... and the gauge returns to 0" wait_until 5 retired_zero
check "the proxy is still running" kill -0 "$RS_PID"

finish
