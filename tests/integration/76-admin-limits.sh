#!/usr/bin/env bash
# 76-admin-limits: the admin port takes GET and HEAD only, bounds what a
# request may carry (a large POST body is refused without the process
# growing), caps its connections, and warns when it is not on loopback.
. "$(dirname "$0")/lib.sh"

start_redis_tls main
{
    printf '[global]\nadmin_listen = 127.0.0.1:0\n'
    svc_ini main "$REDIS_PORT_main" "pool_min_idle = 0"
} >"$W/rs.ini"
start_redsleeve rs "$W/rs.ini"
A=$RS_PORT_admin

req() {  # req METHOD PATH: status line of METHOD PATH
    curl -s -o /dev/null -w '%{http_code}' -X "$1" --max-time 5 \
        "http://127.0.0.1:$A$2" || true
}

check "GET /healthz is 200" test "$(req GET /healthz)" = 200
check "HEAD /healthz is 200" \
    test "$(curl -s -o /dev/null -w '%{http_code}' -I --max-time 5 \
        "http://127.0.0.1:$A/healthz")" = 200
check "PUT is 405" test "$(req PUT /metrics)" = 405
check "DELETE is 405" test "$(req DELETE /metrics)" = 405
check "POST without a body is 405" test "$(req POST /metrics)" = 405

# A 100 MiB POST: refused, and the process does not keep the memory.
before=$(rss_kib "$RS_PID")
code=$(head -c $((100 * 1024 * 1024)) /dev/zero |
    curl -s -o /dev/null -w '%{http_code}' --max-time 20 \
        -H 'Content-Type: application/octet-stream' --data-binary @- \
        "http://127.0.0.1:$A/metrics" 2>/dev/null || true)
after=$(rss_kib "$RS_PID")
check "a 100 MiB POST is refused (got $code)" test "$code" != 200
check "... and RSS does not grow by it ($before -> $after KiB)" \
    test $((after - before)) -lt 8192
# Headers beyond the limit: refused.
big=$(head -c 20000 /dev/zero | tr '\0' h)
check "20 kB of headers are refused" \
    test "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
        -H "X-Big: $big" "http://127.0.0.1:$A/healthz" || true)" != 200
check "the admin port still answers" test "$(req GET /healthz)" = 200

# Connections: hold many idle ones open; the process keeps a bounded number
# of descriptors for them and still serves once they are gone.
fds0=$(fd_count "$RS_PID")
pids=()
for i in $(seq 1 40); do
    sleep 30 </dev/tcp/127.0.0.1/"$A" &
    pids+=($!)
done
sleep 0.5
fds1=$(fd_count "$RS_PID")
check "40 idle connections hold at most 16 descriptors ($fds0 -> $fds1)" \
    test $((fds1 - fds0)) -le 16
kill "${pids[@]}" 2>/dev/null || true
wait "${pids[@]}" 2>/dev/null || true
served() { test "$(req GET /healthz)" = 200; }
check "served again once they leave" wait_until 10 served

# A non-loopback admin_listen is warned about, at start and by --check-config.
sed 's/^admin_listen = .*/admin_listen = 0.0.0.0:0/' "$W/rs.ini" >"$W/wild.ini"
out=$("$REDSLEEVE" -c "$W/wild.ini" --check-config 2>&1 || true)
check "--check-config warns about admin_listen on 0.0.0.0" \
    grep -q 'wild.ini:[0-9]*: admin_listen: .*not a loopback' <<<"$out"
start_redsleeve wild "$W/wild.ini"
check "... and so does start" \
    grep -q 'admin_listen.*not a loopback' "$W/wild.log"

finish
