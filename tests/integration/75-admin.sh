#!/usr/bin/env bash
# 75-admin: /metrics parsed by a real Prometheus text parser (Debian's
# python3-prometheus-client) with values that match the traffic sent;
# /healthz; /readyz following the upstream.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
if ! "$PY" -c 'import prometheus_client' 2>/dev/null; then
    echo "skip: python3-prometheus-client not installed"
    finish
fi

start_redis_tls main
RP=$REDIS_PORT_main
printf '%s\n' "$REDIS_PASSWORD" >"$W/pw"
{
    printf '[global]\nadmin_listen = 127.0.0.1:0\n'
    svc_ini main "$RP" "auth_password_file = $W/pw"
    svc_ini down 1 "pool_min_idle = 1"
    printf '[wrongname]\nlisten = 127.0.0.1:0\nupstream = 127.0.0.1:%s\n' "$RP"
    printf 'verify_host = other.test\nca_file = %s\npool_min_idle = 1\n' "$PKI/ca.crt"
} >"$W/rs.ini"
start_redsleeve rs "$W/rs.ini"
A=$RS_PORT_admin
P=$RS_PORT_main

http() {  # http PATH: status line and body of GET PATH
    exec 3<>/dev/tcp/127.0.0.1/"$A"
    printf 'GET %s HTTP/1.0\r\nHost: x\r\n\r\n' "$1" >&3
    cat <&3
    exec 3<&-
}

check "/healthz answers ok" grep -q '^ok' <<<"$(http /healthz)"
out=$(http /readyz)
check "/readyz is 503 while an upstream is down" grep -q '^HTTP/1.[01] 503' <<<"$out"
check "... and names it" grep -q 'service down: upstream 127.0.0.1:1 unreachable' <<<"$out"
check "unknown paths are 404" grep -q '^HTTP/1.[01] 404' <<<"$(http /nope)"

# Known traffic: 10 clients, each SET of a 1000-byte value and a GET.
val=$(head -c 1000 /dev/zero | tr '\0' v)
sent=0
for i in $(seq 1 10); do
    printf -v req 'SET m:%d %s\r\nGET m:%d\r\n' "$i" "$val" "$i"
    sent=$((sent + ${#req}))
    exec 4<>/dev/tcp/127.0.0.1/"$P"
    printf '%s' "$req" >&4
    head -c 1014 <&4 >/dev/null   # +OK and the 1000-byte bulk reply
    exec 4<&-
done
closed_all() { grep -c 'service=main .*event=close\|event=close .*service=main ' "$W/rs.log"; }
all_closed() { (($(closed_all) >= 10)); }
wait_until 10 all_closed
http /metrics | sed '1,/^\r$/d' >"$W/metrics.txt"

cat >"$W/parse.py" <<'EOF'
import sys
from prometheus_client.parser import text_string_to_metric_families
values = {}
for fam in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in fam.samples:
        key = s.name + "".join(",%s=%s" % kv for kv in sorted(s.labels.items()))
        values[key] = s.value
for k in sorted(values):
    print("%s %s" % (k, values[k]))
EOF
if parsed=$("$PY" "$W/parse.py" "$W/metrics.txt" 2>&1); then
    ok "/metrics parses with the Prometheus client parser"
else
    fail "/metrics parses with the Prometheus client parser" "$parsed"
fi
metric() { awk -v k="$1" '$1 == k {print $2}' <<<"$parsed"; }
check "clients_total counts the 10 clients" \
    test "$(metric 'redsleeve_clients_total,service=main')" = 10.0
rx=$(metric 'redsleeve_client_bytes_received_total,service=main')
check "client bytes match exactly what was sent ($sent)" \
    awk -v r="$rx" -v s="$sent" 'BEGIN {exit !(r == s)}'
tx=$(metric 'redsleeve_upstream_bytes_received_total,service=main')
check "upstream bytes match exactly the replies (10 x 1014)" \
    awk -v t="$tx" 'BEGIN {exit !(t == 10140)}'
check "handshakes are counted, most resumed" \
    awk -v r="$(metric 'redsleeve_tls_handshakes_total,service=main,type=resumed')" \
        'BEGIN {exit !(r >= 1)}'
check "pool hits counted" \
    awk -v h="$(metric 'redsleeve_pool_hits_total,service=main')" 'BEGIN {exit !(h >= 1)}'
check "links by state are reported" \
    test -n "$(metric 'redsleeve_links,service=main,state=idle')"
check "the down upstream is 0 in redsleeve_upstream_up" \
    test "$(metric 'redsleeve_upstream_up,service=down')" = 0.0
check "... with its connect failures counted" \
    awk -v f="$(metric 'redsleeve_upstream_failures_total,kind=connect,service=down')" \
        'BEGIN {exit !(f >= 1)}'
check "build info carries the OpenSSL version" \
    grep -q 'redsleeve_build_info{version=".*",openssl="3' "$W/metrics.txt"
check "the live upstream is 1" \
    test "$(metric 'redsleeve_upstream_up,service=main')" = 1.0
check "a certificate for another name counts as tls_failures{reason=hostname_mismatch}" \
    awk -v f="$(metric 'redsleeve_tls_failures_total,reason=hostname_mismatch,service=wrongname')" \
        'BEGIN {exit !(f >= 1)}'
check "... and not as untrusted_chain" \
    test "$(metric 'redsleeve_tls_failures_total,reason=untrusted_chain,service=wrongname')" = 0.0
hs=$(metric 'redsleeve_upstream_handshake_seconds_count,service=main')
check "the handshake histogram counts every handshake (full + resumed)" \
    awk -v h="$hs" -v f="$(metric 'redsleeve_tls_handshakes_total,service=main,type=full')" \
        -v r="$(metric 'redsleeve_tls_handshakes_total,service=main,type=resumed')" \
        'BEGIN {exit !(h >= 1 && h == f + r)}'
check "... its +Inf bucket equals its count" \
    test "$(metric 'redsleeve_upstream_handshake_seconds_bucket,le=+Inf,service=main')" = "$hs"
check "... and a loopback handshake is under a second" \
    test "$(metric 'redsleeve_upstream_handshake_seconds_bucket,le=1.0,service=main')" = "$hs"
check "the connect histogram counts links too" \
    awk -v c="$(metric 'redsleeve_upstream_connect_seconds_count,service=main')" \
        'BEGIN {exit !(c >= 1)}'
check "no reload yet: reloads 0, last reload successful 1" \
    test "$(metric 'redsleeve_config_reloads_total,result=success')/$(metric 'redsleeve_config_last_reload_successful')" = 0.0/1.0

finish
