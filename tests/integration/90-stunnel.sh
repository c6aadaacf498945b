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

# The guide's file, literally (host names and all), as the shipped unit
# runs it: not root (DynamicUser; here nobody through setpriv, with
# no_new_privs and the unit's UMask=, 0077).  setuid = root, setgid = root
# and the /var/run pid file cannot be honoured there, and need not be:
# notes.
UNIT_UMASK=$(sed -n 's/^UMask=//p' "$HERE/../../systemd/redsleeve.service")
chmod 711 "$W"
mkdir -m 755 "$W/pub"
cp "$PKI/ca.crt" "$W/pub/ca.crt"
chmod 644 "$W/pub/ca.crt"
cat >"$W/pub/redis-cli.conf" <<'GUIDE'
fips = no
setuid = root
setgid = root
pid = /var/run/stunnel.pid
debug = 7
delay = yes
options = NO_SSLv2
options = NO_SSLv3
[redis-cli]
client = yes
accept = 127.0.0.1:6379
connect = primary.ssltest.wif01h.use1.cache.amazonaws.com:6379
[redis-cli-replica]
client = yes
accept = 127.0.0.1:6380
connect = ssltest-02.ssltest.wif01h.use1.cache.amazonaws.com:6379
GUIDE
chmod 644 "$W/pub/redis-cli.conf"
# nobody may not be able to reach the build tree (a clone under /root is
# mode 700): it runs a copy of the binary from the world-readable dir.
cp "$REDSLEEVE" "$W/pub/redsleeve"
chmod 755 "$W/pub/redsleeve"
as_nobody() {  # in a subshell: the umask is the unit's for this run only
    (umask "$UNIT_UMASK" &&
        exec setpriv --reuid=65534 --regid=65534 --clear-groups \
            --no-new-privs "$@")
}
check "the shipped unit's UMask is 0077" test "$UNIT_UMASK" = 0077
out=$("$REDSLEEVE" -c "$W/pub/redis-cli.conf" -t 2>&1) && rc=0 || rc=$?
check "the guide's file, literally, passes --check-config as root" \
    test "$rc" -eq 0
out=$(as_nobody "$W/pub/redsleeve" -c "$W/pub/redis-cli.conf" -t 2>&1) && rc=0 || rc=$?
check "... and not as root" test "$rc" -eq 0
check "... setuid = root noted, not refused" \
    grep -q 'redis-cli.conf:2: setuid = root: not started as root (uid 65534): ignored' <<<"$out"
check "... setgid = root noted" \
    grep -q 'redis-cli.conf:3: setgid = root: not started as root' <<<"$out"
check "... the pid file it cannot create noted, with its line" \
    grep -q 'redis-cli.conf:4: pid = /var/run/stunnel.pid: uid 65534 cannot create it' <<<"$out"
check "... options (a service default) noted" \
    grep -q 'redis-cli.conf:8: \[every section\] options = NO_SSLv3: stunnel option with no meaning here' <<<"$out"
check "... verification full, against the system store" \
    grep -q '^\[redis-cli\] .*verify full host primary.ssltest.wif01h.use1.cache.amazonaws.com' <<<"$out"

# The same file carrying traffic as nobody: only the endpoints changed
# (test servers, free ports); the pid line stays /var/run/stunnel.pid.
sed -e "s/^accept = .*/accept = 127.0.0.1:0/" \
    -e "s/^connect = primary.*/connect = localhost:$REDIS_PORT_primary/" \
    -e "s/^connect = ssltest-02.*/connect = localhost:$REDIS_PORT_replica/" \
    "$W/pub/redis-cli.conf" >"$W/pub/local.conf"
chmod 644 "$W/pub/local.conf"
export SSL_CERT_FILE=$W/pub/ca.crt
printf '#!/bin/sh\numask %s\nexec setpriv --reuid=65534 --regid=65534 --clear-groups --no-new-privs %s "$@"\n' \
    "$UNIT_UMASK" "$W/pub/redsleeve" >"$W/pub/as-nobody"
chmod 755 "$W/pub/as-nobody"
rs_bin=$REDSLEEVE
REDSLEEVE=$W/pub/as-nobody      # run_redsleeve starts $REDSLEEVE
umask 022       # (lib.sh's is 077: here the wrapper must set the unit's)
run_redsleeve nobody 2 -c "$W/pub/local.conf"
umask 077
REDSLEEVE=$rs_bin
check "as nobody: the process runs unprivileged" \
    test "$(awk '/^Uid:/ {print $2}' "/proc/$RS_PID/status")" = 65534
check "... with the unit's umask, $UNIT_UMASK" \
    test "$(awk '/^Umask:/ {print $2}' "/proc/$RS_PID/status")" = "$UNIT_UMASK"
out=$(redis-cli -h 127.0.0.1 -p "$RS_PORT_redis_cli" -a "$REDIS_PASSWORD" \
    --no-auth-warning PING 2>&1)
check "as nobody: traffic through the primary section" test "$out" = PONG
out=$(redis-cli -h 127.0.0.1 -p "$RS_PORT_redis_cli_replica" \
    -a "$REDIS_PASSWORD" --no-auth-warning PING 2>&1)
check "... and the replica section" test "$out" = PONG
stop_bg nobody
export SSL_CERT_FILE=$PKI/ca.crt

# stunnel's service defaults, include = DIR and verify levels: CAfile
# and verify = 2 before the first section; [primary] adds checkHost
# (verify = 2 with checkHost: full); [replica] comes from the include
# directory (chain against CAfile, as stunnel's level 2); a subdirectory
# there is not read.
mkdir -p "$W/stunnel.d/90-sub"
printf 'this = is not read\n' >"$W/stunnel.d/90-sub/x.conf"
printf '[replica]\naccept = 127.0.0.1:0\nconnect = 127.0.0.1:%s\n' \
    "$REDIS_PORT_replica" >"$W/stunnel.d/20-replica.conf"
printf 'sslVersionMin = TLSv1.2\nTIMEOUTclose = 0\n' \
    >"$W/stunnel.d/10-primary-extra.conf"
cat >"$W/defaults.conf" <<DEFAULTS
client = yes
CAfile = $PKI/ca.crt
verify = 2
socket = l:TCP_NODELAY=1
[primary]
accept = 127.0.0.1:0
connect = 127.0.0.1:$REDIS_PORT_primary
checkHost = redis.test
include = $W/stunnel.d
DEFAULTS
out=$("$REDSLEEVE" -c "$W/defaults.conf" -t 2>&1) && rc=0 || rc=$?
check "service defaults and include = DIR pass --check-config" \
    test "$rc" -eq 0
check "... [primary]: verify = 2 with checkHost is full" \
    grep -q '^\[primary\] .*verify full host redis.test' <<<"$out"
check "... [replica] from the include dir: chain against the CAfile default" \
    grep -q "^\[replica\] .*verify chain" <<<"$out"
check "... included keys are named by their own file and line" \
    grep -q 'stunnel.d/20-replica.conf:2: \[replica\] accept -> listen' <<<"$out"
check "... the subdirectory is not read" \
    grep -q 'include = .*: 90-sub is a directory, not read' <<<"$out"
run_redsleeve defaults 2 -c "$W/defaults.conf"
out=$(redis-cli -h 127.0.0.1 -p "$RS_PORT_primary" -a "$REDIS_PASSWORD" \
    --no-auth-warning PING 2>&1)
check "traffic through a section set up by defaults" test "$out" = PONG
out=$(redis-cli -h 127.0.0.1 -p "$RS_PORT_replica" -a "$REDIS_PASSWORD" \
    --no-auth-warning PING 2>&1)
check "... and through the included section" test "$out" = PONG
stop_bg defaults

printf 'verify = 3\n[s]\naccept = 127.0.0.1:0\nconnect = localhost:1\n' \
    >"$W/pin.conf"
out=$("$REDSLEEVE" -c "$W/pin.conf" -t 2>&1) && rc=0 || rc=$?
check "verify = 3 (pinning) is refused with its line" \
    grep -q "pin.conf:1: verify: level 3 pins the peer's certificate" <<<"$out"
printf '[s]\naccept = 127.0.0.1:0\nconnect = localhost:1\nsslVersion = TLSv1\n' \
    >"$W/old.conf"
out=$("$REDSLEEVE" -c "$W/old.conf" -t 2>&1) && rc=0 || rc=$?
check "sslVersion below TLS 1.2 is refused with its line" \
    grep -q "old.conf:4: sslVersion: TLSv1 is older than TLS 1.2" <<<"$out"

finish
