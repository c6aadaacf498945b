#!/usr/bin/env bash
# 90-stunnel: the stunnel client-mode file from the AWS in-transit
# encryption guide runs as is (host names pointed at test servers; the pid
# path moved into the work dir), with verification ON: the system trust
# store (here the test CA, through OpenSSL's SSL_CERT_FILE) and the host
# name.  --check-config shows what each key became.
. "$(dirname "$0")/lib.sh"

start_redis_tls primary
start_redis_tls replica
cat >"$W/stunnel.conf" <<EOF
fips = no
setuid = root
setgid = root
pid = $W/stunnel.pid
debug = 7
delay = yes
options = NO_SSLv2
options = NO_SSLv3
[redis-cli]
   client = yes
   accept = 127.0.0.1:0
   connect = localhost:$REDIS_PORT_primary
[redis-cli-replica]
   client = yes
   accept = 127.0.0.1:0
   connect = localhost:$REDIS_PORT_replica
EOF
# stunnel repeats "options"; so does this file, and that is fine for it.
export SSL_CERT_FILE=$PKI/ca.crt

out=$("$REDSLEEVE" -c "$W/stunnel.conf" --check-config 2>&1) && rc=0 || rc=$?
check "the AWS stunnel file passes --check-config" test "$rc" -eq 0
check "... showing accept became listen" \
    grep -q 'stunnel.conf:11: \[redis-cli\] accept -> listen = 127.0.0.1:0' <<<"$out"
check "... connect became upstream" \
    grep -q 'connect -> upstream = localhost:' <<<"$out"
check "... debug = 7 became log_level = debug" \
    grep -q 'debug = 7 -> log_level = debug' <<<"$out"
check "... setuid became user" grep -q 'setuid -> user = root' <<<"$out"
check "... fips noted as ignored" grep -q 'fips = no: stunnel option with no meaning here' <<<"$out"
check "... and verification stays full (host name from connect)" \
    grep -q '^\[redis-cli\] .*verify full host localhost, sni localhost, ca system store' <<<"$out"

start_redsleeve rs "$W/stunnel.conf"
pid_written() { [[ $(cat "$W/stunnel.pid" 2>/dev/null) == "$RS_PID" ]]; }
check "pid file written" wait_until 5 pid_written
out=$(redis-cli -h 127.0.0.1 -p "$RS_PORT_redis_cli" -a "$REDIS_PASSWORD" \
    --no-auth-warning PING 2>&1)
check "traffic passes through the primary section" test "$out" = PONG
out=$(redis-cli -h 127.0.0.1 -p "$RS_PORT_redis_cli_replica" \
    -a "$REDIS_PASSWORD" --no-auth-warning PING 2>&1)
check "... and the replica section" test "$out" = PONG

# Verification is really on: a host name the certificate lacks is refused.
sed "s/connect = localhost:$REDIS_PORT_primary/connect = 127.0.0.2:$REDIS_PORT_primary/" \
    "$W/stunnel.conf" | sed "s|^pid = .*|pid = $W/s2.pid|" >"$W/wrong.conf"
sed -i "s/^\[redis-cli-replica\]/[unused]/" "$W/wrong.conf"
out=$("$REDSLEEVE" -c "$W/wrong.conf" -t 2>&1) && rc=0 || rc=$?
check "a stunnel file is held to the same verification" \
    grep -q 'verify full host 127.0.0.2' <<<"$out"

out=$(printf '[s]\nclient = no\naccept = 1\nconnect = h:1\n' >"$W/server.conf";
    "$REDSLEEVE" -c "$W/server.conf" -t 2>&1) && rc=0 || rc=$?
check "stunnel server mode is refused, with the line" \
    grep -q 'server.conf:2: client: "no": redsleeve only runs stunnel' <<<"$out"

kill -TERM "$RS_PID"
wait_until 10 gone
check "pid file removed at exit" test ! -e "$W/stunnel.pid"

finish
