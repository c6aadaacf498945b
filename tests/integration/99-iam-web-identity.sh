#!/usr/bin/env bash
# 99-iam-web-identity: IAM credentials from a web identity (EKS IRSA):
# AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE, or role_arn +
# web_identity_token_file in the profile, exchanged with STS
# (AssumeRoleWithWebIdentity) over HTTPS verified against AWS_CA_BUNDLE.
# A fake STS on loopback checks every field and that the token is the
# file's content at that moment, answers 400 InvalidIdentityToken once,
# then credentials expiring in 303 s (refreshed after 3), new each time.
# An http:// endpoint and an unreadable token file refuse the start; a
# certificate from another CA is rejected and logged; no token, secret or
# STS message ever reaches the log or /metrics.
. "$(dirname "$0")/lib.sh"

unset AWS_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN \
    AWS_CONTAINER_CREDENTIALS_RELATIVE_URI AWS_CONTAINER_CREDENTIALS_FULL_URI \
    AWS_CONTAINER_AUTHORIZATION_TOKEN AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE \
    AWS_ENDPOINT_URL AWS_ENDPOINT_URL_STS AWS_CA_BUNDLE \
    AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE AWS_ROLE_SESSION_NAME
export AWS_SHARED_CREDENTIALS_FILE=$W/none AWS_CONFIG_FILE=$W/none \
    AWS_REGION=eu-west-1 AWS_EC2_METADATA_DISABLED=true
ROLE=arn:aws:iam::123456789012:role/redsleeve-irsa
printf 'webid-token-1-NeverLogged\n' >"$W/token"

start_bg fakests python3 "$HERE/fake-aws.py" sts "$W/sts.port" "$W/token" \
    "$PKI/server.crt" "$PKI/server.key"
wait_until 10 test -s "$W/sts.port"
SP=$(cat "$W/sts.port")
SL=$W/sts.port.log

iam_gate "$W/sts.port.issued" "$W/w.ini"
# After iam_gate: its fake signer takes the keys from the issued file.
export AWS_ROLE_ARN=$ROLE AWS_WEB_IDENTITY_TOKEN_FILE=$W/token \
    AWS_ROLE_SESSION_NAME=sidecar-test AWS_CA_BUNDLE=$PKI/ca.crt \
    AWS_ENDPOINT_URL_STS=https://localhost:$SP

out=$("$REDSLEEVE" -c "$W/w.ini" --check-config 2>&1 || true)
check "--check-config: credentials from web identity, with the role" \
    grep -q "credentials from web identity ($ROLE)" <<<"$out"
out=$(AWS_ENDPOINT_URL_STS=http://127.0.0.1:$SP "$REDSLEEVE" -c "$W/w.ini" 2>&1) && rc=0 || rc=$?
check "an http:// STS endpoint refuses the start" test "$rc" -ne 0
check "... naming the line and the variable" \
    grep -q 'w.ini:9: iam_user_id: web identity (environment): AWS_ENDPOINT_URL_STS: http:// refused, only https://' <<<"$out"
out=$(AWS_WEB_IDENTITY_TOKEN_FILE=$W/missing "$REDSLEEVE" -c "$W/w.ini" --check-config 2>&1) && rc=0 || rc=$?
check "an unreadable token file is refused, naming the variable and path" \
    bash -c "test $rc -ne 0 && grep -q 'w.ini:9: iam_user_id: AWS_WEB_IDENTITY_TOKEN_FILE $W/missing: No such file' <<<'$out'"
out=$(env -u AWS_WEB_IDENTITY_TOKEN_FILE "$REDSLEEVE" -c "$W/w.ini" --check-config 2>&1) && rc=0 || rc=$?
check "AWS_ROLE_ARN without the token file is refused, not skipped" \
    bash -c "test $rc -ne 0 && grep -q 'AWS_ROLE_ARN is set but AWS_WEB_IDENTITY_TOKEN_FILE is not' <<<'$out'"

start_redsleeve rs "$W/w.ini"
A=$RS_PORT_admin
ping_ok() { test "$(rcli "$RS_PORT_cache" PING 2>/dev/null)" = PONG; }
check "a client gets through once STS answered (after its 400)" \
    wait_until 15 ping_ok
check "the first answer was a 400, retried" test "$(head -n 1 "$SL")" = 400
check "... logged with the status and the code, not the message" \
    grep -q 'event=aws-credentials source=web-identity endpoint=localhost:[0-9]* result=failed error="HTTP 400 InvalidIdentityToken"' "$W/rs.log"
check "the request had every field right (role, session, token)" \
    grep -qx "200 AKIDW1 role=$ROLE session=sidecar-test token=webid-token-1-" "$SL"
check "links logged in with the STS credentials (AKIDW1)" \
    grep -q '^AUTH ok app .* AKIDW1$' "$FL"
# EKS rotates the token file: the next fetch must send the new token.
printf 'webid-token-2-NeverLogged\n' >"$W/token.new"
mv "$W/token.new" "$W/token"
check "refreshed before they expire (AKIDW2), with the token file read again" \
    wait_until 15 grep -qx "200 AKIDW2 role=$ROLE session=sidecar-test token=webid-token-2-" "$SL"
check "... no request the fake found wrong" bash -c "! grep -q 'sts bad' '$SL'"
out=$(printf 'RESET\r\nPING\r\n' | rcli "$RS_PORT_cache" 2>&1)
check "a token signed afterwards uses them" \
    bash -c "grep -q PONG <<<'$out' && grep -q '^AUTH ok app .* AKIDW2\$' '$FL'"
left=$(metric 'redsleeve_iam_credentials_expiry_seconds{service="cache"}')
check "/metrics: seconds until they expire ($left)" \
    bash -c "(( ${left:-0} > 250 && ${left:-0} <= 303 ))"
check "/metrics: one failed fetch from web identity" \
    test "$(metric 'redsleeve_iam_credential_fetch_failures_total{service="cache",source="web-identity"}')" = 1
body=$(exec 3<>/dev/tcp/127.0.0.1/"$A"; printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3; cat <&3)
check "/metrics: the source" \
    grep -qx 'redsleeve_iam_credentials_info{service="cache",source="web identity"} 1' <<<"$body"
no_secret() { ! grep -q -e NeverLogged -e webid-token <<<"$body"; }
check "/metrics: no secret" no_secret
stop_bg rs

# A CA bundle without the fake's issuer: the certificate is rejected.
fetched=$(grep -c '^200 ' "$SL")
AWS_CA_BUNDLE=$PKI/untrusted-ca.crt start_redsleeve rs2 "$W/w.ini"
check "a certificate AWS_CA_BUNDLE does not vouch for is rejected, and why" \
    wait_until 10 grep -q 'source=web-identity .*result=failed error="certificate rejected: unable to get local issuer certificate"' "$W/rs2.log"
check "... and no credentials were fetched" \
    test "$(grep -c '^200 ' "$SL")" = "$fetched"
stop_bg rs2

# The profile's form, to 127.0.0.1 (an IP address checked in the cert).
printf 'webid-token-3-NeverLogged\n' >"$W/token3"
cat >"$W/aws-config" <<EOF
[profile web]
role_arn = arn:aws:iam::123456789012:role/redsleeve-profile
web_identity_token_file = $W/token3
role_session_name = profile-session
EOF
printf 'webid-token-3-NeverLogged\n' >"$W/token"   # what the fake checks
AWS_CONFIG_FILE=$W/aws-config AWS_PROFILE=web AWS_ENDPOINT_URL_STS= \
    AWS_ENDPOINT_URL=https://127.0.0.1:$SP AWS_ROLE_ARN= \
    AWS_WEB_IDENTITY_TOKEN_FILE= start_redsleeve rs3 "$W/w.ini"
check "role_arn + web_identity_token_file in the profile work too" \
    wait_until 15 grep -q "^200 AKIDW[0-9]* role=arn:aws:iam::123456789012:role/redsleeve-profile session=profile-session token=webid-token-3-" "$SL"
check "... and a client gets through" wait_until 10 ping_ok
stop_bg rs3

# Reloads: a service that had static keys turns to a web identity (the
# first fetched source, started by the reload), then the profile's role
# changes (the fetcher is replaced, the old role's keys forgotten).
printf 'AKIDSTATIC staticSecretNeverLogged staticTokenNeverLogged\n' >>"$W/sts.port.issued"
cat >"$W/aws-config-r" <<EOF
[profile static]
aws_access_key_id = AKIDSTATIC
aws_secret_access_key = staticSecretNeverLogged
aws_session_token = staticTokenNeverLogged
[profile web]
role_arn = arn:aws:iam::123456789012:role/redsleeve-profile
web_identity_token_file = $W/token3
role_session_name = profile-session
EOF
{ cat "$W/w.ini"; printf 'aws_profile = static\n'; } >"$W/r.ini"
AWS_CONFIG_FILE=$W/aws-config-r AWS_ENDPOINT_URL_STS= \
    AWS_ENDPOINT_URL=https://127.0.0.1:$SP AWS_ROLE_ARN= \
    AWS_WEB_IDENTITY_TOKEN_FILE= start_redsleeve rs4 "$W/r.ini"
LOG=$W/rs4.log
check "reload: a client first gets through with static keys (AKIDSTATIC)" \
    bash -c "$(declare -f rcli ping_ok wait_until); RS_PORT_cache=$RS_PORT_cache TOOLS=$TOOLS wait_until 10 ping_ok && grep -q '^AUTH ok app .* AKIDSTATIC\$' '$FL'"
sts_before=$(grep -c '^200 ' "$SL")
sed -i 's/^aws_profile = static$/aws_profile = web/' "$W/r.ini"
hup_and_wait 'event=reload result=ok'
more_sts() { (($(grep -c '^200 ' "$SL") > sts_before)); }
check "a reload that brings in the first web identity starts fetching" \
    wait_until 15 more_sts
newest=$(sed -n 's/^200 \(AKIDW[0-9]*\) .*/\1/p' "$SL" | tail -n 1)
signed_with_newest() {  # a client's RESET makes a token with the keys in hand
    printf 'RESET\r\nPING\r\n' | rcli "$RS_PORT_cache" 2>&1 | grep -q PONG &&
        grep -q "^AUTH ok app .* $newest\$" "$FL"
}
check "... and the next token is signed with what STS gave ($newest)" \
    wait_until 10 signed_with_newest
sed -i 's|role/redsleeve-profile$|role/redsleeve-reloaded|' "$W/aws-config-r"
hup_and_wait 'event=reload result=ok'
check "a reload that changes the role replaces the fetcher" \
    wait_until 15 grep -q "^200 AKIDW[0-9]* role=arn:aws:iam::123456789012:role/redsleeve-reloaded " "$SL"
check "... said in the log" \
    grep -q 'event=aws-credentials action=replaced service=cache source=web identity' "$LOG"
newest=$(sed -n 's/^200 \(AKIDW[0-9]*\) role=.*redsleeve-reloaded.*/\1/p' "$SL" | tail -n 1)
check "... and tokens are signed with the new role's keys ($newest)" \
    wait_until 10 signed_with_newest
stop_bg rs4

# Two services that would fetch as two different roles: refused.
{ cat "$W/w.ini"
  printf '[cache2]\nlisten = 127.0.0.1:0\nupstream = 127.0.0.1:1\n'
  printf 'verify_host = redis.test\nca_file = %s\n' "$PKI/ca.crt"
  printf 'iam_user_id = app\niam_cache_name = c1\naws_profile = web\n'; } >"$W/two.ini"
ln=$(grep -n '^iam_user_id' "$W/two.ini" | tail -n 1 | cut -d: -f1)
out=$(AWS_CONFIG_FILE=$W/aws-config "$REDSLEEVE" -c "$W/two.ini" --check-config 2>&1) && rc=0 || rc=$?
check "two services needing two fetched sources are refused (one per process)" \
    bash -c "test $rc -ne 0 && grep -q 'two.ini:$ln: iam_user_id: \[cache2\] would fetch its credentials from web identity as arn:aws:iam::123456789012:role/redsleeve-profile, \[cache\] from web identity as $ROLE: one fetched credential source per process' <<<'$out'"

check "no secret key, session token, web identity token, STS message or IAM token in any log" \
    bash -c "! grep -q -e NeverLogged -e webid-token -e X-Amz-Signature '$W/rs.log' '$W/rs2.log' '$W/rs3.log' '$W/rs4.log'"
cli_token AKIDW
stop_bg fakeiam
stop_bg fakests

finish
