#!/usr/bin/env bash
# 96-iam-auth: IAM authentication (issue #17) from the config keys to the
# wire: the keys are checked (exclusive with a password, the cache name,
# a region and credentials needed, any link_max_lifetime), and a
# service sends AUTH <iam_user_id> <token> with a token signed for each
# link, which a fake TLS server checks against redsleeve --iam-token for
# the token's own instant.  No secret or token is ever logged or printed.
. "$(dirname "$0")/lib.sh"

unset AWS_PROFILE AWS_REGION AWS_DEFAULT_REGION AWS_SESSION_TOKEN
export AWS_SHARED_CREDENTIALS_FILE=$W/no-credentials AWS_CONFIG_FILE=$W/no-config
export AWS_ACCESS_KEY_ID=AKIDIAMTEST AWS_SECRET_ACCESS_KEY=iamSecretKeyNeverLogged1234
export AWS_SESSION_TOKEN=iamSessionTokenNeverLogged5678
iam_svc() {  # iam_svc NAME PORT [LINE...]
    printf '[%s]\nlisten = 127.0.0.1:0\nupstream = 127.0.0.1:%s\n' "$1" "$2"
    printf 'verify_host = redis.test\nca_file = %s\n' "$PKI/ca.crt"
    shift 2
    if (($#)); then printf '%s\n' "$@"; fi
}
cc() { "$REDSLEEVE" -c "$1" --check-config 2>&1 || true; }

# --- the keys
printf 'pw\n' >"$W/pw"; chmod 600 "$W/pw"
iam_svc a 1 "iam_user_id = app" "iam_cache_name = c" "iam_region = eu-west-1" \
    "auth_password_file = $W/pw" >"$W/both.ini"
check "iam_user_id with a password is refused, naming the line" \
    grep -q "both.ini:9: auth_password_file: set either a password or iam_user_id (line 6), not both" <<<"$(cc "$W/both.ini")"
iam_svc a 1 "iam_user_id = app" "iam_region = eu-west-1" >"$W/nocache.ini"
check "iam_cache_name is needed" grep -q 'nocache.ini:6: iam_cache_name: needed with iam_user_id' <<<"$(cc "$W/nocache.ini")"
iam_svc a 1 "iam_user_id = app" "iam_cache_name = c" >"$W/noregion.ini"
check "a region is needed (key, AWS_REGION or the config file)" \
    grep -q 'noregion.ini:6: iam_region: not set, and neither AWS_REGION' <<<"$(cc "$W/noregion.ini")"
check "... AWS_REGION gives it" \
    grep -q 'auth IAM user app, cache c, region eu-north-1' <<<"$(AWS_REGION=eu-north-1 cc "$W/noregion.ini")"
iam_svc a 1 "iam_cache_name = c" >"$W/orphan.ini"
check "iam_cache_name without iam_user_id is refused" \
    grep -q 'orphan.ini:6: iam_cache_name: needs iam_user_id' <<<"$(cc "$W/orphan.ini")"
iam_svc a 1 "iam_user_id = app" "iam_cache_name = c" "iam_region = eu-west-1" \
    "link_max_lifetime = 12h" >"$W/life.ini"
check "link_max_lifetime of 12h is accepted with IAM (links log in again every iam_reauth_interval)" \
    grep -q 'auth IAM user app, cache c, region eu-west-1' <<<"$(cc "$W/life.ini")"
iam_svc a 1 "iam_user_id = app" "iam_cache_name = c" "iam_region = eu-west-1" \
    "auth_user = other" >"$W/user.ini"
check "auth_user other than iam_user_id is refused" \
    grep -q 'user.ini:9: auth_user: "other" is not iam_user_id "app"' <<<"$(cc "$W/user.ini")"
iam_svc a 1 "iam_user_id = app" "iam_cache_name = c" "iam_region = eu-west-1" >"$W/ok.ini"
out=$(env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_EC2_METADATA_DISABLED=true "$REDSLEEVE" -c "$W/ok.ini" --check-config 2>&1 || true)
check "no credentials anywhere: refused, saying where it looked" \
    grep -q 'ok.ini:6: iam_user_id: no AWS credentials: ' <<<"$out"
out=$(cc "$W/ok.ini")
check "--check-config names the IAM user, cache, region and where the credentials came from" \
    grep -q 'auth IAM user app, cache c, region eu-west-1, credentials from environment' <<<"$out"
check "... and prints no secret" \
    bash -c "! grep -q -e iamSecretKeyNeverLogged -e iamSessionTokenNeverLogged <<<'$out'"

out=$(REDSLEEVE_ALLOW_ROOT=yes REDSLEEVE_IAM_CACHE_NAME=c "$REDSLEEVE" \
    --listen 127.0.0.1:0 --upstream 127.0.0.1:1 --verify-host redis.test \
    --iam-user-id u --iam-region eu-west-1 --iam-serverless yes -t 2>&1 || true)
check "sidecar mode: flags and variables as for every key" \
    grep -q 'auth IAM user u, cache c (serverless), region eu-west-1' <<<"$out"

# --- end to end against a fake server that checks every token
export FAKE_RS=$REDSLEEVE FAKE_IAM_CACHE=my-cache FAKE_IAM_REGION=eu-west-1
start_bg fakeiam python3 "$HERE/forge-reset.py" iam \
    "$PKI/server.crt" "$PKI/server.key" "$W/iam.port"
wait_until 10 test -s "$W/iam.port"
FL=$W/iam.port.log
logins_above() { (($(grep -c '^AUTH ok' "$FL" 2>/dev/null || true) > $1)); }
{ printf '[global]\nlog_level = debug\nadmin_listen = 127.0.0.1:0\n'
  iam_svc cache "$(cat "$W/iam.port")" "iam_user_id = app-user" \
      "iam_cache_name = My-Cache" "iam_region = eu-west-1" "pool_min_idle = 4"; } >"$W/e2e.ini"
start_redsleeve e2e "$W/e2e.ini"
check "a client's PING goes through an IAM-authenticated link" \
    test "$(rcli "$RS_PORT_cache" PING)" = PONG
check "every link logged in with a token the server verified (a pool of 4)" \
    wait_until 10 logins_above 3
check "... and none was refused" bash -c "! grep -q '^AUTH bad' '$FL'"
# A second later, the injected AUTH behind a client's RESET and the
# pool's reset each carry a token signed then, not the first one.
sleep 1.1
out=$(printf 'RESET\r\nPING\r\n' | rcli "$RS_PORT_cache" 2>&1)
check "a client's RESET is followed by a fresh token (still logged in)" \
    grep -q PONG <<<"$out"
n0=$(grep -c '^AUTH ok' "$FL")
rcli "$RS_PORT_cache" SELECT 1 >/dev/null
check "the pool's reset of a touched link logs back in with a fresh token" \
    wait_until 10 logins_above "$n0"
dates=$(sed -n 's/^AUTH ok app-user //p' "$FL" | sort -u | wc -l)
check "tokens are signed per use, not once: $dates X-Amz-Date values seen" \
    test "$dates" -ge 2
A=$RS_PORT_admin
signed=$(metric 'redsleeve_iam_tokens_signed_total{service="cache"}')
logins=$(grep -c '^AUTH ok' "$FL")
check "/metrics counts the tokens signed ($signed; the server saw $logins logins)" \
    test "${signed:-0}" -ge "$logins"
check "/metrics says where the credentials came from" \
    test "$(metric 'redsleeve_iam_credentials_info{service="cache",source="environment"}')" = 1
body=$(exec 3<>/dev/tcp/127.0.0.1/"$A"; printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3; cat <&3)
check "... and no secret in it" \
    bash -c "! grep -q -e iamSecretKeyNeverLogged -e iamSessionTokenNeverLogged -e AKIDIAMTEST -e X-Amz <<<\"\$1\"" _ "$body"
check "no secret key, session token or token in the log" \
    bash -c "! grep -q -e iamSecretKeyNeverLogged -e iamSessionTokenNeverLogged -e 'X-Amz-Signature' -e 'Action=connect' '$W/e2e.log'"
stop_bg e2e
stop_bg fakeiam

finish
