#!/usr/bin/env bash
# 10-config: command line, --check-config, refusal to start on bad input.
. "$(dirname "$0")/lib.sh"

printf '%s\n' "$REDIS_PASSWORD" >"$W/pw"
chmod 600 "$W/pw"

cat >"$W/good.ini" <<EOF
[global]
log_level = info
[primary]
listen = 127.0.0.1:0
upstream = redis.test:6380
ca_file = $PKI/ca.crt
cert_file = $PKI/client.crt
key_file = $PKI/client.key
auth_user = app
auth_password_file = $W/pw
[replica]
listen = unix:$W/replica.sock
upstream = 127.0.0.1:6381
EOF

out=$("$REDSLEEVE" -c "$W/good.ini" --check-config 2>&1) && rc=0 || rc=$?
check "check-config accepts a good file" test "$rc" -eq 0
check "check-config prints one line per service" \
    test "$(grep -c '^\[' <<<"$out")" -eq 2
check "check-config summary names verify and sni" \
    grep -q 'verify full host redis.test, sni redis.test' <<<"$out"
if grep -qF -- "$REDIS_PASSWORD" <<<"$out"; then
    fail "check-config never prints the password" "password in output"
else
    ok "check-config never prints the password"
fi
check "check-config -t short form" "$REDSLEEVE" -t -c "$W/good.ini"

# The summary line names each service's role (master/slave: aliases).
cat >"$W/roles.ini" <<'EOF'
[p]
listen = 127.0.0.1:0
upstream = redis.test:6380
role = primary
[r]
listen = 127.0.0.1:0
upstream = redis.test:6381
role = replica
[n]
listen = 127.0.0.1:0
upstream = redis.test:6382
[m]
listen = 127.0.0.1:0
upstream = redis.test:6383
role = master
[s]
listen = 127.0.0.1:0
upstream = redis.test:6384
role = slave
EOF
out=$("$REDSLEEVE" -c "$W/roles.ini" --check-config 2>&1) && rc=0 || rc=$?
check "check-config accepts role = primary, replica, master and slave" \
    test "$rc" -eq 0
roles=$(sed -n 's/^\[\([a-z]*\)\] .*, role \([a-z]*\)$/\1=\2/p' <<<"$out" |
    paste -sd ' ' -)
check "check-config prints each service's role ($roles)" \
    test "$roles" = "p=primary r=replica n=any m=primary s=replica"
out=$(REDSLEEVE_ROLE=replica "$REDSLEEVE" --listen 127.0.0.1:0 \
    --upstream redis.test:6380 -t 2>&1) && rc=0 || rc=$?
check "... in sidecar mode too (REDSLEEVE_ROLE=replica)" \
    grep -q '^\[sidecar\] .*, role replica$' <<<"$out"

cat >"$W/bad.ini" <<'EOF'
[primary]
listen = 127.0.0.1:0
upstream = redis.test:6380
verifi = full
EOF
out=$("$REDSLEEVE" -c "$W/bad.ini" --check-config 2>&1) && rc=0 || rc=$?
check "check-config rejects an unknown key (exit 1)" test "$rc" -eq 1
check "the error names file, line and key" \
    grep -q "bad.ini:4: verifi: unknown key" <<<"$out"

# The daemon itself refuses to start on the same file, before binding.
out=$("$REDSLEEVE" -c "$W/bad.ini" 2>&1) && rc=0 || rc=$?
check "daemon refuses to start on a bad key" test "$rc" -eq 1
check "daemon's error names file:line:key" \
    grep -q "bad.ini:4: verifi:" <<<"$out"

cat >"$W/none.ini" <<'EOF'
[primary]
listen = 127.0.0.1:0
upstream = 127.0.0.1:6380
verify = none
EOF
out=$("$REDSLEEVE" -c "$W/none.ini" 2>&1) && rc=0 || rc=$?
check "verify = none without insecure = yes refuses to start" \
    test "$rc" -eq 1
check "... and says insecure = yes is needed" \
    grep -q "none.ini:4: verify: .*insecure = yes" <<<"$out"

cat >"$W/badca.ini" <<EOF
[primary]
listen = 127.0.0.1:0
upstream = redis.test:6380
ca_file = $W/nonexistent.crt
EOF
out=$("$REDSLEEVE" -c "$W/badca.ini" --check-config 2>&1) && rc=0 || rc=$?
check "missing CA file is an error with its line" \
    grep -q "badca.ini:4: ca_file: cannot load CA certificates from" <<<"$out"
check "... exit 1" test "$rc" -eq 1

cat >"$W/badkey.ini" <<EOF
[primary]
listen = 127.0.0.1:0
upstream = redis.test:6380
ca_file = $PKI/ca.crt
cert_file = $PKI/client.crt
key_file = $PKI/server.key
EOF
out=$("$REDSLEEVE" -c "$W/badkey.ini" --check-config 2>&1) && rc=0 || rc=$?
check "mismatched client key is named" \
    grep -q "badkey.ini:6: key_file: .*does not match" <<<"$out"

cat >"$W/nopw.ini" <<EOF
[primary]
listen = 127.0.0.1:0
upstream = redis.test:6380
auth_password_file = $W/missing.secret
EOF
out=$("$REDSLEEVE" -c "$W/nopw.ini" 2>&1) && rc=0 || rc=$?
check "missing password file refuses to start" \
    grep -q "nopw.ini:4: auth_password_file: cannot open" <<<"$out"

cat >"$W/env.ini" <<'EOF'
[primary]
listen = 127.0.0.1:0
upstream = redis.test:6380
auth_password_env = RS_TEST_UNSET_VAR
EOF
out=$(env -u RS_TEST_UNSET_VAR "$REDSLEEVE" -c "$W/env.ini" -t 2>&1) \
    && rc=0 || rc=$?
check "unset password variable is named" \
    grep -q "env.ini:4: auth_password_env: environment variable RS_TEST_UNSET_VAR is not set" <<<"$out"
check "... set, it passes" \
    env RS_TEST_UNSET_VAR=x "$REDSLEEVE" -c "$W/env.ini" -t

out=$("$REDSLEEVE" --version 2>&1)
check "--version names OpenSSL" grep -q "OpenSSL 3" <<<"$out"
check "--version names libevent" grep -q "libevent: 2.1" <<<"$out"
out=$("$REDSLEEVE" -h 2>&1)
check "--help prints usage" grep -q "check-config" <<<"$out"
"$REDSLEEVE" >/dev/null 2>&1 && rc=0 || rc=$?
check "no arguments is a usage error (exit 2)" test "$rc" -eq 2

# A listen port already taken: start-up fails with the key named.
cat >"$W/busy.ini" <<EOF
[a]
listen = 127.0.0.1:0
upstream = 127.0.0.1:6380
ca_file = $PKI/ca.crt
EOF
start_redsleeve rs1 "$W/busy.ini"
busy_port=$RS_PORT_a
sed "s/127.0.0.1:0/127.0.0.1:$busy_port/" "$W/busy.ini" >"$W/busy2.ini"
out=$("$REDSLEEVE" -c "$W/busy2.ini" 2>&1) && rc=0 || rc=$?
check "a taken port refuses to start" test "$rc" -eq 1
check "... naming listen and the address" \
    grep -q "busy2.ini:2: listen: cannot listen on 127.0.0.1:$busy_port" <<<"$out"


# Safer first contact: the nearest key for a typo, a port out of range,
# a directory as password file, a password ending in a blank (kept as it
# is, warned about), REDSLEEVE_* variables that mean nothing.
mkdir -p "$W/pwdir"
printf '%s \n' "$REDIS_PASSWORD" >"$W/pw-blank"
chmod 600 "$W/pw-blank"
cat >"$W/typo.ini" <<EOF
[gloabl]
log_level = debug
[a]
listen = 127.0.0.1:70000
upstrem = 127.0.0.1:6380
EOF
out=$("$REDSLEEVE" -c "$W/typo.ini" -t 2>&1) && rc=0 || rc=$?
check "a mistyped key: did you mean" \
    grep -q "typo.ini:5: upstrem: unknown key in \[a\] (did you mean upstream?)" <<<"$out"
check "a mistyped [global]: did you mean" \
    grep -q "typo.ini:2: log_level: unknown key in \[gloabl\] (did you mean \[global\]?)" <<<"$out"
cat >"$W/range.ini" <<EOF
[a]
listen = 127.0.0.1:70000
upstream = 127.0.0.1:70000
auth_password_file = $W/pwdir
EOF
out=$("$REDSLEEVE" -c "$W/range.ini" -t 2>&1) && rc=0 || rc=$?
check "listen port 70000: out of range" \
    grep -q 'range.ini:2: listen: "127.0.0.1:70000": port out of range' <<<"$out"
check "upstream port 70000: out of range" \
    grep -q 'range.ini:3: upstream: "127.0.0.1:70000": port out of range' <<<"$out"
check "a directory as password file" \
    grep -q "range.ini:4: auth_password_file: $W/pwdir is a directory" <<<"$out"
cat >"$W/blank.ini" <<EOF
[a]
listen = 127.0.0.1:0
upstream = 127.0.0.1:6380
ca_file = $PKI/ca.crt
auth_password_file = $W/pw-blank
EOF
out=$("$REDSLEEVE" -c "$W/blank.ini" -t 2>&1) && rc=0 || rc=$?
check "a password ending in a blank is accepted as it is" test "$rc" -eq 0
check "... with a warning naming the file" \
    grep -q "blank.ini:5: auth_password_file: warning: the password in $W/pw-blank ends with a blank" <<<"$out"
out=$(REDSLEEVE_UPSTREAM=h:1 "$REDSLEEVE" -c "$W/good.ini" -t 2>&1) && rc=0 || rc=$?
check "with -c, a REDSLEEVE_* key variable is warned about as ignored" \
    grep -q "warning: REDSLEEVE_UPSTREAM is ignored: with -c the file is the whole configuration" <<<"$out"
out=$(REDSLEEVE_UPSTREM=h:1 "$REDSLEEVE" --listen 127.0.0.1:0 \
    --upstream 127.0.0.1:6380 --ca-file "$PKI/ca.crt" -t 2>&1) && rc=0 || rc=$?
check "sidecar mode: a REDSLEEVE_* variable that is no key is warned about" \
    grep -q "warning: REDSLEEVE_UPSTREM is no redsleeve setting, ignored (did you mean REDSLEEVE_UPSTREAM?)" <<<"$out"
check "... and does not stop the check" test "$rc" -eq 0
cat >"$W/creds.ini" <<'EOF'
[a]
listen = 127.0.0.1:0
upstream = 127.0.0.1:6380
auth_password_file = ${CREDENTIALS_DIRECTORY}/redis.pw
EOF
mkdir -m 700 "$W/creds"
cp "$W/pw" "$W/creds/redis.pw"
out=$(env -u CREDENTIALS_DIRECTORY "$REDSLEEVE" -c "$W/creds.ini" -t 2>&1) && rc=0 || rc=$?
check "\${CREDENTIALS_DIRECTORY} unset: the error says how to check outside systemd" \
    grep -q 'creds.ini:4: auth_password_file: ${CREDENTIALS_DIRECTORY} is not set .*CREDENTIALS_DIRECTORY=DIR redsleeve -c FILE -t' <<<"$out"
out=$(CREDENTIALS_DIRECTORY=$W/creds "$REDSLEEVE" -c "$W/creds.ini" -t 2>&1) && rc=0 || rc=$?
check "... and so it passes" test "$rc" -eq 0

finish
