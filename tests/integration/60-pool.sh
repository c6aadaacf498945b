#!/usr/bin/env bash
# 60-pool: warm links and recycling.  With a pool of one, a client leaves
# its link in every awkward state Redis has; the next client must find a
# pristine connection (db 0, no name, RESP2, no tracking, no subscriptions,
# logged in as the configured user, no stray replies) or a new link.  Then
# many short clients with random aborts: nobody ever sees another's bytes.
. "$(dirname "$0")/lib.sh"

start_redis_tls main "user app on >apppass ~* &* +@all"
RP=$REDIS_PORT_main
printf 'apppass\n' >"$W/app.pw"
# An upstream that accepts and hangs up mid-handshake, to watch back-off.
DEAD_PORT=$("$TOOLS/freeport")
start_bg dead "$TOOLS/fakeserver" close-after-hello "$DEAD_PORT"
{
    printf '%s\n' '[global]' 'log_level = debug'
    svc_ini one "$RP" \
        "auth_user = app" \
        "auth_password_file = $W/app.pw" \
        "pool_min_idle = 0" \
        "pool_max_idle = 1" \
        "drain_timeout = 1s"
    svc_ini many "$RP" \
        "auth_user = app" \
        "auth_password_file = $W/app.pw" \
        "pool_min_idle = 2" \
        "pool_max_idle = 2"
    svc_ini dead "$DEAD_PORT" \
        "pool_min_idle = 2" \
        "connect_timeout = 1s"
} >"$W/rs.ini"
start_redsleeve rs "$W/rs.ini"
LOG=$W/rs.log
MAIN_PID=$RS_PID
P=$RS_PORT_one

# ended COUNT: link outcomes (recycled or discarded) logged so far.
ended() {
    grep -Ec 'event=(link-recycled|link-discard) service=one |service=one .*link_end=close:' \
        "$LOG" || true
}
outcomes_above() { (($(ended) > $1)); }

# pristine NAME: the next client sees a clean connection.
pristine() {
    local name=$1 out info first
    out=$(printf 'PING\r\nCLIENT INFO\r\n' | timeout 10 redis-cli -h 127.0.0.1 -p "$P" 2>&1)
    first=$(head -n 1 <<<"$out")
    info=$(sed -n 2p <<<"$out")
    local bad=""
    [[ $first == PONG ]] || bad+=" first-reply=[$first]"
    for want in ' db=0 ' ' name= ' ' sub=0 ' ' psub=0 ' ' ssub=0 ' \
        ' multi=-1 ' ' user=app ' ' resp=2' ' flags=N '; do
        [[ " $info " == *"$want"* ]] || bad+=" missing[$want]"
    done
    if [[ -z $bad ]]; then
        ok "$name: the next client finds a pristine link"
    else
        fail "$name: the next client finds a pristine link" "$bad :: $out"
    fi
}

# leave NAME BYTES: a client sends BYTES raw, then vanishes; the pool
# settles the link (recycled or discarded) before the next client.
leave() {
    local name=$1 bytes=$2 before
    before=$(ended)
    exec 5<>/dev/tcp/127.0.0.1/"$P"
    printf '%b' "$bytes" >&5
    sleep 0.2   # let the commands reach the server
    exec 5<&-
    wait_until 10 outcomes_above "$before" || true
    pristine "$name"
}

# Warm the pool so every state below starts from a pooled link.
rcli "$P" PING >/dev/null
wait_until 10 outcomes_above 0 || true

leave "mid-MULTI" 'MULTI\r\nSET tx 1\r\n'
leave "WATCH" 'WATCH w\r\n'
leave "SELECT 5" 'SELECT 5\r\n'
leave "CLIENT SETNAME" 'CLIENT SETNAME leaver\r\n'
leave "CLIENT TRACKING on" 'HELLO 3\r\nCLIENT TRACKING on\r\nGET t\r\n'
leave "HELLO 3" 'HELLO 3\r\n'
leave "SUBSCRIBE" 'SUBSCRIBE ch:a\r\n'
rcli "$P" PUBLISH ch:a m >/dev/null
leave "PSUBSCRIBE with messages" 'PSUBSCRIBE ch:*\r\n'
leave "SSUBSCRIBE" 'SSUBSCRIBE ch:s\r\n'
leave "MONITOR" 'MONITOR\r\n'
leave "CLIENT REPLY OFF" 'CLIENT REPLY OFF\r\nSET r 1\r\n'
leave "CLIENT REPLY SKIP" 'CLIENT REPLY SKIP\r\nSET r 1\r\nGET r\r\n'
leave "BLPOP pending" 'BLPOP q:never 0\r\n'
leave "half a command" '*3\r\n$3\r\nSET\r\n$1\r\nh\r\n$5\r\nab'
leave "AUTH as another user" 'AUTH default '"$REDIS_PASSWORD"'\r\n'

# A 10k-command pipeline cut off mid-stream, replies still in flight.
pipe_cmds=$W/pipe.txt
for i in $(seq 1 10000); do printf 'SET p:%d %d\r\n' "$i" "$i"; done >"$pipe_cmds"
before=$(ended)
exec 5<>/dev/tcp/127.0.0.1/"$P"
head -c 100000 "$pipe_cmds" >&5
exec 5<&-
wait_until 10 outcomes_above "$before" || true
pristine "10k pipeline cut mid-stream"

# A huge reply in flight when the client leaves.
head -c 20000000 /dev/zero | tr '\0' z | rcli "$P" -x SET huge >/dev/null
wait_until 10 outcomes_above "$(($(ended) - 1))" || true
before=$(ended)
exec 5<>/dev/tcp/127.0.0.1/"$P"
printf 'GET huge\r\n' >&5
dd bs=1000 count=1 <&5 >/dev/null 2>&1
exec 5<&-
wait_until 10 outcomes_above "$before" || true
pristine "huge reply in flight"

# A client's own RESET: stays logged in (our AUTH follows, its +OK is
# dropped) and sees exactly +RESET.
out=$(printf 'SELECT 3\r\nRESET\r\nACL WHOAMI\r\nCLIENT INFO\r\n' |
    redis-cli -h 127.0.0.1 -p "$P" 2>&1)
check "a client's RESET answers exactly RESET" \
    test "$(sed -n 2p <<<"$out")" = RESET
check "... and the client stays logged in as the injected user" \
    test "$(sed -n 3p <<<"$out")" = app
check "... with its state reset (db 0)" grep -q ' db=0 ' <<<"$(sed -n 4p <<<"$out")"

# HELLO without AUTH on an injected link.
out=$(printf 'HELLO 3\r\nACL WHOAMI\r\n' | redis-cli -h 127.0.0.1 -p "$P" 2>&1)
check "HELLO 3 without AUTH works on an injected link" grep -q '^app$' <<<"$out"

check "clean links were recycled (RESET + AUTH answered)" \
    grep -q 'event=link-recycled service=one' "$LOG"
check "unclean links were discarded, not recycled (pubsub)" \
    grep -q 'link_end=close:pubsub' "$LOG"
check "warm links were handed out (no handshake on the client's path)" \
    grep -q 'service=one .*link=pooled' "$LOG"

# Leakage: many short clients in parallel, each checking its own values,
# with random aborts; nobody may see a value that is not theirs.
leak_client() {
    local i=$1 n v out
    for n in 1 2 3; do
        v="v-$i-$n-$RANDOM"
        if ((RANDOM % 4 == 0)); then
            # abort after sending, replies still in flight.  Its own key:
            # commands a client sent before leaving still run, possibly
            # after the next client's (its link may connect later).
            exec 6<>/dev/tcp/127.0.0.1/"$RS_PORT_many"
            printf 'SET leak:%d:gone %s\r\nGET leak:%d:gone\r\n' "$i" "$v" "$i" >&6
            exec 6<&-
            continue
        fi
        out=$(printf 'SET leak:%d %s\r\nGET leak:%d\r\n' "$i" "$v" "$i" |
            redis-cli -h 127.0.0.1 -p "$RS_PORT_many" 2>&1)
        if [[ $out != "OK"$'\n'"$v" ]]; then
            echo "client $i round $n: [$out] wanted [$v]"
        fi
    done
}
: >"$W/leak.out"
leakers=()
for i in $(seq 1 60); do
    leak_client "$i" >>"$W/leak.out" &
    leakers+=($!)
done
wait "${leakers[@]}"
if [[ -s $W/leak.out ]]; then
    fail "180 short clients with random aborts: no foreign bytes" \
        "$(head -n 5 "$W/leak.out")"
else
    ok "180 short clients with random aborts: no foreign bytes"
fi
# (60 at once against pool_max_idle = 2: how many find a warm link
# depends on timing; a pool that never hands one out gives 0.)
n_pooled=$(grep -c 'service=many .*link=pooled' "$LOG" || true)
check "... and warm links served many of them ($n_pooled)" \
    test "$n_pooled" -ge 10

# A failing upstream: the pool backs off instead of storming it, and a
# client still gets the clear error at once.
out=$(timeout 5 redis-cli -h 127.0.0.1 -p "$RS_PORT_dead" PING 2>&1 || true)
check "while the upstream fails, a client gets the RESP error promptly" \
    grep -q "ERR redsleeve: upstream dead .* TLS handshake failed" <<<"$out"
# Over the whole run so far (about 15 s), without back-off the pool would
# have retried twice per 250 ms tick; with it, a handful of times.  Each
# worker's pool backs off on its own, so the bound is per worker.
attempts=$(grep -c '^conn ' "$W/dead.log" || true)
elapsed=$SECONDS
if ((attempts >= 3 && attempts <= NWORKERS * (4 * elapsed / 3 + 6))); then
    ok "refills retry with back-off: $attempts attempts in ${elapsed} s of outage"
else
    fail "refills retry with back-off" "$attempts attempts in ${elapsed} s"
fi

# A server without RESET (before 6.2; here renamed away): noticed once,
# then links are closed after use instead of recycled.
start_redis_tls old 'rename-command RESET ""'
{
    printf '%s\n' '[global]' 'log_level = debug'
    svc_ini old "$REDIS_PORT_old" \
        "auth_password_env = RS_OLD_PW" \
        "pool_min_idle = 0"
} >"$W/old.ini"
RS_OLD_PW=$REDIS_PASSWORD start_redsleeve rsold "$W/old.ini"
# (SELECT touches connection state: the link needs RESET to be lent again;
# a clean session's link would go back without one)
for _ in 1 2 3; do
    rcli "$RS_PORT_old" SELECT 1 >/dev/null
    rcli "$RS_PORT_old" SET o 1 >/dev/null
done
check "old server: every client still served" \
    test "$(rcli "$RS_PORT_old" GET o)" = 1
check "old server: RESET rejection noticed and logged" \
    wait_until 5 grep -q 'event=no-reset service=old' "$W/rsold.log"
n_noreset=$(grep -c 'event=no-reset' "$W/rsold.log")
check "... once (per worker that served one of them)" \
    test "$n_noreset" -ge 1 -a "$n_noreset" -le "$NWORKERS"
check "... and later links are closed, not recycled" \
    grep -q 'service=old .*link_end=close:no-pool' "$W/rsold.log"

# The counters, logged when the proxy stops.
kill -TERM "$MAIN_PID"
wait_until 10 grep -q 'event=exit' "$LOG" || true
stats=$(grep 'event=stats service=many ' "$LOG" || true)
# (one stats line per worker: summed)
resumed=$(sed -n 's/.*handshakes_resumed=\([0-9]*\).*/\1/p' <<<"$stats" |
    awk '{s += $1} END {print s + 0}')
check "new links resume the TLS session (counter > 0)" test "${resumed:-0}" -gt 0
check "pool counters: hits and recycles counted" \
    grep -Eq 'pool_hits=[1-9][0-9]* .*links_recycled=[1-9]' <<<"$stats"
check "closed-link reasons are counted" \
    grep -q 'event=stats service=one .*closed_pubsub=[1-9]' "$LOG"

finish
