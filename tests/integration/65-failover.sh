#!/usr/bin/env bash
# 65-failover: an ElastiCache-style failover rehearsal.  A test DNS server
# (tests/tools/dnsserver, libevent's evdns server side) answers for
# redis.test; redsleeve's resolver is pointed at it with resolv_conf.
# redis A (127.0.0.2) is the primary, B (127.0.0.3, same port) its TLS
# replica.  A writer INCRs a counter through redsleeve (role = primary)
# without pause; then A hands over with FAILOVER (B primary, A its
# replica, answering writes with -READONLY) and the name moves to B.
# Checks: every acknowledged write is on B; writes land on B within
# dns_refresh + a little; the writer saw only a few errors/closes; A
# received no write after it answered READONLY; idle links to A are gone.
# Also: a role = primary service whose name points at a replica never
# hands that link to a client; role = replica accepts it.
. "$(dirname "$0")/lib.sh"

mono() { python3 -c 'import time; print("%.3f" % time.monotonic())'; }

# The two servers: the same TLS port on two loopback addresses.
PORT=$("$TOOLS/freeport")
redis_at() {  # redis_at NAME ADDR [LINES...]
    local name=$1 addr=$2
    shift 2
    {
        printf 'bind %s\nport 0\ntls-port %s\n' "$addr" "$PORT"
        # Replicas are known by this address (FAILOVER connects to it).
        printf 'replica-announce-ip %s\nbind-source-addr %s\n' "$addr" "$addr"
        printf 'tls-cert-file %s\ntls-key-file %s\n' "$PKI/server.crt" "$PKI/server.key"
        printf 'tls-ca-cert-file %s\ntls-auth-clients no\ntls-replication yes\n' "$PKI/ca.crt"
        printf 'requirepass %s\nmasterauth %s\n' "$REDIS_PASSWORD" "$REDIS_PASSWORD"
        printf 'save ""\nappendonly no\ndir %s\nlogfile %s\n' "$W" "$W/$name.log"
        printf 'repl-diskless-sync yes\nrepl-diskless-sync-delay 0\n'
        if (($#)); then printf '%s\n' "$@"; fi
    } >"$W/$name.conf"
    start_bg "$name-stdout" redis-server "$W/$name.conf"
}
rc_at() {  # rc_at ADDR ARGS...: straight to a server over TLS
    local addr=$1
    shift
    redis-cli --tls --cacert "$PKI/ca.crt" --sni redis.test -h "$addr" \
        -p "$PORT" -a "$REDIS_PASSWORD" --no-auth-warning "$@"
}
redis_at a 127.0.0.2
redis_at b 127.0.0.3 "replicaof 127.0.0.2 $PORT"
wait_until 10 rc_at 127.0.0.2 PING
in_sync() { rc_at 127.0.0.3 INFO replication | grep -q 'master_link_status:up'; }
if ! wait_until 20 in_sync; then
    fail "B replicates A" "$(tail -n 5 "$W/b.log")"
    finish
fi

# The name, served by our DNS server.
printf 'redis.test 127.0.0.2\n' >"$W/zone"
start_bg dns "$TOOLS/dnsserver" "$W/zone" "$W/dns.port"
wait_until 5 test -s "$W/dns.port"
printf 'nameserver 127.0.0.1:%s\noptions timeout:1 attempts:2\n' \
    "$(cat "$W/dns.port")" >"$W/resolv.conf"
move_name() {  # move_name ADDR: atomically
    printf 'redis.test %s\n' "$1" >"$W/zone.new"
    mv "$W/zone.new" "$W/zone"
}

printf '%s\n' "$REDIS_PASSWORD" >"$W/pw"
sect() {  # sect NAME HOST ROLE [LINES...]
    local name=$1 host=$2 role=$3
    shift 3
    printf '[%s]\nlisten = 127.0.0.1:0\nupstream = %s:%s\n' "$name" "$host" "$PORT"
    printf 'verify_host = redis.test\nca_file = %s\n' "$PKI/ca.crt"
    printf 'auth_password_file = %s\nrole = %s\n' "$W/pw" "$role"
    if (($#)); then printf '%s\n' "$@"; fi
}
{
    printf '[global]\nresolv_conf = %s\nadmin_listen = 127.0.0.1:0\n\n' "$W/resolv.conf"
    sect primary redis.test primary 'dns_refresh = 1s' 'pool_min_idle = 2'
    sect wrongrole 127.0.0.3 primary 'pool_min_idle = 1'
    sect replica 127.0.0.3 replica 'pool_min_idle = 1'
} >"$W/rs.ini"
start_redsleeve rs "$W/rs.ini"
P=$RS_PORT_primary
A=$RS_PORT_admin
LOG=$W/rs.log

# Role checks, before anything moves.
out=$(rcli "$RS_PORT_wrongrole" SET x 1 2>&1 || true)
check "role = primary refuses a replica's link (the client gets the reason)" \
    grep -q 'wrong role: 127.0.0.3:[0-9]* is not a primary (ROLE says slave)' <<<"$out"
check "... and the replica never ran the command" \
    test "$(rc_at 127.0.0.3 INFO commandstats | grep -c '^cmdstat_set:')" = 0
check "... logged as an upstream error with the reason" \
    grep -q 'event=upstream-error service=wrongrole .*reason="wrong role: ' "$LOG"
failures() {  # failures KIND: the wrongrole service's counter in /metrics
    metric "redsleeve_upstream_failures_total{service=\"wrongrole\",kind=\"$1\"}"
}
role_counted() { (($(failures role) >= 1)); }
check "... counted in /metrics as upstream_failures_total{kind=\"role\"}" \
    wait_until 5 role_counted
others=
for kind in dns connect tls auth other; do
    others+="${others:+ }$kind=$(failures "$kind")"
done
check "... and under no other kind ($others)" \
    test "$others" = "dns=0 connect=0 tls=0 auth=0 other=0"
check "role = replica accepts the replica" \
    test "$(rcli "$RS_PORT_replica" ROLE | head -n 1)" = slave
check "role = primary through the name reaches A, the primary" \
    test "$(rcli "$P" ROLE | head -n 1)" = master

# The rehearsal.
rc_at 127.0.0.2 SET ctr 0 >/dev/null
start_bg writer python3 "$HERE/../tools/incr_writer.py" 127.0.0.1 "$P" ctr \
    "$W/stop-writer" "$W/writer.json"
WRITER=$LAST_PID
# (Waited for, not slept on: a loaded machine starts python slowly.)
writing() { (($(rc_at 127.0.0.2 GET ctr) > 50)); }
wait_until 10 writing || true
before=$(rc_at 127.0.0.2 GET ctr)
check "the writer is writing to A ($before so far)" test "$before" -gt 50
t_failover=$(mono)
rc_at 127.0.0.2 FAILOVER TIMEOUT 5000 >"$W/failover.out" 2>&1
b_master() { rc_at 127.0.0.3 ROLE | head -n 1 | grep -qx master; }
check "B is promoted by FAILOVER" wait_until 10 b_master
sleep 0.3         # ElastiCache moves the name a moment after promoting
move_name 127.0.0.3
t_moved=$(mono)
grows_on_b() {
    local n
    n=$(rc_at 127.0.0.3 GET ctr)
    sleep 0.2
    (($(rc_at 127.0.0.3 GET ctr) > n))
}
check "writes land on B" wait_until 5 grows_on_b
t_flowing=$(mono)
sleep 2
touch "$W/stop-writer"
wait_until 10 test -s "$W/writer.json"
stop_pid "$WRITER" 2>/dev/null || true

read -r acked highest nerr nclose first_bad last_bad gap <<<"$(python3 - "$W/writer.json" "$t_failover" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
t0 = float(sys.argv[2])
ev = [e for e in d["events"] if e[0] >= t0 - 0.5]
errs = [e for e in ev if e[1] == "error"]
closes = [e for e in ev if e[1] == "close"]
first = min((e[0] for e in ev), default=t0) - t0
last = max((e[0] for e in ev), default=t0) - t0
print(d["acked"], d["highest"], len(errs), len(closes),
      "%.3f" % first, "%.3f" % last, "%.3f" % (last - first))
EOF
)"
final_b=$(rc_at 127.0.0.3 GET ctr)
echo "rehearsal: acked=$acked highest=$highest B=$final_b errors=$nerr" \
    "closes=$nclose first_event=+${first_bad}s last_event=+${last_bad}s" \
    "name_moved=+$(awk -v a="$t_moved" -v b="$t_failover" 'BEGIN {printf "%.3f", a - b}')s" \
    "writes_on_B=+$(awk -v a="$t_flowing" -v b="$t_failover" 'BEGIN {printf "%.3f", a - b}')s" \
    | tee "$W/rehearsal.txt"
check "every acknowledged write is on B ($acked acked, B has $final_b)" \
    test "$acked" -le "$final_b" -a "$highest" -le "$final_b"
check "the writer kept writing after the switch (acked > before)" \
    test "$acked" -gt "$before"
# (Each worker's links meet the failover on their own: per worker.)
check "the writer saw at most a few errors and closes ($nerr + $nclose)" \
    test $((nerr + nclose)) -le $((10 * NWORKERS))
check "... all within dns_refresh + 1 s of the failover (last at +${last_bad}s)" \
    awk -v l="$last_bad" 'BEGIN {exit !(l <= 2.3)}'
rejected=$(rc_at 127.0.0.2 INFO commandstats | sed -n 's/^cmdstat_incr:.*rejected_calls=\([0-9]*\).*/\1/p')
readonly_seen=$(python3 -c 'import json,sys; print(sum(1 for e in json.load(open(sys.argv[1]))["events"] if "READONLY" in e[2]))' "$W/writer.json")
check "A got no write after its READONLY (rejected $rejected, writer saw $readonly_seen)" \
    test "${rejected:-0}" -le 1 -a "${rejected:-0}" = "$readonly_seen"
check "the READONLY link was marked stale and the name resolved again" \
    grep -q 'event=upstream-stale service=primary peer=127.0.0.2:' "$LOG"
check "the client on it was closed at a command boundary (reason=failover)" \
    grep -q 'service=primary .*reason=failover link=.* link_end=close:stale' "$LOG"
links_to_a() {
    rc_at 127.0.0.2 CLIENT LIST | grep -v 'cmd=client' | grep -vc 'flags=M' || true
}
no_links_to_a() { test "$(links_to_a)" = 0; }
check "no link of the primary service stays on A (the pool follows the name)" \
    wait_until 3 no_links_to_a
cp "$W/rehearsal.txt" "${REHEARSAL_OUT:-/dev/null}" 2>/dev/null || true

finish
