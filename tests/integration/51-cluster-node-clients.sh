#!/usr/bin/env bash
# 51-cluster-node-clients: the Node.js cluster clients from npm (ioredis
# Cluster, node-redis createCluster; tests/node, `make node-clients`) and
# redis-benchmark --cluster through cluster mode (issue #16): every node at
# 127.0.0.1, 300 keys over the slots, a pipeline over many slots, MULTI in
# one slot, CROSSSLOT as the server says it, BLPOP, sharded and classic
# pub/sub.
. "$(dirname "$0")/lib.sh"

if [ ! -d "$HERE/../node/node_modules/ioredis" ] ||
    [ ! -d "$HERE/../node/node_modules/redis" ]; then
    fail "the Node.js clients are installed" "run: make node-clients (npm)"
    finish
fi

start_cluster 3 1
cluster_service_ini >"$W/c.ini"
start_redsleeve rs "$W/c.ini"
P=$RS_PORT_cache

# field JSON NAME: the value of NAME in a one-line JSON object.
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get(sys.argv[2]))' "$1" "$2"; }
for client in ioredis node-redis; do
    out=$(node "$HERE/cluster-clients.js" "$client" "$P" 2>"$W/$client.err" | tail -n 1) || true
    check "$client: runs to the end ($(head -c 300 <<<"$out"))" \
        test "$(field "$out" error)" = None
    check "$client: 3 primaries, every node at 127.0.0.1" \
        test "$(field "$out" masters) $(field "$out" local)" = "3 True"
    check "$client: 300 keys over the slots written and read back" \
        test "$(field "$out" keys)" = 300
    check "$client: MULTI in one slot, CROSSSLOT unchanged, BLPOP" \
        test "$(field "$out" multi) $(field "$out" crossslot) $(field "$out" blpop)" = "True True True"
    check "$client: sharded pub/sub (SSUBSCRIBE) and pub/sub" \
        test "$(field "$out" spubsub) $(field "$out" pubsub)" = "True True"
    if [ "$client" = ioredis ]; then io=$out; fi
done
check "ioredis: a pipeline of 50 commands, every reply in" \
    test "$(field "$io" pipeline)" = 50

out=$(redis-benchmark --cluster -h 127.0.0.1 -p "$P" -n 3000 -c 10 -t set,get -q 2>&1 | tr '\r' '\n') || true
bench_ok() {
    grep -Eq '^SET: [0-9.]+ requests per second' <<<"$out" &&
        grep -Eq '^GET: [0-9.]+ requests per second' <<<"$out" &&
        ! grep -qi error <<<"$out" &&
        test "$(grep -c '^Master [0-9]*: [0-9a-f]* 127.0.0.1:' <<<"$out")" = 3
}
check "redis-benchmark --cluster: 3 primaries at 127.0.0.1, SET and GET through their ports ($(grep -E '^(SET|GET): [0-9]' <<<"$out" | tr '\n' ' '))" \
    bench_ok

stop_bg rs
finish
