#!/usr/bin/env bash
# 47-cluster-moves: the topology changes under a writing client, through
# cluster mode (issue #16).  A slot moves between primaries (SETSLOT
# IMPORTING / MIGRATING, MIGRATE key by key, SETSLOT NODE) while redis-py's
# RedisCluster writes into it: -ASK, then -MOVED, rewritten to local
# ports, and no write fails or is lost.  Then a replica takes over its
# primary (CLUSTER FAILOVER) while the client writes to that shard: it
# follows the -MOVED to the new primary's port, and every write it was
# told succeeded is there.
. "$(dirname "$0")/lib.sh"

start_cluster 3 1
cluster_service_ini >"$W/c.ini"
start_redsleeve rs "$W/c.ini"
P=$RS_PORT_cache
A=$RS_PORT_admin

# writer TAG SECONDS OUT: redis-py RedisCluster SETs TAG:i for SECONDS,
# then reads back every one it was told was stored.
writer() {
    /usr/bin/python3 - "$P" "$1" "$2" >"$3" 2>&1 <<'EOF'
import sys, time
from redis.cluster import RedisCluster
port, tag, secs = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
rc = RedisCluster(host="127.0.0.1", port=port)
acked, errors, i = [], 0, 0
end = time.time() + secs
while time.time() < end:
    key = "{%s}:%d" % (tag, i)
    try:
        if rc.set(key, i):
            acked.append(i)
    except Exception as e:
        errors += 1
        print("error", type(e).__name__, e)
    i += 1
    time.sleep(0.002)
lost = [k for k in acked if rc.get("{%s}:%d" % (tag, k)) != str(k).encode()]
print("acked", len(acked), "errors", errors, "lost", len(lost))
EOF
}
id_of() { rcli_tls "$(cport "$1")" CLUSTER MYID; }
# --- a slot moves from node 1 to node 2 while the client writes into it
slot=$(rcli_tls "$(cport 1)" CLUSTER KEYSLOT '{b}')    # 3300: node 1's
writer b 6 "$W/w1.out" &
wpid=$!
sleep 1
rcli_tls "$(cport 2)" CLUSTER SETSLOT "$slot" IMPORTING "$(id_of 1)" >/dev/null
rcli_tls "$(cport 1)" CLUSTER SETSLOT "$slot" MIGRATING "$(id_of 2)" >/dev/null
for round in 1 2 3 4 5; do      # key by key, while new ones keep coming
    for k in $(rcli_tls "$(cport 1)" CLUSTER GETKEYSINSLOT "$slot" 50); do
        rcli_tls "$(cport 1)" MIGRATE 127.0.0.1 "$(cport 2)" "$k" 0 5000 \
            AUTH "$REDIS_PASSWORD" >/dev/null
    done
    sleep 0.3
done
for k in $(rcli_tls "$(cport 1)" CLUSTER GETKEYSINSLOT "$slot" 10000); do
    rcli_tls "$(cport 1)" MIGRATE 127.0.0.1 "$(cport 2)" "$k" 0 5000 \
        AUTH "$REDIS_PASSWORD" >/dev/null
done
# The target first, as redis-cli --cluster does: with the source first,
# for a moment the source says MOVED to the target and the target (still
# importing) MOVED back, and redis-py spends its 16 redirects in that loop
# ("TTL exhausted", CI of stop 23 and CI7).
for i in 2 1 3; do
    rcli_tls "$(cport "$i")" CLUSTER SETSLOT "$slot" NODE "$(id_of 2)" >/dev/null
done
wait "$wpid" || true
check "a slot moved under a writing client: no error, nothing lost ($(tail -n 1 "$W/w1.out"))" \
    grep -qE '^acked [1-9][0-9]* errors 0 lost 0$' "$W/w1.out"
check "... the slot is node 2's now, and every key went with it" \
    test "$(rcli_tls "$(cport 2)" CLUSTER COUNTKEYSINSLOT "$slot")" -gt 0 -a \
         "$(rcli_tls "$(cport 1)" CLUSTER COUNTKEYSINSLOT "$slot")" = 0
redirects=$(metric 'redsleeve_cluster_rewrites_total{service="cache",kind="redirect"}')
check "-ASK and -MOVED were rewritten on the way ($redirects)" test "${redirects:-0}" -gt 0

# --- node 6 (node 3's replica) takes over while the client writes there
tag=a                               # slot 15495: node 3's
writer "$tag" 8 "$W/w2.out" &
wpid=$!
sleep 1.5
rcli_tls "$(cport 6)" CLUSTER FAILOVER >/dev/null
took_over() { rcli_tls "$(cport 6)" ROLE | head -n 1 | grep -qx master; }
check "the replica took over (CLUSTER FAILOVER)" wait_until 20 took_over
wait "$wpid" || true
check "the client followed it: nothing it was told was stored is lost ($(tail -n 1 "$W/w2.out"))" \
    grep -qE '^acked [1-9][0-9]* errors [0-9]+ lost 0$' "$W/w2.out"
errs=$(sed -n 's/^acked [0-9]* errors \([0-9]*\) .*/\1/p' "$W/w2.out")
check "... and recovered with at most a handful of errors ($errs)" test "${errs:-99}" -le 3

stop_bg rs
finish
