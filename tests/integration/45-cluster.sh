#!/usr/bin/env bash
# 45-cluster: mode = cluster (issue #16) in front of a real TLS-only Redis
# Cluster (3 primaries, 3 replicas, port 0, tls-port, tls-cluster yes,
# tls-replication yes).  The plaintext clients (redis-cli -c, redis-py's
# RedisCluster) see the configuration endpoint on one local port and
# every node on a local port of cluster_ports: CLUSTER SLOTS, SHARDS,
# NODES, REPLICAS and -MOVED name only 127.0.0.1 and those ports, every
# node's port answers before the reply naming it reaches the client, and
# keys over every slot go where they belong.
. "$(dirname "$0")/lib.sh"

start_cluster 3 1
port() { cport "$1"; }

base=$("$TOOLS/freeport")
LO=$base HI=$((base + 19))
printf '%s\n' "$REDIS_PASSWORD" >"$W/pw"
conf() {  # conf [LINES...]
    printf '[global]\nadmin_listen = 127.0.0.1:0\n'
    printf '[cache]\nlisten = 127.0.0.1:0\nupstream = 127.0.0.1:%s\n' "$REDIS_PORT_n1"
    printf 'ca_file = %s\nauth_password_file = %s\n' "$PKI/ca.crt" "$W/pw"
    printf 'mode = cluster\n'
    if (($#)); then printf '%s\n' "$@"; fi
}

# --- the keys
cc() { "$REDSLEEVE" -c "$1" --check-config 2>&1 || true; }
conf >"$W/noports.ini"
check "mode = cluster needs cluster_ports" \
    grep -q 'noports.ini:8: cluster_ports: needed with mode = cluster' <<<"$(cc "$W/noports.ini")"
conf "cluster_ports = 9-2" >"$W/bad.ini"
check "a bad range is refused, named" \
    grep -q 'bad.ini:9: cluster_ports: expected a range of ports LOW-HIGH (1-65535), got "9-2"' <<<"$(cc "$W/bad.ini")"
conf "cluster_ports = 7000-7099" "role = primary" >"$W/role.ini"
check "role is refused in cluster mode (each node has its own)" \
    grep -q 'role.ini:10: role: with mode = cluster each node has its own role' <<<"$(cc "$W/role.ini")"
conf "cluster_ports = 7000-7099" | sed 's/^listen = 127.0.0.1:0$/listen = 127.0.0.2:0/' >"$W/lo2.ini"
check "cluster mode listens on 127.0.0.1 (the address the rewrites give)" \
    grep -q 'lo2.ini:4: listen: with mode = cluster, on 127.0.0.1' <<<"$(cc "$W/lo2.ini")"
{ conf "cluster_ports = 7000-7099"; printf '[other]\nlisten = 127.0.0.1:7050\nupstream = 127.0.0.1:1\n'; } >"$W/inside.ini"
check "a service listening inside a cluster's ports is refused" \
    grep -q "inside.ini:11: listen: port 7050 is one of \[cache\]'s cluster_ports (7000-7099)" <<<"$(cc "$W/inside.ini")"
printf '[a]\nlisten = 127.0.0.1:0\nupstream = 127.0.0.1:1\ncluster_ports = 1-2\n' >"$W/orphan.ini"
check "cluster_ports without mode = cluster is refused" \
    grep -q 'orphan.ini:4: cluster_ports: needs mode = cluster' <<<"$(cc "$W/orphan.ini")"

conf "cluster_ports = $LO-$HI" 'pool_min_idle = 1' >"$W/c.ini"
start_redsleeve rs "$W/c.ini"
P=$RS_PORT_cache
A=$RS_PORT_admin
LOG=$W/rs.log

in_range() {  # in_range TEXT: every port after 127.0.0.1: is ours
    local p
    for p in $(grep -o '127\.0\.0\.1:[0-9]*' <<<"$1" | cut -d: -f2); do
        ((p >= LO && p <= HI)) || return 1
    done
}
topo=$(/usr/bin/python3 - "$P" "$LO" "$HI" <<'EOF' 2>&1
import sys
import redis
port, lo, hi = (int(a) for a in sys.argv[1:4])
r = redis.Redis(host="127.0.0.1", port=port)
slots = r.execute_command("CLUSTER SLOTS")
addrs = set()
for rng in slots:
    for node in rng[2:]:
        addrs.add((node[0].decode(), int(node[1])))
ok = all(h == "127.0.0.1" and lo <= p <= hi for h, p in addrs)
alive = all(redis.Redis(host=h, port=p).ping() for h, p in addrs)
print("slots", len(slots), "nodes", len(addrs), "local", ok, "alive", alive)
EOF
)
echo "$topo" >"$W/topo.out"
check "CLUSTER SLOTS through the configuration endpoint: 3 ranges, 6 nodes, all at 127.0.0.1 on cluster_ports" \
    grep -qx 'slots 3 nodes 6 local True alive True' <<<"$topo"
nodes=$(rcli "$P" CLUSTER NODES)
check "CLUSTER NODES: 6 nodes, each at 127.0.0.1 on a local port" \
    bash -c "$(declare -f in_range); LO=$LO HI=$HI; test \$(grep -c ' 127.0.0.1:[0-9]*@' <<<'$nodes') = 6 && in_range '$nodes'"
shards=$(rcli "$P" CLUSTER SHARDS)
check "CLUSTER SHARDS: ports rewritten too" \
    bash -c "$(declare -f in_range); LO=$LO HI=$HI; ! grep -qx -e '$REDIS_PORT_n1' -e '$REDIS_PORT_n4' <<<'$shards'"
resp3=$(printf 'HELLO 3\r\nCLUSTER SLOTS\r\n' | rcli "$P" 2>&1)
check "RESP3 (HELLO 3): CLUSTER SLOTS rewritten as well" \
    bash -c "! grep -qx -e '$REDIS_PORT_n1' -e '$REDIS_PORT_n2' -e '$REDIS_PORT_n3' <<<'$resp3' && grep -q '127.0.0.1' <<<'$resp3'"
moved=$(for k in a b c d e f g h; do rcli "$P" GET "k$k"; done 2>&1)
check "-MOVED names a local port" \
    bash -c "grep -q 'MOVED [0-9]* 127.0.0.1:' <<<'$moved' && ! grep -q -e ':$REDIS_PORT_n2\$' -e ':$REDIS_PORT_n3\$' <<<'$moved'"

# A script can answer with any error line, "MOVED ..." too: a host the
# topology never named is not entered (no link, no AUTH sent to it).
out=$(rcli "$P" EVAL "return redis.error_reply('MOVED 1 evil.example:443')" 0 2>&1)
check "a forged -MOVED to an unknown host goes on as it came" \
    grep -q 'MOVED 1 evil.example:443' <<<"$out"
# CLIENT REPLY OFF makes the next reply answer another request: it is
# not taken for CLUSTER SLOTS' topology.
out=$(/usr/bin/python3 - "$P" <<'EOF' 2>&1
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(3)
s.sendall(b"CLIENT REPLY OFF\r\nCLUSTER SLOTS\r\nCLIENT REPLY ON\r\n"
          b"EVAL \"return {{0,16383,{'evil2.example',6379,'ab'}}}\" 0\r\n")
buf = b""
try:
    while b"evil2" not in buf or not buf.endswith(b"\r\n"):
        d = s.recv(4096)
        if not d:
            break
        buf += d
except socket.timeout:
    pass
print(buf)
EOF
) || true
check "a reply out of step with its request is not taken for topology" \
    grep -q 'evil2.example' <<<"$out"
check "... and neither host got a node service" \
    bash -c "! grep -q -e 'node=evil.example' -e 'node=evil2.example' '$LOG'"

# redis-cli -c follows the redirects: every key lands on its node.
for i in $(seq 200); do printf 'SET key:%d v%d\n' "$i" "$i"; done >"$W/sets"
out=$(redis-cli -c -p "$P" <"$W/sets" 2>&1)
check "redis-cli -c: 200 SETs over the slots, all OK" test "$(grep -c '^OK$' <<<"$out")" = 200
total=0
for i in 1 2 3 4 5 6; do
    v=REDIS_PORT_n$i
    role=$(rcli_tls "${!v}" ROLE | head -n 1)
    if [[ $role == master ]]; then total=$((total + $(rcli_tls "${!v}" DBSIZE))); fi
done
check "... and the primaries hold exactly those 200 keys ($total)" test "$total" = 200
check "redis-cli -c reads one back through a node port" \
    test "$(redis-cli -c -p "$P" GET key:137)" = v137

# redis-py's RedisCluster: discovery, routing, a pipeline over nodes.
out=$(/usr/bin/python3 - "$P" <<'EOF' 2>&1
import sys
from redis.cluster import RedisCluster
rc = RedisCluster(host="127.0.0.1", port=int(sys.argv[1]))
nodes = rc.get_nodes()
for i in range(300):
    rc.set("py:%d" % i, i)
bad = [i for i in range(300) if rc.get("py:%d" % i) != str(i).encode()]
print("nodes", len(nodes), "hosts", sorted({n.host for n in nodes}), "bad", len(bad))
EOF
)
echo "$out" >"$W/py.out"
check "redis-py RedisCluster: 6 nodes at 127.0.0.1, 300 keys written and read back" \
    grep -qx "nodes 6 hosts \['127.0.0.1'\] bad 0" <<<"$out"

# On a node's port, what a cluster client does: MULTI in one slot,
# CROSSSLOT unchanged, READONLY on a replica's port, HELLO 3, ASKING.
out=$(/usr/bin/python3 - "$P" "$LO" "$HI" <<'EOF' 2>&1
import sys
import redis
port, lo, hi = (int(a) for a in sys.argv[1:4])
cfg = redis.Redis(host="127.0.0.1", port=port)
slot = cfg.execute_command("CLUSTER KEYSLOT", "{u}1")
primary = replica = None
for rng in cfg.execute_command("CLUSTER SLOTS"):
    if rng[0] <= slot <= rng[1]:
        primary, replica = int(rng[2][1]), int(rng[3][1])
res = []
p = redis.Redis(host="127.0.0.1", port=primary)
tx = p.pipeline(transaction=True)
tx.set("{u}1", "a").set("{u}2", "b").mget("{u}1", "{u}2")
res.append("multi " + str(tx.execute()[2] == [b"a", b"b"]))
try:
    p.execute_command("MSET", "a", "1", "b", "2")
    res.append("crossslot none")
except redis.ResponseError as e:
    res.append("crossslot " + str(str(e).startswith("CROSSSLOT")))
r = redis.Redis(host="127.0.0.1", port=replica)
r.execute_command("READONLY")
import time
for _ in range(50):
    if r.get("{u}1") == b"a":
        break
    time.sleep(0.1)
res.append("readonly " + str(r.get("{u}1") == b"a"))
import socket
c = socket.create_connection(("127.0.0.1", primary))
c.sendall(b"HELLO 3\r\nGET {u}1\r\n")
buf = b""
c.settimeout(5)
while not buf.endswith(b"$1\r\na\r\n"):
    d = c.recv(4096)
    if not d:
        break
    buf += d
res.append("hello3 " + str(buf.startswith(b"%") and b"proto" in buf))
res.append("asking " + str(p.execute_command("ASKING") in (b"OK", True, "OK")))
print(" ".join(res), "local", lo <= primary <= hi and lo <= replica <= hi)
EOF
) || true
echo "$out" >"$W/nodeports.out"
check "node ports: MULTI in one slot, CROSSSLOT, READONLY on a replica, HELLO 3, ASKING ($out)" \
    grep -qx 'multi True crossslot True readonly True hello3 True asking True local True' <<<"$out"

check "each node got its own service, on one port (per worker)" \
    test "$(grep 'event=cluster-node service=cache node=.* listen=' "$LOG" | grep -o 'node=[^ ]* .*listen=[^ ]*' | sed 's/ id=[^ ]*//' | sort -u | wc -l)" = 6
check "... whose certificate was verified for the node's own name (127.0.0.1)" \
    bash -c "! grep -q 'certificate rejected' '$LOG'"
check "/metrics: the nodes known" \
    test "$(metric 'redsleeve_cluster_nodes{service="cache"}')" = 6
check "/metrics: redirects rewritten" \
    test "$(metric 'redsleeve_cluster_rewrites_total{service="cache",kind="redirect"}')" -gt 0
check "/metrics: topology replies rewritten" \
    test "$(metric 'redsleeve_cluster_rewrites_total{service="cache",kind="topology"}')" -gt 0

# A reload that changes the cluster service applies at once: the new
# service takes over every node's listening socket (no port closes for a
# moment), the clients of the old one keep their links, and what the old
# one still rewrites for them names the same local ports.
node_port=$(grep -o 'event=cluster-node service=cache node=127.0.0.1:[0-9]* .*listen=127.0.0.1:[0-9]*' "$LOG" | head -n 1 | sed 's/.*listen=127.0.0.1://')
/usr/bin/python3 - "$P" "$node_port" "$W/held.out" "$W/hammer.out" <<'PYEOF2' &
import re, socket, sys, time
cfg, node = int(sys.argv[1]), int(sys.argv[2])
def conn(port):
    return socket.create_connection(("127.0.0.1", port))
def ask(s, cmd):
    s.sendall(cmd)
    buf = b""
    while not buf.endswith(b"\r\n"):
        buf += s.recv(100)
    return buf
def ask_all(s, cmd):            # every byte that comes within 1 s
    s.sendall(cmd)
    s.settimeout(1)
    buf = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            buf += d
    except socket.timeout:
        pass
    return buf
held_node, held_cfg = conn(node), conn(cfg)
before = ask(held_node, b"PING\r\n")
open(sys.argv[3] + ".ready", "w").close()
refused = tried = 0
import os
reloaded = sys.argv[3] + ".reloaded"    # the shell saw result=ok
end = time.time() + 20          # new clients on the node port meanwhile,
while time.time() < end:        # until a second after the reload
    if os.path.exists(reloaded) and end > time.time() + 1:
        end = time.time() + 1
    tried += 1
    try:
        s = conn(node)
        if ask(s, b"PING\r\n") != b"+PONG\r\n":
            refused += 1
        s.close()
    except OSError:
        refused += 1
    time.sleep(0.01)
after = ask(held_node, b"PING\r\n")
slots = ask_all(held_cfg, b"CLUSTER SLOTS\r\n")
ports = re.findall(rb"\$9\r\n127\.0\.0\.1\r\n:(\d+)", slots)
open(sys.argv[4], "w").write("tried %d refused %d\n" % (tried, refused))
open(sys.argv[3], "w").write("held %s %s\nports %s\n" % (before == b"+PONG\r\n", after == b"+PONG\r\n", " ".join(p.decode() for p in ports)))
PYEOF2
hpid=$!
wait_until 5 test -e "$W/held.out.ready"
sleep 0.5
sed -i 's/^pool_min_idle = 1$/pool_min_idle = 2/' "$W/c.ini"
kill -HUP "$RS_PID"
check "a reload that changes a cluster service applies" \
    wait_until 10 grep -q 'event=reload result=ok' "$LOG"
touch "$W/held.out.reloaded"
wait "$hpid"
check "... every node's socket taken over, none closed ($(grep -c 'taken over at a reload' "$LOG"))" \
    test "$(grep -c 'taken over at a reload' "$LOG")" -eq $((6 * NWORKERS))
check "... no client of a node port refused meanwhile ($(cat "$W/hammer.out"))" \
    grep -q 'refused 0$' "$W/hammer.out"
check "... a client held on a node port through the reload keeps its link" \
    grep -q '^held True True' "$W/held.out"
told_local() {  # every port in the old service's CLUSTER SLOTS is ours
    local p n=0
    for p in $(sed -n 's/^ports //p' "$W/held.out"); do
        ((p >= LO && p <= HI)) || return 1
        n=$((n + 1))
    done
    ((n == 6))
}
check "... the old service's client is still told local ports (CLUSTER SLOTS: $(sed -n 's/^ports //p' "$W/held.out"))" \
    told_local
check "... and it serves, through the new settings" test "$(redis-cli -c -p "$P" GET key:5)" = v5
stop_bg rs

finish
