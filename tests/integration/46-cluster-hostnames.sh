#!/usr/bin/env bash
# 46-cluster-hostnames: cluster mode as ElastiCache runs it (issue #16):
# nodes announce host names (cluster-announce-hostname, preferred
# endpoint type hostname), one wildcard certificate (*.redis.test) serves
# them all, and the names resolve through DNS (the test's own server).
# Each node's service resolves and verifies the node's own name: a node
# announcing a name its certificate does not carry (node3.wrong.test) is
# refused on its port, with the reason, while the others serve.
. "$(dirname "$0")/lib.sh"

printf '' >"$W/zone"
start_bg dns "$TOOLS/dnsserver" "$W/zone" "$W/dns.port"
wait_until 5 test -s "$W/dns.port"
printf 'nameserver 127.0.0.1:%s\noptions timeout:1 attempts:2\n' \
    "$(cat "$W/dns.port")" >"$W/resolv.conf"
names=(node1.redis.test node2.redis.test node3.wrong.test)
{ printf 'clustercfg.redis.test 127.0.0.1\n'
  for n in "${names[@]}"; do printf '%s 127.0.0.1\n' "$n"; done; } >"$W/zone"
NODE_EXTRA=([1]="cluster-announce-hostname ${names[0]}"
    [2]="cluster-announce-hostname ${names[1]}"
    [3]="cluster-announce-hostname ${names[2]}")
start_cluster 3 0 "tls-cert-file $PKI/cluster.crt" "tls-key-file $PKI/cluster.key" \
    'cluster-preferred-endpoint-type hostname'
port() { cport "$1"; }

base=$("$TOOLS/freeport")
printf '%s\n' "$REDIS_PASSWORD" >"$W/pw"
{ printf '[global]\nresolv_conf = %s\nadmin_listen = 127.0.0.1:0\n' "$W/resolv.conf"
  printf '[cache]\nmode = cluster\nlisten = 127.0.0.1:0\n'
  printf 'upstream = clustercfg.redis.test:%s\ncluster_ports = %s-%s\n' "$(port 1)" "$base" "$((base + 9))"
  printf 'ca_file = %s\nauth_password_file = %s\n' "$PKI/ca.crt" "$W/pw"; } >"$W/c.ini"
start_redsleeve rs "$W/c.ini"
P=$RS_PORT_cache
LOG=$W/rs.log

slots=$(rcli "$P" CLUSTER SLOTS)
check "CLUSTER SLOTS: no host name left, every node at 127.0.0.1" \
    bash -c "! grep -q -e redis.test -e wrong.test <<<'$slots' && test \$(grep -cx 127.0.0.1 <<<'$slots') -ge 3"
check "each node's service resolves the node's own name" \
    bash -c "grep -qi 'query node1.redis.test' '$W/dns.log' && grep -qi 'query node2.redis.test' '$W/dns.log'"
port_of() {  # port_of NAME: the local port the log gave the node
    sed -n "s/.*event=cluster-node service=cache node=$1:[0-9]* .*listen=127.0.0.1:\([0-9]*\).*/\1/p" "$LOG" | head -n 1
}
p1=$(port_of node1.redis.test) p3=$(port_of node3.wrong.test)
check "node1's port ($p1) serves, its certificate verified for node1.redis.test" \
    test "$(rcli "$p1" PING)" = PONG
out=$(rcli "$p3" PING 2>&1 || true)
check "node3 announces a name the certificate does not carry: refused on its port, saying why" \
    grep -q "redsleeve: upstream cache@node3.wrong.test:$(port 3) .*certificate rejected.*node3.wrong.test" <<<"$out"
check "... and the other nodes still serve (redis-cli -c, a key on node 2)" \
    test "$(redis-cli -c -p "$P" SET '{c}x' 1)" = OK

stop_bg rs
finish
