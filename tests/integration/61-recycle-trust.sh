#!/usr/bin/env bash
# 61-recycle-trust: a recycled link is as good as a new one, against an
# adversarial client and real ones (issue: "Recycling you can trust").
#  1. Inline commands are read as Redis reads them ("subscribe", \x73,
#     \v, quotes mid-word, mixed with RESP), and a reset must answer a
#     random nonce: an attacker who pipelines its own RESET cannot make
#     the next client receive attacker-chosen bytes.
#  2. A client that leaves while blocked (BLPOP and family, XREAD[GROUP]
#     BLOCK, WAIT) passes its close on at once: the next job stays queued.
#  3. A READONLY a script returns does not flush the pool (ROLE says
#     master); it is checked, not believed.
#  4. A clean session (only commands that touch no connection state, sent
#     as arrays) goes back with nothing sent to the server; one that
#     touched state (SELECT, CLIENT SETNAME, HELLO 3, CLIENT TRACKING,
#     READONLY, WATCH, MULTI, AUTH) comes back pristine.
#  5. With default pool settings, 50 connect-per-request clients cost the
#     server few connections.
. "$(dirname "$0")/lib.sh"
RAW=$HERE/../tools/raw.py

start_redis_tls main "user app on >apppass ~* &* +@all"
RP=$REDIS_PORT_main
printf 'apppass\n' >"$W/app.pw"
# A 150-byte user name and a 1,024-byte password: RESET + AUTH (1,220
# bytes) did not fit the pool's fixed command buffer, which silently
# turned recycling off; now the command is made to measure.
LONGPW=$(head -c 1024 /dev/zero | tr '\0' L)
LONGUSER=$(head -c 150 /dev/zero | tr '\0' u)
printf '%s\n' "$LONGPW" >"$W/long.pw"
rcli_tls "$RP" ACL SETUSER "$LONGUSER" on ">$LONGPW" '~*' '&*' '+@all' >/dev/null
{
    printf '%s\n' '[global]' 'log_level = debug'
    # one pooled link: the attacker's link is the victim's next one
    svc_ini one "$RP" \
        "auth_user = app" \
        "auth_password_file = $W/app.pw" \
        "pool_min_idle = 0" \
        "pool_max_idle = 1" \
        "drain_timeout = 5s"
    svc_ini prim "$RP" \
        "auth_user = app" \
        "auth_password_file = $W/app.pw" \
        "role = primary" \
        "pool_min_idle = 2"
    svc_ini long "$RP" \
        "auth_user = $LONGUSER" \
        "auth_password_file = $W/long.pw" \
        "pool_min_idle = 0"
    # no AUTH injected: the clients log in themselves (as the bench does)
    svc_ini noinj "$RP" "pool_min_idle = 0"
    # every pool setting at its default (session mode: a client's own
    # link goes back; shared mode's rules are test 52's)
    svc_ini dflt "$RP" \
        "auth_user = app" \
        "auth_password_file = $W/app.pw" \
        "pool_mode = session"
} >"$W/rs.ini"
start_redsleeve rs "$W/rs.ini"
LOG=$W/rs.log
P=$RS_PORT_one
direct() { rcli_tls "$RP" "$@"; }

ended() {
    grep -Ec 'event=(link-recycled|link-discard) service=one |service=one .*link_end=close:' \
        "$LOG" || true
}
outcomes_above() { (($(ended) > $1)); }
accepted_above() {
    (($(grep -c 'event=accept .*service=one ' "$LOG" || true) > $1))
}

# ------------------------------------------------------------ 1. injection
direct SET mykey victim-value >/dev/null
# attack NAME SUBSCRIBE-LINE [RESET-FORM]: the attacker's pipeline, held
# by CLIENT PAUSE until the attacker has gone (a TCP reset: the link goes
# to the pool with its replies still owed).  It subscribes to four
# channels (one reply to a tokenizer that splits only on blanks, four to
# Redis), resets itself (the proxy puts AUTH behind it), then blocks: so
# its own +RESET and +OK could pass for the answers to the pool's reset,
# and the pool's own answers (and what the attacker pushes to unblock)
# would reach the next client.
attack() {
    local name=$1 sub=$2 reset=${3:-'RESET\r\n'} before out
    direct DEL inj >/dev/null
    rcli "$P" PING >/dev/null       # a warm link in the pool
    wait_until 5 outcomes_above 0 || true
    before=$(ended)
    direct CLIENT PAUSE 2500 ALL >/dev/null
    python3 "$RAW" send "$P" "${sub}${reset}BLPOP inj 0\\r\\n" rst
    wait_until 10 outcomes_above "$before" || true
    direct PING >/dev/null          # answered once the pause is over
    sleep 0.3
    # the victim asks for its key; once it is in, the attacker pushes
    accepts=$(grep -c 'event=accept .*service=one ' "$LOG" || true)
    python3 "$RAW" ask "$P" 'GET mykey\r\n' 2 >"$W/victim.out" &
    local vpid=$!
    wait_until 10 accepted_above "$accepts" || true
    sleep 0.3
    direct LPUSH inj INJECTED-BY-ATTACKER >/dev/null
    wait "$vpid" || true
    out=$(cat "$W/victim.out")
    if [[ $out == '$12\r\nvictim-value\r\n' ]]; then
        ok "injection ($name): the victim gets only its own reply"
    else
        fail "injection ($name): the victim gets only its own reply" "$out"
    fi
    direct DEL inj >/dev/null
}
attack 'quoted' '"subscribe" a b b b\r\n'
attack 'escaped \x73' '"\\x73ubscribe" a b b b\r\n'
attack 'vertical tab' '\x0bsubscribe a b b b\r\n'
attack 'form feed' '\x0csubscribe a b b b\r\n'
attack 'quote mid-word' 'sub"scribe" a b b b\r\n'
attack 'single quotes' "'subscribe' a b b b\\r\\n"
attack 'mixed inline and RESP' '\x0bSUBSCRIBE a b b b\r\n' \
    '*1\r\n$5\r\nRESET\r\n'
attack 'hidden RESET' '"subscribe" a b b b\r\n' '"reset"\r\n'
check "the tokenizer saw the subscribes (links closed for pubsub)" \
    grep -q 'service=one .*link_end=close:pubsub' "$LOG"

# 1b. The reset's answer must be exactly ours, every byte accounted for:
# a server that says one reply more after RESET (here a fake, "forge";
# a client's own pipelined RESET could leave the same behind) cannot
# pass it off, and the next client gets only its own reply.  The honest
# fake, the same but for that reply, has its link recycled.
for mode in honest forge; do
    start_bg "fake$mode" python3 "$HERE/forge-reset.py" "$mode" \
        "$PKI/server.crt" "$PKI/server.key" "$W/fake-$mode.port"
    wait_until 10 test -s "$W/fake-$mode.port"
    { printf '[global]\nlog_level = debug\n'
      printf '[f%s]\nlisten = 127.0.0.1:0\nupstream = 127.0.0.1:%s\n' "$mode" "$(cat "$W/fake-$mode.port")"
      # session mode: the next client takes the recycled link whole
      printf 'verify_host = redis.test\nca_file = %s\npool_min_idle = 0\npool_mode = session\n' "$PKI/ca.crt"; } >"$W/fake-$mode.ini"
    start_redsleeve "rsf$mode" "$W/fake-$mode.ini"
    port_var=RS_PORT_f$mode
    port=${!port_var}
    check "$mode: a client's SELECT (state: the link is reset after it)" \
        test "$(rcli "$port" SELECT 1)" = OK
    wait_until 10 grep -q "service=f$mode .*link_end=" "$W/rsf$mode.log"
    wait_until 10 grep -Eq "event=(link-discard|link-recycled) service=f$mode" "$W/rsf$mode.log" || true
    out=$(rcli "$port" PING 2>&1)
    check "$mode: the next client gets only its own reply" test "$out" = PONG
    if [[ $mode == honest ]]; then
        # With several workers the next client may reach another worker's
        # listener (SO_REUSEPORT), which holds no link: a few more clients
        # give the recycled one its chance.
        for _ in $(seq 12); do
            wait_until 1 grep -q "service=f$mode .*link=pooled" "$W/rsf$mode.log" && break
            rcli "$port" PING >/dev/null 2>&1 || true
        done
        check "honest: the reset passed and a next client had the recycled link" \
            grep -q "service=f$mode .*link=pooled" "$W/rsf$mode.log"
        check "... after RESET and ECHO <nonce>" \
            grep -qx ECHO "$W/fake-$mode.port.log"
    else
        check "forge: the reset's extra reply is caught (reset-mismatch)" \
            grep -q "event=link-discard service=fforge .*reason=reset-mismatch" "$W/rsfforge.log"
        check "... and the next client had a new link, never the pooled one" \
            bash -c "grep -q 'service=fforge .*link=new' '$W/rsfforge.log' && ! grep -q 'service=fforge .*link=pooled' '$W/rsfforge.log'"
    fi
    stop_bg "rsf$mode"
    stop_bg "fake$mode"
done

# Replies a departed client still owes (not a blocking command) are
# waited for only up to drain_timeout: a GET the server (the fake, slow
# mode) answers after 6 s costs the link after 1 s, not 6.
start_bg fakeslow python3 "$HERE/forge-reset.py" slow \
    "$PKI/server.crt" "$PKI/server.key" "$W/fake-slow.port"
wait_until 10 test -s "$W/fake-slow.port"
{ printf '[global]\nlog_level = debug\n'
  printf '[fslow]\nlisten = 127.0.0.1:0\nupstream = 127.0.0.1:%s\n' "$(cat "$W/fake-slow.port")"
  # session mode: the departed client's own link is drained
  printf 'verify_host = redis.test\nca_file = %s\npool_min_idle = 0\ndrain_timeout = 1s\npool_mode = session\n' "$PKI/ca.crt"; } >"$W/fake-slow.ini"
start_redsleeve rsfslow "$W/fake-slow.ini"
python3 "$RAW" send "$RS_PORT_fslow" '*2\r\n$3\r\nGET\r\n$1\r\nk\r\n' rst
check "an owed reply is waited for only up to drain_timeout (1 s of the server's 6)" \
    wait_until 4 grep -q 'event=link-discard service=fslow .*reason=drain-timeout' "$W/rsfslow.log"
stop_bg rsfslow
stop_bg fakeslow

# ------------------------------------------------------------ 2. blocking
# left NAME SETUP CMD CHECK...: a client sends CMD and goes away (a
# normal close); the server must see it go at once: no blocked client
# left, and CHECK (run on a direct connection after a push) succeeds.
blocked_clients() {
    direct INFO clients | sed -n 's/^blocked_clients:\([0-9]*\).*/\1/p'
}
no_blocked() { [[ $(blocked_clients) == 0 ]]; }
left_blocked() {
    local name=$1 cmd=$2
    python3 "$RAW" send "$RS_PORT_dflt" "$cmd"
    if wait_until 5 no_blocked; then
        ok "$name: the server sees the client go (no blocked client)"
    else
        fail "$name: the server sees the client go (no blocked client)" \
            "blocked_clients=$(blocked_clients)"
    fi
}
direct DEL jobs jobs2 z s >/dev/null
left_blocked BLPOP 'BLPOP jobs 0\r\n'
direct RPUSH jobs x >/dev/null
check "BLPOP: the job pushed after it left is still queued" \
    test "$(direct LLEN jobs)" = 1
direct DEL jobs >/dev/null
for c in 'BRPOP jobs 0' 'BRPOPLPUSH jobs jobs2 0' \
    'BLMOVE jobs jobs2 LEFT RIGHT 0' 'BLMPOP 0 1 jobs LEFT'; do
    left_blocked "${c%% *}" "$c\\r\\n"
    direct RPUSH jobs x >/dev/null
    check "${c%% *}: the job is still queued" test "$(direct LLEN jobs)" = 1
    direct DEL jobs jobs2 >/dev/null
done
for c in 'BZPOPMIN z 0' 'BZPOPMAX z 0' 'BZMPOP 0 1 z MIN'; do
    left_blocked "${c%% *}" "$c\\r\\n"
    direct ZADD z 1 m >/dev/null
    check "${c%% *}: the member is still there" test "$(direct ZCARD z)" = 1
    direct DEL z >/dev/null
done
direct XGROUP CREATE s g '$' MKSTREAM >/dev/null
left_blocked 'XREADGROUP BLOCK' 'XREADGROUP GROUP g c1 BLOCK 0 STREAMS s >\r\n'
direct XADD s '*' f v >/dev/null
pending=$(direct XPENDING s g | head -n 1)
check "XREADGROUP BLOCK: the new entry is in no consumer's pending list" \
    test "$pending" = 0
left_blocked 'XREAD BLOCK' 'XREAD BLOCK 0 STREAMS s $\r\n'
left_blocked 'WAIT' 'WAIT 1 0\r\n'
left_blocked 'BLPOP sent as an array' '*3\r\n$5\r\nBLPOP\r\n$4\r\njobs\r\n$1\r\n0\r\n'
left_blocked 'BLPOP quoted inline' '"blpop" jobs 0\r\n'
direct RPUSH jobs y >/dev/null
check "... and the job stays queued" test "$(direct LLEN jobs)" = 1
direct DEL jobs >/dev/null
check "links of blocked clients were closed, not recycled" \
    grep -q 'service=dflt .*link_end=close:blocked' "$LOG"
# WAITAOF exists from Redis 7.2; on older servers it is an unknown
# command, which the tracker treats as possibly blocking too.
if direct COMMAND INFO waitaof | grep -q waitaof; then
    left_blocked 'WAITAOF' 'WAITAOF 1 0 0\r\n'
fi

# ------------------------------------------------------------ 3. READONLY
stale_before=$(grep -c 'event=upstream-stale' "$LOG" || true)
rcli "$RS_PORT_prim" PING >/dev/null
wait_until 10 grep -q 'service=prim .*link_end=recycle' "$LOG" || true
out=$(rcli "$RS_PORT_prim" EVAL "return redis.error_reply('READONLY x')" 0 2>&1 || true)
check "a script's READONLY reaches the client" grep -q READONLY <<<"$out"
check "... is checked with ROLE and refuted" \
    wait_until 5 grep -q 'event=stale-hint-refuted service=prim' "$LOG"
check "... and flushes no pool" \
    test "$(grep -c 'event=upstream-stale' "$LOG" || true)" = "$stale_before"
for _ in 1 2 3 4 5; do
    rcli "$RS_PORT_prim" EVAL "return redis.error_reply('READONLY x')" 0 \
        >/dev/null 2>&1 || true
done
n_probes=$(grep -c 'event=stale-hint-refuted service=prim' "$LOG" || true)
check "... and repeated hints are rate-limited ($n_probes probes for 6)" \
    test "$n_probes" -le $((3 * NWORKERS))

# ------------------------------------------------------------ 4. clean
conns() {
    direct INFO stats | sed -n 's/^total_connections_received:\([0-9]*\).*/\1/p'
}
stat_calls() {
    direct INFO commandstats |
        sed -n "s/^cmdstat_$1:calls=\([0-9]*\),.*/\1/p" | head -n 1
}
resets0=$(stat_calls reset)
auths0=$(stat_calls auth)
conns0=$(conns)
for i in $(seq 1 20); do
    rcli "$RS_PORT_dflt" SET "clean:$i" "$i" >/dev/null
    rcli "$RS_PORT_dflt" GET "clean:$i" >/dev/null
    rcli "$RS_PORT_dflt" INCR counter >/dev/null
done
sleep 0.3
check "40 clean sessions: the server saw no RESET" \
    test "$(stat_calls reset)" = "$resets0"
# (new links log in once: AUTH may only grow with new connections)
check "... and no AUTH but on new links" \
    test $(($(stat_calls auth) - auths0)) -le $(($(conns) - conns0))
# (kept, or let go when the pool had enough already: with two workers
# and a loaded machine the refill may beat the return)
check "... their links went back without one (returned clean)" \
    grep -Eq 'event=(link-recycled service=dflt .*how=clean|link-discard service=dflt .*reason=pool-full)' "$LOG"
rcli "$RS_PORT_dflt" SELECT 2 >/dev/null
wait_until 5 test "$(stat_calls reset)" != "$resets0" || true
check "a session that ran SELECT is reset" \
    test "$(stat_calls reset)" != "$resets0"

# pristine LABEL ARGS...: a client runs ARGS (as a RESP array, like any
# client library) and leaves; the next one finds the link pristine.
# With one worker its pool (pool_min_idle = 0) holds just that link, reset
# and kept: the next client gets it (link=pooled), not a new one.
resets_kept() { grep -c 'event=link-recycled service=one .*how=reset' "$LOG" || true; }
pristine_after() {
    local label=$1 info bad="" before kept
    shift
    before=$(ended)
    kept=$(resets_kept)
    rcli "$P" "$@" >/dev/null 2>&1 || true
    wait_until 10 outcomes_above "$before" || true
    if ((NWORKERS == 1)); then
        (($(resets_kept) > kept)) || bad+=" link-not-reset-and-kept"
    fi
    info=$(rcli "$P" CLIENT INFO 2>&1)
    if ((NWORKERS == 1)); then
        wait_until 5 bash -c "tail -n 3 '$LOG' | grep -q 'event=close .*service=one '" || true
        grep 'event=close .*service=one ' "$LOG" | tail -n 1 | grep -q 'link=pooled' ||
            bad+=" next-client-not-on-the-pooled-link"
    fi
    for want in ' db=0 ' ' name= ' ' sub=0 ' ' multi=-1 ' ' user=app ' \
        ' resp=2' ' flags=N '; do
        [[ " $info " == *"$want"* ]] || bad+=" missing[$want]"
    done
    if [[ -z $bad ]]; then
        ok "after $label (array form): the next client finds a pristine link"
    else
        fail "after $label: pristine link" "$bad :: $info"
    fi
}
rcli "$P" PING >/dev/null
pristine_after "SELECT 5" SELECT 5
pristine_after "CLIENT SETNAME" CLIENT SETNAME leaver
pristine_after "HELLO 3" HELLO 3
pristine_after "CLIENT TRACKING on" CLIENT TRACKING on
pristine_after "READONLY" READONLY
pristine_after "WATCH" WATCH w
pristine_after "MULTI without EXEC" MULTI
pristine_after "AUTH as another user" AUTH default "$REDIS_PASSWORD"

# SCRIPT DEBUG turns the connection's Lua debugger on and RESET keeps it:
# that link is closed, and the next client's EVALSHA is not refused.
sha=$(rcli "$P" SCRIPT LOAD 'return 7')
before=$(ended)
rcli "$P" SCRIPT DEBUG YES >/dev/null 2>&1 || true
wait_until 10 outcomes_above "$before" || true
check "SCRIPT DEBUG: the link is closed when its client leaves" \
    grep -q 'service=one .*link_end=close:script-debug' "$LOG"
check "... and the next client's EVALSHA runs (no debugger left behind)" \
    test "$(rcli "$P" EVALSHA "$sha" 0 2>&1)" = 7

# A RESET + AUTH (+ ECHO) longer than any fixed buffer still recycles.
rcli "$RS_PORT_long" SELECT 1 >/dev/null
check "RESET + AUTH of 1,220 bytes: the link is reset and kept" \
    wait_until 10 grep -q 'event=link-recycled service=long .*how=reset' "$LOG"
check "... and the next client is logged in as that user" \
    test "$(rcli "$RS_PORT_long" ACL WHOAMI)" = "$LONGUSER"

# Without injected AUTH, RESET logs the link out and ECHO is refused
# (NOAUTH): learned once, the nonce then comes back in an unknown-command
# error, and links of clients that logged in themselves are recycled.
for _ in 1 2 3 4; do
    redis-cli -h 127.0.0.1 -p "$RS_PORT_noinj" -a "$REDIS_PASSWORD" \
        --no-auth-warning SET noinj 1 >/dev/null
done
check "no AUTH injected: the logged-out reset is learned once" \
    test "$(grep -c 'event=reset-logged-out service=noinj' "$LOG")" -le "$NWORKERS"
check "... and then links are reset and kept" \
    wait_until 10 grep -q 'event=link-recycled service=noinj .*how=reset' "$LOG"
out=$(redis-cli -h 127.0.0.1 -p "$RS_PORT_noinj" PING 2>&1 || true)
check "... logged out: a client that does not log in gets NOAUTH" \
    grep -q NOAUTH <<<"$out"

# ------------------------------------------------------------ 5. pool size
c0=$(conns)
redis-benchmark -h 127.0.0.1 -p "$RS_PORT_dflt" -c 50 -n 10000 -k 0 \
    -t set -q >"$W/bench.out" 2>&1 || true
c1=$(conns)
used=$((c1 - c0))
# (each worker keeps a pool of its own: with workers = 2 both warm up)
if ((used <= 150 * NWORKERS)); then
    ok "default pool: 50 connect-per-request clients, 10000 requests cost the server $used connections"
else
    fail "default pool: at most $((150 * NWORKERS)) server connections for 10000 requests" \
        "$used ($(tr '\r' ' ' <"$W/bench.out" | tail -c 200))"
fi

finish
