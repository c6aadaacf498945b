#!/usr/bin/env bash
# 95-iam-token: `redsleeve --iam-token` signs ElastiCache IAM tokens as
# AWS's published sample does (2025-01-01T00:00:00Z, my-user-id on
# my-replication-group-id in eu-west-1, fakeAccessKeyId / fakeSecretKey),
# with credentials from the environment or the shared AWS files, and
# never prints a secret.
. "$(dirname "$0")/lib.sh"

SIG=9e361603d85874bce06114c6644725ed113e3b11ae6fa92efdf10c6bcf5de8d7
SIG_ST=bbce2bd61bd78461297ecb92e7001ddbeab2d85906c3cbedad6c9b81fb3466dc
mkdir -p "$W/home/.aws"
# token [ENV=VALUE...] -- ARGS...: runs it with a clean AWS environment
# and HOME in $W/home; stdout in $W/out, stderr in $W/err, code in rc.
token() {
    local envs=()
    while [[ $1 != -- ]]; do envs+=("$1"); shift; done
    shift
    env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN \
        -u AWS_PROFILE -u AWS_REGION -u AWS_DEFAULT_REGION \
        -u AWS_SHARED_CREDENTIALS_FILE -u AWS_CONFIG_FILE \
        -u AWS_ROLE_ARN -u AWS_WEB_IDENTITY_TOKEN_FILE \
        -u AWS_CONTAINER_CREDENTIALS_RELATIVE_URI \
        -u AWS_CONTAINER_CREDENTIALS_FULL_URI \
        HOME="$W/home" AWS_EC2_METADATA_DISABLED=true \
        "${envs[@]}" "$REDSLEEVE" --iam-token "$@" >"$W/out" 2>"$W/err" &&
        rc=0 || rc=$?
    cat "$W/out" "$W/err" >>"$W/all"
}
SAMPLE=(--iam-user-id my-user-id --iam-cache-name my-replication-group-id
    --at 2025-01-01T00:00:00Z)
ENVKEYS=(AWS_ACCESS_KEY_ID=fakeAccessKeyId AWS_SECRET_ACCESS_KEY=fakeSecretKey)

token "${ENVKEYS[@]}" -- "${SAMPLE[@]}" --iam-region eu-west-1
check "environment credentials: AWS's sample signature" \
    grep -q "^my-replication-group-id/?Action=connect&User=my-user-id&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=fakeAccessKeyId%2F20250101%2Feu-west-1%2Felasticache%2Faws4_request&X-Amz-Date=20250101T000000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature=$SIG\$" "$W/out"
check "... exit 0, one line" test "$rc" = 0 -a "$(wc -l <"$W/out")" = 1

token "${ENVKEYS[@]}" AWS_SESSION_TOKEN=fakeSessionToken -- "${SAMPLE[@]}" \
    --iam-region eu-west-1
check "with a session token: AWS's second sample, the token signed" \
    grep -q "X-Amz-Security-Token=fakeSessionToken&X-Amz-SignedHeaders=host&X-Amz-Signature=$SIG_ST\$" "$W/out"

token "${ENVKEYS[@]}" AWS_REGION=eu-west-1 -- "${SAMPLE[@]}" \
    --iam-serverless yes
check "serverless: ResourceType=ServerlessCache signed, region from AWS_REGION" \
    grep -q "Action=connect&ResourceType=ServerlessCache&User=my-user-id&.*eu-west-1" "$W/out"

cat >"$W/home/.aws/credentials" <<'INI'
[default]
aws_access_key_id = wrongKeyId
aws_secret_access_key = wrongSecret

[ops]
aws_access_key_id = fakeAccessKeyId
aws_secret_access_key = fakeSecretKey
INI
token -- "${SAMPLE[@]}" --iam-region eu-west-1 --aws-profile ops
check "shared credentials file, --aws-profile ops: the sample signature" \
    grep -q "X-Amz-Signature=$SIG\$" "$W/out"
token AWS_PROFILE=ops -- "${SAMPLE[@]}" --iam-region eu-west-1
check "... and with AWS_PROFILE=ops" grep -q "X-Amz-Signature=$SIG\$" "$W/out"
token "${ENVKEYS[@]}" -- "${SAMPLE[@]}" --iam-region eu-west-1
check "the environment comes before the files" \
    grep -q "X-Amz-Signature=$SIG\$" "$W/out"

rm "$W/home/.aws/credentials"
cat >"$W/home/.aws/config" <<'INI'
[profile ops]
region = eu-west-1
aws_access_key_id = fakeAccessKeyId
aws_secret_access_key = fakeSecretKey
INI
token -- "${SAMPLE[@]}" --aws-profile ops
check "config file [profile ops]: keys and region, the sample signature" \
    grep -q "%2Feu-west-1%2F.*X-Amz-Signature=$SIG\$" "$W/out"

token -- "${SAMPLE[@]}" --iam-region eu-west-1
check "no credentials for the profile: exit 1" test "$rc" = 1
check "... saying where it looked" \
    grep -q "no AWS credentials for profile default: not in the environment .*/.aws/credentials.*/.aws/config" "$W/err"
token "${ENVKEYS[@]}" -- "${SAMPLE[@]}"
check "no region anywhere: exit 1, said" \
    bash -c "test $rc = 1 && grep -q 'no region' '$W/err'"
token "${ENVKEYS[@]}" -- --iam-user-id u --iam-cache-name c --at 2025-13-01
check "a bad --at is misuse (exit 2), named" \
    bash -c "test $rc = 2 && grep -q -- '--at: expected a UTC time' '$W/err'"
token "${ENVKEYS[@]}" -- --iam-cache-name c --iam-region eu-west-1
check "--iam-user-id missing: exit 2" test "$rc" = 2
check "no secret (secret key or session token) ever printed" \
    bash -c "! grep -q 'fakeSecretKey\|wrongSecret\|fakeSessionToken[^&]' '$W/all'"

finish
