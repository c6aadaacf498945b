#!/usr/bin/env bash
# 49-cluster-discovery: cluster mode asks for the topology itself (issue
# #16).  Every node has its port before any client asks; a node that joins
# gets one on the timer (cluster_refresh) or at once after a client saw a
# -MOVED; a node that leaves the topology closes its port, while a client
# already on it keeps working until it leaves; a node's link failing makes
# us ask again.
. "$(dirname "$0")/lib.sh"

start_cluster 3 1
printf '%s\n' "$REDIS_PASSWORD" >"$W/pw"
# cluster_ini REFRESH: a cluster service asking every REFRESH.
cluster_ini() {
    local base
    base=$("$TOOLS/freeport")
    printf '[global]\nadmin_listen = 127.0.0.1:0\nlog_level = debug\n'
    printf '[cache]\nmode = cluster\nlisten = 127.0.0.1:0\n'
    printf 'upstream = 127.0.0.1:%s\ncluster_ports = %s-%s\n' "$(cport 1)" "$base" "$((base + 19))"
    printf 'cluster_refresh = %s\npool_min_idle = 1\n' "$1"
    printf 'ca_file = %s\nauth_password_file = %s\n' "$PKI/ca.crt" "$W/pw"
}
cluster_ini 1h >"$W/slow.ini"
cluster_ini 1s >"$W/fast.ini"
start_redsleeve slow "$W/slow.ini"
SLOW_A=$RS_PORT_admin SLOW_LOG=$W/slow.log
start_redsleeve fast "$W/fast.ini"
FAST_A=$RS_PORT_admin FAST_LOG=$W/fast.log

# ports_in A: redsleeve_cluster_ports_in_use from the admin port A.
ports_in() { A=$1 metric 'redsleeve_cluster_ports_in_use{service="cache"}'; }
ports_are() { test "$(ports_in "$1")" = "$2"; }
# local_port LOG I: the local port LOG gave node nI (its last one).
local_port() {
    sed -n "s/.*event=cluster-node service=cache node=127.0.0.1:$(cport "$2") .*listen=127.0.0.1:\([0-9]*\).*/\1/p" "$1" | tail -n 1
}
has_port() { [ -n "$(local_port "$1" "$2")" ]; }
# closed PORT: nothing listens on it (asked of the kernel: a connection
# would be one more client of the node)
closed() { ! ss -Hltn "sport = :$1" | grep -q .; }
pong() { test "$(rcli "$1" PING 2>&1)" = PONG; }

both_six() { ports_are "$SLOW_A" 6 && ports_are "$FAST_A" 6; }
check "without any client, every node has a port (both instances)" \
    wait_until 10 both_six
all_pong() {
    local i p
    for i in $(seq 6); do
        p=$(local_port "$1" "$i")
        [ -n "$p" ] && pong "$p" || return 1
    done
}
check "... each one's port answers through its own TLS link" all_pong "$SLOW_LOG"
check "/metrics: topology refreshes answered" \
    test "$(A=$SLOW_A metric 'redsleeve_cluster_topology_refreshes_total{service="cache",result="ok"}')" -ge 1
check "/metrics: each node's own pool, under its own name" \
    test -n "$(A=$SLOW_A metric "redsleeve_upstream_up{service=\"cache@127.0.0.1:$(cport 4)\"}")"

# --- a node joins, owning no slot: no client reply names it
cluster_node 7
cluster_meet 7
id7=$(rcli_tls "$(cport 7)" CLUSTER MYID)
all_know7() {
    local i
    for i in $(seq 6); do
        rcli_tls "$(cport "$i")" CLUSTER NODES | grep "^$id7 " | grep -q connected || return 1
    done
}
check "node 7 joined the cluster" wait_until 15 all_know7
check "on the timer (cluster_refresh = 1s), the new node gets its port" \
    wait_until 5 has_port "$FAST_LOG" 7
p7=$(local_port "$FAST_LOG" 7)
check "... which answers" pong "$p7"
check "an hour-long timer has not asked yet" test -z "$(local_port "$SLOW_LOG" 7)"

# --- a slot moves between primaries 1 and 2; a client's -MOVED makes the
# slow instance ask at once (and so learn node 7 too)
slot=$(rcli_tls "$(cport 1)" CLUSTER KEYSLOT '{m}')
for i in 2 1 3 4 5 6; do       # the new owner first, as Redis advises
    rcli_tls "$(cport "$i")" CLUSTER SETSLOT "$slot" NODE "$(rcli_tls "$(cport 2)" CLUSTER MYID)" >/dev/null 2>&1
done
moved_to_2() {
    out=$(rcli "$(local_port "$SLOW_LOG" 1)" GET '{m}' 2>&1) || true
    grep -q "MOVED $slot 127.0.0.1:$(local_port "$SLOW_LOG" 2)" <<<"$out"
}
check "a client of node 1 gets -MOVED to node 2's local port" \
    wait_until 5 moved_to_2
check "... and that -MOVED made us ask: node 7 has its port in the slow instance" \
    wait_until 5 has_port "$SLOW_LOG" 7

# --- node 7 leaves the topology (FORGET everywhere, RESET itself) while a
# client holds a link through its port
/usr/bin/python3 - "$p7" "$W/held.out" <<'PYEOF' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
def ask(cmd):
    s.sendall(cmd)
    buf = b""
    while not buf.endswith(b"\r\n"):
        buf += s.recv(100)
    return buf
out = [ask(b"PING\r\n")]
open(sys.argv[2] + ".ready", "w").close()
time.sleep(6)                  # node 7 leaves meanwhile
out.append(ask(b"PING\r\n"))
open(sys.argv[2], "w").write(repr(out))
PYEOF
hpid=$!
wait_until 5 test -e "$W/held.out.ready"
for i in $(seq 6); do
    rcli_tls "$(cport "$i")" CLUSTER FORGET "$id7" >/dev/null
done
rcli_tls "$(cport 7)" CLUSTER RESET SOFT >/dev/null
check "node 7 left: its port closes (two whole answers without it)" \
    wait_until 8 closed "$p7"
check "... logged as gone, with its client still on it" \
    grep -q "event=cluster-node-gone service=cache node=127.0.0.1:$(cport 7) port=$p7 clients=1" "$FAST_LOG"
check "/metrics: ports in use back to 6" ports_are "$FAST_A" 6
wait "$hpid"
check "the client held on node 7's port kept its link (PONG before and after)" \
    grep -q "\[b'+PONG\\\\r\\\\n', b'+PONG\\\\r\\\\n'\]" "$W/held.out"
check "the other nodes' ports still answer" all_pong "$FAST_LOG"

# --- a node's link fails: the slow instance asks again
before=$(A=$SLOW_A metric 'redsleeve_cluster_topology_refreshes_total{service="cache",result="ok"}')
kill "$REDIS_PID_n6"
refreshed() {
    test "$(A=$SLOW_A metric 'redsleeve_cluster_topology_refreshes_total{service="cache",result="ok"}')" -gt "$before"
}
check "a node's link failing makes us ask for the topology again" wait_until 10 refreshed
readyz() {
    exec 3<>/dev/tcp/127.0.0.1/"$SLOW_A"
    printf 'GET /readyz HTTP/1.0\r\n\r\n' >&3
    head -n 1 <&3
    exec 3<&-
}
node6_down() {
    test "$(A=$SLOW_A metric "redsleeve_upstream_up{service=\"cache@127.0.0.1:$(cport 6)\"}")" = 0
}
check "/metrics: node 6's own upstream_up turns 0" wait_until 10 node6_down
check "/readyz stays ready with a node down (the cluster fails it over)" \
    grep -q ' 200' <<<"$(readyz)"

stop_bg slow
stop_bg fast
finish
