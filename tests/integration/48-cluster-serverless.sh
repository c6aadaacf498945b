#!/usr/bin/env bash
# 48-cluster-serverless: the shape ElastiCache Serverless presents (issue
# #16): a cluster of one primary owning every slot and a replica beside
# it.  Through mode = cluster a cluster client sees both at 127.0.0.1 on
# local ports, writes to the primary's and reads with READONLY from the
# replica's.
. "$(dirname "$0")/lib.sh"

start_cluster 1 1
base=$("$TOOLS/freeport")
printf '%s\n' "$REDIS_PASSWORD" >"$W/pw"
{ printf '[cache]\nmode = cluster\nlisten = 127.0.0.1:0\n'
  printf 'upstream = 127.0.0.1:%s\ncluster_ports = %s-%s\n' "$(cport 1)" "$base" "$((base + 4))"
  printf 'ca_file = %s\nauth_password_file = %s\n' "$PKI/ca.crt" "$W/pw"; } >"$W/c.ini"
start_redsleeve rs "$W/c.ini"
P=$RS_PORT_cache

out=$(/usr/bin/python3 - "$P" "$base" <<'EOF' 2>&1
import sys, time
import redis
from redis.cluster import RedisCluster
port, lo = int(sys.argv[1]), int(sys.argv[2])
slots = redis.Redis(host="127.0.0.1", port=port).execute_command("CLUSTER SLOTS")
rng = slots[0]
nodes = [(n[0].decode(), int(n[1])) for n in rng[2:]]
shape = len(slots) == 1 and rng[0] == 0 and rng[1] == 16383 and len(nodes) == 2
local = all(h == "127.0.0.1" and lo <= p <= lo + 4 for h, p in nodes)
rc = RedisCluster(host="127.0.0.1", port=port)
for i in range(100):
    rc.set("s:%d" % i, i)
r = redis.Redis(host="127.0.0.1", port=nodes[1][1])
r.execute_command("READONLY")
ok = False
for _ in range(50):
    if r.get("s:99") == b"99":
        ok = True
        break
    time.sleep(0.1)
print("shape", shape, "local", local, "replica_read", ok)
EOF
) || true
check "one node owning all slots and its replica, both on local ports, written and read ($out)" \
    grep -qx 'shape True local True replica_read True' <<<"$out"

stop_bg rs
finish
