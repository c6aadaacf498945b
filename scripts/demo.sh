#!/usr/bin/env bash
# demo.sh (make demo): a TLS-only redis-server with a password and an ACL
# user, redsleeve in front of it on 127.0.0.1:6379 (or the next free port)
# injecting AUTH, a few commands through it, then the foreground until
# Ctrl-C.  Everything it starts is stopped by PID; the temp dir is removed.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/redsleeve
W=$(mktemp -d /tmp/redsleeve-demo.XXXXXX)
PIDS=()

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$W"
    echo
    echo "demo stopped; everything it started is gone"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

port_free() { [[ -z $(ss -Hltn "sport = :$1") ]]; }
first_free() {  # first_free FROM: the first free TCP port from FROM up
    local p=$1
    while ! port_free "$p"; do p=$((p + 1)); done
    echo "$p"
}
say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
show() {  # show CMD...: prints the command, then runs it
    printf '$ %s\n' "$*"
    "$@"
}

bash "$ROOT/tests/integration/gen-certs.sh" "$W/pki"
ADMIN_PW=admin-$(od -An -N6 -tx8 /dev/urandom | tr -d ' \n')
APP_PW=app-$(od -An -N6 -tx8 /dev/urandom | tr -d ' \n')
printf '%s\n' "$APP_PW" >"$W/app.secret"
chmod 600 "$W/app.secret"

TLS_PORT=$(first_free 16380)
cat >"$W/redis.conf" <<EOF
bind 127.0.0.1
port 0
tls-port $TLS_PORT
tls-cert-file $W/pki/server.crt
tls-key-file $W/pki/server.key
tls-ca-cert-file $W/pki/ca.crt
tls-auth-clients no
requirepass $ADMIN_PW
user app on >$APP_PW ~* &* +@all
save ""
appendonly no
dir $W
logfile $W/redis.log
EOF
redis-server "$W/redis.conf" &
PIDS+=($!)
for _ in $(seq 100); do
    redis-cli --tls --cacert "$W/pki/ca.crt" --sni redis.test -p "$TLS_PORT" \
        -a "$ADMIN_PW" --no-auth-warning PING >/dev/null 2>&1 && break
    sleep 0.1
done

PROXY_PORT=$(first_free 6379)
# As root, redsleeve wants a user to become once it has bound and read
# its secrets (it refuses to stay root unless told to).
RUN_AS=
[ "$(id -u)" = 0 ] && RUN_AS="user = nobody"
cat >"$W/redsleeve.ini" <<EOF
[global]
log_level = info
$RUN_AS

[demo]
listen = 127.0.0.1:$PROXY_PORT
upstream = 127.0.0.1:$TLS_PORT
verify_host = redis.test
ca_file = $W/pki/ca.crt
auth_user = app
auth_password_file = $W/app.secret
EOF
"$BIN" -c "$W/redsleeve.ini" 2>"$W/redsleeve.log" &
PIDS+=($!)
for _ in $(seq 100); do
    grep -q 'event=listen' "$W/redsleeve.log" && break
    kill -0 "${PIDS[1]}" 2>/dev/null || { cat "$W/redsleeve.log"; exit 1; }
    sleep 0.05
done

say "A TLS-only redis-server is on 127.0.0.1:$TLS_PORT (no plaintext port),"
echo "with a password and an ACL user 'app'.  redsleeve listens on"
echo "127.0.0.1:$PROXY_PORT, verifies the server certificate (redis.test,"
echo "signed by a throwaway CA) and sends AUTH app <password> for every client."
echo
echo "redsleeve config ($W/redsleeve.ini):"
sed 's/^/    /' "$W/redsleeve.ini"

say "A plaintext redis-cli, with no password, through redsleeve:"
show redis-cli -p "$PROXY_PORT" PING
show redis-cli -p "$PROXY_PORT" SET demo:greeting "hello through TLS"
show redis-cli -p "$PROXY_PORT" GET demo:greeting
show redis-cli -p "$PROXY_PORT" ACL WHOAMI

say "The server's view: it has no plaintext port (port 0); this client reached its TLS port (laddr=...:$TLS_PORT) as user app:"
show redis-cli -p "$PROXY_PORT" CONFIG GET port
show redis-cli -p "$PROXY_PORT" CLIENT INFO

say "redsleeve's log:"
sed 's/^/    /' "$W/redsleeve.log"

say "redsleeve is running on 127.0.0.1:$PROXY_PORT — try: redis-cli -p $PROXY_PORT   (Ctrl-C to stop)"
tail -n 0 -f "$W/redsleeve.log" &
PIDS+=($!)
wait "${PIDS[1]}"
