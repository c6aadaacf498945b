#!/usr/bin/env bash
# bench/cluster.sh (make bench-cluster; make bench runs it too): the
# cluster case of issue #16.  redis-benchmark --cluster through redsleeve's
# mode = cluster beside redis-benchmark --cluster --tls straight to the
# same TLS-only cluster of 3 primaries, interleaved, REPS times (default
# 5), N requests each (default 200000), -c 50 -P 1 GET and SET.  Then the
# cost of the rewriting itself: GET of one key of node 1 through node 1's
# port in cluster mode against the same through a mode = single service
# in front of node 1, same process.  Prints the medians and the ratios,
# and writes them to bench/results-cluster.txt (RESULTS moves it).
# A third target, the same cluster service with pool_mode = shared (its
# own cluster_ports), runs in the same interleaving (issue #18).  Loopback only; the cluster and redsleeve are its
# own and stopped at the end.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
REPS=${REPS:-5}
WORKERS=${WORKERS:-1}
N=${N:-200000}
RESULTS=${RESULTS:-$HERE/results-cluster.txt}
export REDSLEEVE=$ROOT/redsleeve TOOLS=$ROOT/build/tools
[[ -x $TOOLS/freeport ]] || make -C "$ROOT" -s tools
. "$ROOT/tests/integration/lib.sh"

start_cluster 3 0
base=$("$TOOLS/freeport")
printf '%s\n' "$REDIS_PASSWORD" >"$W/pw"
{ printf '[global]\nworkers = %s\n' "$WORKERS"
  printf '[bench]\nmode = cluster\nlisten = 127.0.0.1:0\nmax_clients = 10000\n'
  printf 'upstream = 127.0.0.1:%s\ncluster_ports = %s-%s\n' "$(cport 1)" "$base" "$((base + 9))"
  printf 'ca_file = %s\nauth_password_file = %s\n' "$PKI/ca.crt" "$W/pw"
  printf '[bshared]\nmode = cluster\nlisten = 127.0.0.1:0\nmax_clients = 10000\n'
  printf 'upstream = 127.0.0.1:%s\ncluster_ports = %s-%s\n' "$(cport 1)" "$((base + 10))" "$((base + 19))"
  printf 'ca_file = %s\nauth_password_file = %s\npool_mode = shared\n' "$PKI/ca.crt" "$W/pw"
  printf '[single]\nlisten = 127.0.0.1:0\nmax_clients = 10000\n'
  printf 'upstream = 127.0.0.1:%s\nverify_host = 127.0.0.1\n' "$(cport 1)"
  printf 'ca_file = %s\nauth_password_file = %s\n' "$PKI/ca.crt" "$W/pw"; } >"$W/bench.ini"
start_redsleeve rs "$W/bench.ini"
P=$RS_PORT_bench
PS=$RS_PORT_bshared
S=$RS_PORT_single
# node 1's local port: the one a redirect for its slots names
redis-cli -p "$P" SET '{b}k' v >/dev/null
N1=$(redis-cli -p "$P" CLUSTER SLOTS | awk 'NR == 4')

# rps TARGET TEST: requests per second of one redis-benchmark run.
rps() {
    local args=(--cluster -c 50 -P 1 -n "$N" -t "$2" --csv -h 127.0.0.1)
    if [[ $1 == direct ]]; then
        args+=(-p "$(cport 1)" --tls --cacert "$PKI/ca.crt" -a "$REDIS_PASSWORD")
    elif [[ $1 == shared ]]; then
        args+=(-p "$PS")
    else
        args+=(-p "$P")
    fi
    redis-benchmark "${args[@]}" 2>/dev/null | awk -F'"' '$2 == "GET" || $2 == "SET" {print $4}'
}
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

# one GET of node 1's key (slot 3300) through PORT: rps
rps_key() {
    redis-benchmark -h 127.0.0.1 -p "$1" -c 50 -P 1 -n "$N" --csv GET '{b}k' \
        2>/dev/null | awk -F'"' '$2 ~ /^GET/ {print $4}'
}

declare -A got
for rep in $(seq "$REPS"); do
    for t in get set; do
        for target in direct redsleeve shared; do
            got[$target,$t]+="$(rps "$target" "$t") "
        done
    done
    got[node,key]+="$(rps_key "$N1") "
    got[single,key]+="$(rps_key "$S") "
done
{
    printf '# bench/cluster.sh, %s: redis-benchmark --cluster -c 50 -P 1 -n %s, %s reps, medians (rps)\n' \
        "$(date -u +%Y-%m-%dT%H:%MZ)" "$N" "$REPS"
    printf '# 3 primaries, TLS only, on loopback; redsleeve mode = cluster (workers = %s)\n' "$WORKERS"
    for t in get set; do
        d=$(tr ' ' '\n' <<<"${got[direct,$t]}" | grep . | median)
        r=$(tr ' ' '\n' <<<"${got[redsleeve,$t]}" | grep . | median)
        h=$(tr ' ' '\n' <<<"${got[shared,$t]}" | grep . | median)
        printf '%s direct_tls=%s redsleeve=%s ratio=%s shared=%s shared_ratio=%s runs_direct=[%s] runs_redsleeve=[%s] runs_shared=[%s]\n' \
            "$t" "$d" "$r" "$(awk -v a="$r" -v b="$d" 'BEGIN {printf "%.2f", a / b}')" \
            "$h" "$(awk -v a="$h" -v b="$d" 'BEGIN {printf "%.2f", a / b}')" \
            "${got[direct,$t]% }" "${got[redsleeve,$t]% }" "${got[shared,$t]% }"
    done
    c=$(tr ' ' '\n' <<<"${got[node,key]}" | grep . | median)
    g=$(tr ' ' '\n' <<<"${got[single,key]}" | grep . | median)
    printf 'rewrite_cost GET_one_key single_mode=%s cluster_node_port=%s ratio=%s runs_single=[%s] runs_cluster=[%s]\n' \
        "$g" "$c" "$(awk -v a="$c" -v b="$g" 'BEGIN {printf "%.2f", a / b}')" \
        "${got[single,key]% }" "${got[node,key]% }"
} | tee "$RESULTS"
stop_bg rs
finish
