#!/usr/bin/env bash
# 78-workers: [global] workers = 2: two event loops (threads), each with
# its own SO_REUSEPORT listener and pool on the same port.  Clients are
# served by both; /metrics (parsed by the Prometheus client) sums the
# workers' figures per service and counts clients per worker; /readyz; a
# reload applies in both workers while a client connected before keeps its
# link; SIGTERM drains both (a BLPOP client gets
# its value) and exits 0.  Under `make check-asan` this runs with ASan too.
. "$(dirname "$0")/lib.sh"

start_redis_pair_ab
P=$("$TOOLS/freeport")
conf() {  # conf UPSTREAM_PORT
    printf '[global]\nworkers = 2\nadmin_listen = 127.0.0.1:0\n'
    printf 'shutdown_timeout = 20s\n\n'
    printf '[main]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:%s\n' "$P" "$1"
    printf 'verify_host = redis.test\nca_file = %s\n' "$PKI/ca.crt"
    printf 'auth_password_file = %s\n' "$W/pw"
}
conf "$RA" >"$W/rs.ini"
start_redsleeve rs "$W/rs.ini"
A=$RS_PORT_admin
LOG=$W/rs.log
check "two workers start" grep -q 'event=workers count=2' "$LOG"
check "... as threads of one process" \
    test "$(find "/proc/$RS_PID/task" -mindepth 1 -maxdepth 1 | wc -l)" -ge 3
check "... each with its own listening socket on the port" \
    test "$(ss -ltnH "sport = :$P" | wc -l)" = 2
ready_all() { grep -q 'event=ready .* workers=2' "$LOG"; }
check "READY once both workers are ready" wait_until 5 ready_all

http() {  # http PATH
    exec 3<>/dev/tcp/127.0.0.1/"$A"
    printf 'GET %s HTTP/1.0\r\n\r\n' "$1" >&3
    cat <&3
    exec 3<&-
}
n_ok=0
for _ in $(seq 1 40); do
    [[ $(rcli "$P" GET who) == A ]] && n_ok=$((n_ok + 1))
done
check "40 clients served ($n_ok)" test "$n_ok" = 40
http /metrics | sed '1,/^\r$/d' >"$W/metrics.txt"
PY=/usr/bin/python3
if "$PY" -c 'import prometheus_client' 2>/dev/null; then
    parsed=$("$PY" - "$W/metrics.txt" <<'EOF'
import sys
from prometheus_client.parser import text_string_to_metric_families
for fam in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in fam.samples:
        if s.name == "redsleeve_worker_clients_total":
            print(s.labels.get("worker"), int(s.value))
        elif s.name == "redsleeve_clients_total":
            print("all", int(s.value))
EOF
    ) || parsed=
    w0=$(awk '$1 == 0 {print $2}' <<<"$parsed")
    w1=$(awk '$1 == 1 {print $2}' <<<"$parsed")
    check "/metrics parses, worker_clients_total per worker ($w0 + $w1)" \
        test -n "$w0" -a -n "$w1"
    check "... both workers served clients (the kernel spreads them)" \
        test "${w0:-0}" -gt 0 -a "${w1:-0}" -gt 0
    all=$(awk '$1 == "all" {print $2}' <<<"$parsed")
    check "... and together every one of them" \
        test $((${w0:-0} + ${w1:-0})) -ge 40
    check "redsleeve_clients_total{service} is their sum, with no worker label ($all)" \
        test "${all:-0}" = $((${w0:-0} + ${w1:-0}))
fi
check "/readyz is 200" grep -q '^HTTP/1.[01] 200' <<<"$(http /readyz)"

# Reload in both workers; a client connected before keeps its link.
exec 5<>/dev/tcp/127.0.0.1/"$P"
printf 'GET who\r\n' >&5
read -r -t 5 l1 <&5 && read -r -t 5 l2 <&5
conf "$RB" >"$W/rs.ini"
kill -HUP "$RS_PID"
one_reload() { test "$(grep -c 'event=reload result=ok' "$LOG")" -ge 1; }
check "SIGHUP reloads (one reload, committed in both workers)" \
    wait_until 5 one_reload
check "... and says so once, not once per worker" \
    test "$(grep -c 'event=reload result=ok' "$LOG")" = 1
n_b=0
for _ in $(seq 1 20); do
    [[ $(rcli "$P" GET who) == B ]] && n_b=$((n_b + 1))
done
check "every new client reaches the new upstream ($n_b of 20)" test "$n_b" = 20
printf 'GET who\r\n' >&5
read -r -t 5 l1 <&5 && read -r -t 5 l2 <&5
check "the client connected before keeps its link to A" test "${l2%$'\r'}" = A
exec 5<&-

# Drain: a BLPOP client gets its value, then the process exits 0.
rcli "$P" BLPOP q:w 0 >"$W/blpop.out" 2>&1 &
blpop=$!
blocked() { rcli_tls "$RB" CLIENT LIST | grep -q 'cmd=blpop'; }
wait_until 5 blocked
kill -TERM "$RS_PID"
refused() { ! redis-cli -h 127.0.0.1 -p "$P" PING >/dev/null 2>&1; }
check "no new clients while draining" wait_until 5 refused
rcli_tls "$RB" LPUSH q:w done >/dev/null
wait "$blpop" || true
check "the BLPOP client got its value while both workers drained" \
    test "$(cat "$W/blpop.out")" = $'q:w\ndone'
check "then the process exits" wait_until 10 gone
check "... with code 0" grep -q 'event=exit code=0' "$LOG"
check "both workers drained" \
    test "$(grep -c 'phase=close reason=drained' "$LOG")" = 2

finish
