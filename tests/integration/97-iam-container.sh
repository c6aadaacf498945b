#!/usr/bin/env bash
# 97-iam-container: IAM credentials from the container endpoint (ECS,
# EKS Pod Identity), fetched on the control loop without blocking it,
# with the Authorization header from AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE:
# a 401 is retried with back-off, credentials are refreshed before they
# expire (the fake's expire in 303 s: refreshed after 3), and the tokens
# signed afterwards use the new ones.  /metrics shows the source, the
# seconds left and the failed fetches; no secret is ever logged.
. "$(dirname "$0")/lib.sh"

unset AWS_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN \
    AWS_CONTAINER_CREDENTIALS_RELATIVE_URI AWS_CONTAINER_AUTHORIZATION_TOKEN
export AWS_SHARED_CREDENTIALS_FILE=$W/none AWS_CONFIG_FILE=$W/none AWS_REGION=eu-west-1
printf 'Bearer-podidentity-7\n' >"$W/authz"
export AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=$W/authz

start_bg fakeaws python3 "$HERE/fake-aws.py" container "$W/aws.port" "$W/authz"
wait_until 10 test -s "$W/aws.port"
export AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:$(cat "$W/aws.port")/creds
AL=$W/aws.port.log

iam_gate "$W/aws.port.issued" "$W/c.ini"

out=$("$REDSLEEVE" -c "$W/c.ini" --check-config 2>&1 || true)
check "--check-config: credentials from the container endpoint" \
    grep -q 'auth IAM user app, cache c1, region eu-west-1, credentials from container endpoint' <<<"$out"
out=$(AWS_CONTAINER_CREDENTIALS_FULL_URI=http://198.51.100.7/creds "$REDSLEEVE" -c "$W/c.ini" 2>&1) && rc=0 || rc=$?
check "an endpoint host the SDKs do not allow over http refuses the start" \
    test "$rc" -ne 0
check "... naming the line and the host" \
    grep -q 'c.ini:9: iam_user_id: AWS_CONTAINER_CREDENTIALS_FULL_URI: host 198.51.100.7 is not allowed' <<<"$out"

start_redsleeve rs "$W/c.ini"
A=$RS_PORT_admin
ping_ok() { test "$(rcli "$RS_PORT_cache" PING 2>/dev/null)" = PONG; }
check "a client gets through once the endpoint answered (after its 401)" \
    wait_until 15 ping_ok
check "the first answer was a 401, retried" grep -qx 401 "$AL"
check "... with the Authorization header from the token file, every time" \
    bash -c "! grep -q 'authz bad' '$AL'"
check "links logged in with the fetched credentials (AKIDC1)" \
    grep -q '^AUTH ok app .* AKIDC1$' "$FL"
check "the failed fetch is logged, without a secret" \
    grep -q 'event=aws-credentials source=container .*result=failed error="HTTP 401"' "$W/rs.log"
check "the credentials are fetched again before they expire (AKIDC2)" \
    wait_until 15 grep -q '^200 AKIDC2$' "$AL"
out=$(printf 'RESET\r\nPING\r\n' | rcli "$RS_PORT_cache" 2>&1)
check "a token signed afterwards uses them" \
    bash -c "grep -q PONG <<<'$out' && grep -q '^AUTH ok app .* AKIDC2\$' '$FL'"
left=$(metric 'redsleeve_iam_credentials_expiry_seconds{service="cache"}')
check "/metrics: seconds until they expire ($left)" \
    bash -c "(( ${left:-0} > 250 && ${left:-0} <= 303 ))"
check "/metrics: one failed fetch from the container endpoint" \
    test "$(metric 'redsleeve_iam_credential_fetch_failures_total{service="cache",source="container"}')" = 1
body=$(exec 3<>/dev/tcp/127.0.0.1/"$A"; printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3; cat <&3)
check "/metrics: the source" \
    grep -qx 'redsleeve_iam_credentials_info{service="cache",source="container endpoint"} 1' <<<"$body"
check "no secret key, session token, authorization or IAM token in the log" \
    bash -c "! grep -q -e NeverLogged -e Bearer-podidentity -e X-Amz-Signature '$W/rs.log'"
cli_token AKIDC
stop_bg rs
stop_bg fakeiam
stop_bg fakeaws

finish
