#!/usr/bin/env bash
# 98-iam-imds: IAM credentials from EC2 instance metadata (IMDSv2), the
# last source of the chain: a session token by PUT, the role, its
# credentials with the token; a 401 gets a new token; refreshed before
# they expire; AWS_EC2_METADATA_SERVICE_ENDPOINT moves it (here to a fake
# on loopback) and AWS_EC2_METADATA_DISABLED=true turns it off.
. "$(dirname "$0")/lib.sh"

unset AWS_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN \
    AWS_CONTAINER_CREDENTIALS_RELATIVE_URI AWS_CONTAINER_CREDENTIALS_FULL_URI \
    AWS_EC2_METADATA_DISABLED
export AWS_SHARED_CREDENTIALS_FILE=$W/none AWS_CONFIG_FILE=$W/none AWS_REGION=eu-west-1
: >"$W/unused"
start_bg fakeimds python3 "$HERE/fake-aws.py" imds "$W/imds.port" "$W/unused"
wait_until 10 test -s "$W/imds.port"
export AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:$(cat "$W/imds.port")
ML=$W/imds.port.log

iam_gate "$W/imds.port.issued" "$W/m.ini"

out=$("$REDSLEEVE" -c "$W/m.ini" --check-config 2>&1 || true)
check "--check-config: nothing else found, so instance metadata" \
    grep -q 'credentials from instance metadata' <<<"$out"
out=$(AWS_EC2_METADATA_DISABLED=true "$REDSLEEVE" -c "$W/m.ini" --check-config 2>&1 || true)
check "AWS_EC2_METADATA_DISABLED=true: no source left, refused with the line" \
    grep -q 'm.ini:9: iam_user_id: no AWS credentials: .*instance metadata is off' <<<"$out"

start_redsleeve rs "$W/m.ini"
A=$RS_PORT_admin
ping_ok() { test "$(rcli "$RS_PORT_cache" PING 2>/dev/null)" = PONG; }
check "a client gets through with credentials from instance metadata" \
    wait_until 15 ping_ok
check "a session token was asked for (PUT) before any GET" \
    test "$(head -n 1 "$ML")" = "PUT token"
check "the 401 on the credentials got a new token, then them" \
    bash -c "grep -A3 -x '401 creds' '$ML' | grep -qx 'PUT token' && grep -qx '200 AKIDC1' '$ML'"
check "links logged in with them (AKIDC1)" \
    grep -q '^AUTH ok app .* AKIDC1$' "$FL"
check "refreshed before they expire (AKIDC2), with the token it has" \
    wait_until 15 grep -qx '200 AKIDC2' "$ML"
check "... no stale token ever sent" bash -c "! grep -qx '401 stale' '$ML'"
out=$(printf 'RESET\r\nPING\r\n' | rcli "$RS_PORT_cache" 2>&1)
check "a token signed afterwards uses the new credentials" \
    bash -c "grep -q PONG <<<'$out' && grep -q '^AUTH ok app .* AKIDC2\$' '$FL'"
check "/metrics: no failed fetch (the 401 was retried at once)" \
    test "$(metric 'redsleeve_iam_credential_fetch_failures_total{service="cache",source="imds"}')" = 0
check "no secret key, session token, metadata token or IAM token in the log" \
    bash -c "! grep -q -e NeverLogged -e X-Amz-Signature '$W/rs.log'"
cli_token AKIDC
stop_bg rs
stop_bg fakeiam
stop_bg fakeimds

finish
