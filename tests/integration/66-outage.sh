#!/usr/bin/env bash
# 66-outage: the upstream dies (kill -9) and comes back on the same port:
# clients get the RESP error within connect_timeout, /readyz and
# redsleeve_upstream_up follow, and traffic resumes without restarting
# redsleeve.  Server-side closes (CLIENT KILL): idle pooled links are
# replaced, a busy client is closed cleanly (EOF after whole replies).
. "$(dirname "$0")/lib.sh"

start_redis_tls main
RP=$REDIS_PORT_main
RPID=$REDIS_PID_main
printf '%s\n' "$REDIS_PASSWORD" >"$W/pw"
{
    printf '[global]\nadmin_listen = 127.0.0.1:0\n%s\n' "${RS_LOG_LEVEL:+log_level = $RS_LOG_LEVEL}"
    svc_ini main "$RP" "auth_password_file = $W/pw" 'pool_min_idle = 3' \
        'connect_timeout = 1s' 'link_idle_check = 1s'
} >"$W/rs.ini"
start_redsleeve rs "$W/rs.ini"
P=$RS_PORT_main
A=$RS_PORT_admin

http() {  # http PATH: the whole response
    exec 3<>/dev/tcp/127.0.0.1/"$A"
    printf 'GET %s HTTP/1.0\r\n\r\n' "$1" >&3
    cat <&3
    exec 3<&-
}
metric() { http /metrics | awk -v k="$1" '$1 == k {print $2}'; }
idle_links() { metric 'redsleeve_links{service="main",state="idle"}'; }
pool_full() { test "$(idle_links)" = $((3 * NWORKERS)); }

check "the pool fills" wait_until 5 pool_full
ready() { grep -q '^HTTP/1.[01] 200' <<<"$(http /readyz)"; }
check "ready while the upstream is up" wait_until 5 ready

# --- Server-side closes: CLIENT KILL every normal client.
exec 5<>/dev/tcp/127.0.0.1/"$P"
printf 'SET busy 1\r\n' >&5
read -r -t 5 line <&5
check "a busy client is served" test "$line" = $'+OK\r'
rcli_tls "$RP" CLIENT KILL TYPE normal SKIPME yes >/dev/null
if timeout 5 cat <&5 >"$W/busy.rest"; then
    check "the busy client sees a clean close (EOF, no partial bytes)" \
        test ! -s "$W/busy.rest"
else
    fail "the busy client sees a clean close" "still open after 5 s"
fi
exec 5<&-
check "the killed idle links are replaced" wait_until 5 pool_full
check "new clients are served after CLIENT KILL" test "$(rcli "$P" GET busy)" = 1
check "... and the close says why" grep -q 'event=close .*reason=upstream-eof' "$W/rs.log"

# --- Outage: kill -9, clients get the error promptly.
kill -9 "$RPID"
wait "$RPID" 2>/dev/null || true
sleep 0.2
start=$(date +%s.%N)
out=$(rcli "$P" PING 2>&1 || true)
took=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.2f", e - s}')
check "during the outage a client gets the RESP error (${took}s)" \
    grep -q 'ERR redsleeve: upstream main (127.0.0.1:[0-9]*) unreachable' <<<"$out"
check "... within connect_timeout (1 s)" awk -v t="$took" 'BEGIN {exit !(t <= 1.5)}'
not_ready() { grep -q '^HTTP/1.[01] 503' <<<"$(http /readyz)"; }
check "/readyz turns 503" wait_until 5 not_ready
check "redsleeve_upstream_up is 0" test "$(metric 'redsleeve_upstream_up{service="main"}')" = 0
n=0
for _ in $(seq 1 20); do
    rcli "$P" PING 2>&1 | grep -q 'unreachable' && n=$((n + 1))
done
check "every client during the outage gets the error (20/20: $n)" test "$n" = 20
check "the cause is logged once, not once per client" \
    test "$(grep -c 'event=upstream-error service=main upstream=.*reason="connect to' "$W/rs.log")" -le 2

# --- The server comes back on the same port.
start_bg main2-stdout redis-server "$W/main.conf"
wait_until 10 rcli_tls "$RP" PING
t0=$(date +%s.%N)
works() { test "$(rcli "$P" PING 2>/dev/null)" = PONG; }
check "traffic resumes without restarting redsleeve" wait_until 10 works
echo "resumed after $(awk -v s="$t0" -v e="$(date +%s.%N)" 'BEGIN {printf "%.2f", e - s}') s"
check "/readyz is 200 again" wait_until 10 ready
check "redsleeve_upstream_up is 1 again" \
    test "$(metric 'redsleeve_upstream_up{service="main"}')" = 1
if wait_until 35 pool_full; then
    ok "the pool refills"
else
    fail "the pool refills" "$(http /metrics | grep -E 'links\{|failures|closed' | tr '\n' ' ')"
fi
check "the recovery is logged" grep -q 'event=upstream-ok service=main' "$W/rs.log"

finish
