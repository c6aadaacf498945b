#!/usr/bin/env bash
# tests/image/run.sh (make test-image): the container image built by
# `make image`, run with podman (flags from ../shared/notes/podman.md),
# proxies a TLS redis-server on the host's loopback: configured from
# REDSLEEVE_* variables, verifying the test CA, injecting AUTH, as a
# non-root user; the image is under 15 MB; the system store path works.
. "$(dirname "$0")/../integration/lib.sh"

IMAGE=${IMAGE:-redsleeve:latest}
if ! command -v podman >/dev/null 2>&1; then
    echo "skip: podman not installed"
    finish
fi
PODMAN=(podman --storage-driver=vfs)
RUN=("${PODMAN[@]}" run --rm --runtime=runc --cgroup-manager=cgroupfs
     --network=host --ulimit nofile=1024:1024 --ulimit nproc=1024:1024)

size=$("${PODMAN[@]}" image inspect --format '{{.Size}}' "$IMAGE")
check "the image is under 15 MB ($size bytes)" test "$size" -lt 15000000
check "it runs as a non-root user" \
    test "$("${PODMAN[@]}" image inspect --format '{{.Config.User}}' "$IMAGE")" = 65532:65532
out=$("${RUN[@]}" "$IMAGE" --version 2>&1) || true
check "--version runs in the image" grep -q '^redsleeve .*OpenSSL: OpenSSL 3' <<<"${out//$'\n'/ }"
cid=$("${PODMAN[@]}" create "$IMAGE")
files=$("${PODMAN[@]}" export "$cid" | tar -t)
"${PODMAN[@]}" rm "$cid" >/dev/null
check "it carries the CA bundle" grep -qx 'etc/ssl/certs/ca-certificates.crt' <<<"$files"
check "... and nothing but the binary, the bundle and passwd/group" \
    test "$(grep -v '/$' <<<"$files" | sort | tr '\n' ' ')" = \
    "etc/group etc/passwd etc/ssl/certs/ca-certificates.crt usr/bin/redsleeve "

start_redis_tls main
RP=$REDIS_PORT_main
mkdir -p "$W/secrets"
printf '%s\n' "$REDIS_PASSWORD" >"$W/secrets/redis"
cp "$PKI/ca.crt" "$W/secrets/ca.crt"
chmod 755 "$W/secrets"
chmod 644 "$W/secrets/ca.crt"
# The password file as redsleeve accepts it: the image's user (65532) owns
# it and nobody else may read it (a 0644 secret is refused).
chown 65532:65532 "$W/secrets/redis"
chmod 400 "$W/secrets/redis"

# 1. Sidecar mode from the environment, CA file mounted.
P=$("$TOOLS/freeport")
start_bg image "${RUN[@]}" --name "rs-test-$$" -v "$W/secrets:/secrets:ro" \
    -e REDSLEEVE_LISTEN=127.0.0.1:$P -e REDSLEEVE_UPSTREAM=127.0.0.1:$RP \
    -e REDSLEEVE_VERIFY_HOST=redis.test -e REDSLEEVE_CA_FILE=/secrets/ca.crt \
    -e REDSLEEVE_AUTH_PASSWORD_FILE=/secrets/redis "$IMAGE"
IMG_PID=$LAST_PID
check "the containerised proxy starts listening" \
    wait_until 30 grep -q 'event=listen' "$W/image.log"
check "a plaintext client reaches the TLS server through it" \
    wait_until 10 test "$(rcli "$P" PING 2>/dev/null)" = PONG
rcli "$P" SET from:image yes >/dev/null
check "... writes land on the server" \
    test "$(rcli_tls "$RP" GET from:image)" = yes
pid=$(pgrep -f "^/usr/bin/redsleeve$" | head -n 1 || true)
[[ -z $pid ]] && pid=$(pgrep -x redsleeve | head -n 1 || true)
check "the process runs as uid 65532" \
    grep -Eq '^Uid:[[:space:]]+65532' "/proc/$pid/status"
"${PODMAN[@]}" stop -t 10 "rs-test-$$" >/dev/null 2>&1 || true
wait "$IMG_PID" 2>/dev/null || true
check "podman stop drains and exits 0" grep -q 'event=exit code=0' "$W/image.log"

# 2. The system store: no ca_file, the test CA mounted where the image's
# OpenSSL looks (SSL_CERT_FILE).
P2=$("$TOOLS/freeport")
start_bg image2 "${RUN[@]}" --name "rs-test2-$$" \
    -v "$W/secrets/ca.crt:/etc/ssl/certs/ca-certificates.crt:ro" \
    -v "$W/secrets:/secrets:ro" \
    -e REDSLEEVE_LISTEN=127.0.0.1:$P2 -e REDSLEEVE_UPSTREAM=127.0.0.1:$RP \
    -e REDSLEEVE_VERIFY_HOST=redis.test \
    -e REDSLEEVE_AUTH_PASSWORD_FILE=/secrets/redis "$IMAGE"
IMG2_PID=$LAST_PID
wait_until 30 grep -q 'event=listen' "$W/image2.log" || true
check "the system store of the image verifies the upstream" \
    wait_until 10 test "$(rcli "$P2" PING 2>/dev/null)" = PONG
"${PODMAN[@]}" stop -t 10 "rs-test2-$$" >/dev/null 2>&1 || true
wait "$IMG2_PID" 2>/dev/null || true

finish
