#!/usr/bin/env bash
# 52-shared-links: pool_mode = shared.  300 idle clients cost the server a
# handful of connections; two clients interleaving SELECT, MULTI, WATCH,
# CLIENT SETNAME, HELLO 3, BLPOP and SUBSCRIBE each see only their own
# state and replies while others run on shared links; 1000 pipelined
# requests then a FIN all answered; a 64 MiB reply to a
# slow client does not hold up 50 others; a shared link killed mid-batch
# (CLIENT KILL) gives the clients with a request on it one error each and
# leaves the others running; a client that never reads its reply is
# closed after 10 s when others wait behind it; a link cut while requests
# still wait to be written tells their clients they did not run; /metrics
# counts it all.
. "$(dirname "$0")/lib.sh"

start_redis_tls main
RP=$REDIS_PORT_main
printf '%s\n' "$REDIS_PASSWORD" >"$W/pw"
{
    printf '[global]\nadmin_listen = 127.0.0.1:0\n'
    svc_ini shared "$RP" "auth_password_file = $W/pw" \
        "pool_mode = shared" "pool_min_idle = 1" "pool_max_idle = 4"
} >"$W/rs.ini"
# One shared link and one worker (whatever make test-workers says): a
# slow reader holds everyone behind it.
{
    printf '[global]\nworkers = 1\nadmin_listen = 127.0.0.1:0\n'
    svc_ini one "$RP" "auth_password_file = $W/pw" \
        "pool_mode = shared" "pool_min_idle = 0" "pool_max_idle = 1"
} >"$W/rs1.ini"
start_redsleeve rs1 "$W/rs1.ini"
A1=$RS_PORT_admin
RS1_PID=$RS_PID
start_redsleeve rs "$W/rs.ini"
LOG=$W/rs.log
A=$RS_PORT_admin
P=$RS_PORT_shared

run_case() {  # run_case CASE [PORT]: the driver's lines become checks
    local line port=${2:-$P}
    while IFS= read -r line; do
        case $line in
        "ok "*) ok "${line#ok }" ;;
        "FAIL "*) fail "${line#FAIL }" "" ;;
        *) fail "driver ($1) said: $line" "" ;;
        esac
    done < <(NWORKERS=$NWORKERS SERVER_PID=$REDIS_PID_main RS_PID=$RS1_PID ADMIN=$A \
        /usr/bin/python3 "$(dirname "$0")/shared-links.py" "$1" "$port" \
        "$RP" "$PKI/ca.crt" "$REDIS_PASSWORD" 2>&1)
}

run_case idle
run_case state
run_case pipe
run_case unpin
run_case big
run_case kill
run_case slow "$RS_PORT_one"
run_case unsent "$RS_PORT_one"

pins() { metric "redsleeve_clients_pinned_total{service=\"shared\",reason=\"$1\"}"; }
for r in select transaction client hello blocking subscribe large-request; do
    n=$(pins "$r")
    if [[ -n $n ]] && ((n >= 1)); then ok "pinned for $r counted ($n)"
    else fail "pinned for $r counted" "got [$n]"; fi
done
b=$(metric 'redsleeve_shared_batches_total{service="shared"}')
q=$(metric 'redsleeve_shared_requests_total{service="shared"}')
if [[ -n $b ]] && ((b > 0 && q >= b)); then
    ok "requests per batch measurable ($q requests in $b batches)"
else fail "shared batches counted" "batches [$b] requests [$q]"; fi
f=$(metric 'redsleeve_shared_link_failures_total{service="shared"}')
if [[ -n $f ]] && ((f >= 1)); then ok "the killed shared link counted ($f)"
else fail "the killed shared link counted" "got [$f]"; fi
s=$(A=$A1 metric 'redsleeve_shared_slow_readers_total{service="one"}')
if [[ $s == 1 ]]; then ok "the slow reader counted"
else fail "the slow reader counted" "got [$s]"; fi
if expect_log "$W/rs1.log" "event=slow-reader s=[0-9a-f]* service=one "; then
    ok "the slow reader logged"
else fail "the slow reader logged" ""; fi
if expect_log "$LOG" "event=shared-link-failed service=shared"; then
    ok "the failed shared link logged"
else fail "the failed shared link logged" ""; fi
if grep -q "$REDIS_PASSWORD" "$LOG"; then fail "no password in the log" ""
else ok "no password in the log"; fi
finish
