#!/usr/bin/env bash
# tests/image/pod.sh (make test-pod): deploy/kubernetes/redsleeve-sidecar.yaml
# run with `podman kube play` (flags from ../shared/notes/podman.md) in
# front of a TLS redis-server on the host's loopback: the init container
# hands the Secret's password to uid 65532 with mode 0400, redsleeve is
# configured from the env ConfigMap (the test's own, with free ports, the
# test CA and its host name), the app container's heartbeats reach the
# TLS server through it, a client on the host does too, and the probes'
# paths (/healthz, /readyz) answer on admin_listen.
#
# What the test changes in its copy of the manifest, and only that: the
# image names (local images; there is no registry here), the probes'
# port (the free admin port) and hostNetwork: true, which the shipped
# manifest does not have (the test's redis-server is on this machine's
# loopback, which a pod's own network namespace cannot see).  Images:
# redsleeve:latest from `make image`,
# and a FROM-scratch busybox (Debian's busybox-static) standing in for
# busybox:1.36.  Needs podman, runc, catatonit (the pod's infra process)
# and busybox-static; says "skip" without them.
. "$(dirname "$0")/../integration/lib.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MANIFEST=$ROOT/deploy/kubernetes/redsleeve-sidecar.yaml
IMAGE=${IMAGE:-redsleeve:latest}
BUSYBOX_IMAGE=localhost/redsleeve-test-busybox:latest
for need in podman catatonit busybox; do
    if ! command -v "$need" >/dev/null 2>&1 &&
        ! [[ -x /usr/libexec/podman/$need ]]; then
        echo "skip: $need not installed" \
            "(apt-get install podman runc catatonit busybox-static)"
        finish
    fi
done
BUSYBOX=$(command -v busybox)
if ldd "$BUSYBOX" >/dev/null 2>&1; then
    echo "skip: $BUSYBOX is not static (apt-get install busybox-static)"
    finish
fi

# kube play has no --runtime/--ulimit flags: a containers.conf of the test's
# own says what podman.md's `podman run` flags say.
cat >"$W/containers.conf" <<'CONF'
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
CONF
export CONTAINERS_CONF=$W/containers.conf
PODMAN=(podman --storage-driver=vfs)
POD=redsleeve-sidecar

if "${PODMAN[@]}" pod exists "$POD" 2>/dev/null; then
    echo "pod.sh: a pod named $POD exists already (another run?)" >&2
    exit 1
fi

pod_cleanup() {
    [[ -f $W/pod.yaml ]] || return 0
    for c in redsleeve app; do
        "${PODMAN[@]}" logs "$POD-$c" >"$W/pod-$c.log" 2>&1 || true
    done
    "${PODMAN[@]}" kube down "$W/pod.yaml" >/dev/null 2>&1 || true
    "${PODMAN[@]}" secret rm redsleeve-redis >/dev/null 2>&1 || true
    # The volume podman made for the secret (the emptyDir goes with the pod).
    "${PODMAN[@]}" volume rm -f redsleeve-redis >/dev/null 2>&1 || true
    # ... and for the CA ConfigMap.
    "${PODMAN[@]}" volume rm -f redsleeve-ca >/dev/null 2>&1 || true
}
# lib.sh's cleanup reads the exit status from $?: hand it on.
trap 'rc=$?; pod_cleanup; set +e; (exit $rc); cleanup' EXIT

# 1. A busybox image from local files: the init and app containers.
mkdir -p "$W/bb/rootfs/bin"
cp "$BUSYBOX" "$W/bb/rootfs/bin/busybox"
for a in sh cp chown chmod nc sleep printf cat; do
    ln -s busybox "$W/bb/rootfs/bin/$a"
done
printf 'FROM scratch\nCOPY rootfs/ /\nENV PATH=/bin\n' >"$W/bb/Containerfile"
check "a busybox image builds from local files" \
    "${PODMAN[@]}" build -q -t "$BUSYBOX_IMAGE" -f "$W/bb/Containerfile" "$W/bb"

# 2. The TLS server, the ports, the test's ConfigMaps and Secret.
start_redis_tls main
RP=$REDIS_PORT_main
P=$("$TOOLS/freeport")
A=$("$TOOLS/freeport")
# Podman 4.3 (Debian 12) writes a Secret's `data` value into the volume
# as it stands in the YAML, without decoding the base64 (and ignores
# defaultMode: the init container's chmod is what makes it 0400).  So the
# test's password is text that is valid base64 (hex digits, a multiple
# of 4 long), and the file then holds exactly it.
PW=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
rcli_tls "$RP" CONFIG SET requirepass "$PW" >/dev/null
REDIS_PASSWORD=$PW
cat >"$W/secret.yaml" <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: redsleeve-redis
data:
  password: $PW
YAML
cat >"$W/env.yaml" <<YAML
apiVersion: v1
kind: ConfigMap
metadata:
  name: redsleeve-sidecar-env
data:
  REDSLEEVE_LISTEN: "127.0.0.1:$P"
  REDSLEEVE_UPSTREAM: "127.0.0.1:$RP"
  REDSLEEVE_ROLE: "primary"
  REDSLEEVE_VERIFY_HOST: "redis.test"
  REDSLEEVE_CA_FILE: "/etc/redsleeve/ca/ca.crt"
  REDSLEEVE_ADMIN_LISTEN: "127.0.0.1:$A"
YAML
{
    printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: redsleeve-ca\n'
    printf 'data:\n  ca.crt: |\n'
    sed 's/^/    /' "$PKI/ca.crt"
} >"$W/ca.yaml"

# 3. The manifest, with local images, the free admin port and the host's
# network.
check "the shipped manifest does not put the pod on the node's network" \
    test "$(grep -Ec '^[[:space:]]*hostNetwork:' "$MANIFEST")" = 0
sed -e "s|image: busybox:1.36|image: $BUSYBOX_IMAGE|" \
    -e "s|image: redsleeve:latest|image: localhost/${IMAGE#localhost/}|" \
    -e "s|port: 9121|port: $A|" \
    -e 's|^spec:$|spec:\n  hostNetwork: true|' "$MANIFEST" >"$W/pod.yaml"
changed=$(diff "$MANIFEST" "$W/pod.yaml" | grep -c '^>' || true)
check "the test changes 6 lines of the manifest (3 images, 2 probe ports, hostNetwork)" \
    test "$changed" = 6

# kube play looks for a build context named like the image in the working
# directory (podman 4.3 even with --build=false): from the tree that is the
# ./redsleeve binary, a file, and it fails.  So it runs from $W.
(cd "$W" && "${PODMAN[@]}" kube play --build=false "$W/secret.yaml") \
    >"$W/play-secret.log" 2>&1 || true
check "the Secret is stored" "${PODMAN[@]}" secret inspect redsleeve-redis
if (cd "$W" && "${PODMAN[@]}" kube play --build=false \
    --configmap "$W/env.yaml" --configmap "$W/ca.yaml" "$W/pod.yaml") \
    >"$W/play.log" 2>&1; then
    ok "podman kube play starts the pod"
else
    fail "podman kube play" "$(tail -n 5 "$W/play.log")"
    finish
fi

state() {
    "${PODMAN[@]}" inspect --format '{{.State.Status}}' "$1" 2>/dev/null
}
check "redsleeve is running in the pod" \
    wait_until 60 test "$(state "$POD-redsleeve")" = running
pid=$("${PODMAN[@]}" inspect --format '{{.State.Pid}}' "$POD-redsleeve" \
    2>/dev/null || echo 0)
check "it runs as uid 65532" \
    grep -Eq '^Uid:[[:space:]]+65532' "/proc/$pid/status"
check "the init container made the password a 0400 copy owned by 65532" \
    test "$(stat -c '%u %a' \
        "/proc/$pid/root/run/redsleeve/secret/password")" = "65532 400"

# 4. Traffic and probes.
check "/healthz answers 200 on admin_listen" \
    wait_until 30 curl -fsS "http://127.0.0.1:$A/healthz"
check "/readyz answers 200 once the upstream link is up" \
    wait_until 30 curl -fsS "http://127.0.0.1:$A/readyz"
for path in $(sed -n 's/^ *path: \(\/[a-z]*\)$/\1/p' "$MANIFEST"); do
    check "the manifest's probe path $path answers 200" \
        curl -fsS "http://127.0.0.1:$A$path"
done
# wait_until runs a command again and again: these re-ask each time.
pong() { [[ $(rcli "$P" PING 2>/dev/null) == PONG ]]; }
beats() { rcli_tls "$RP" GET app:heartbeats 2>/dev/null || true; }
beats_seen() { [[ -n $(beats) ]]; }
beats_after() { [[ $(beats) != "$1" ]]; }
check "a plaintext client on the host reaches the TLS server through the pod" \
    wait_until 10 pong
rcli "$P" SET from:pod yes >/dev/null
check "... its writes land on the server" \
    test "$(rcli_tls "$RP" GET from:pod)" = yes
check "the app container's heartbeats reach the TLS server" \
    wait_until 30 beats_seen
b1=$(beats)
check "... and keep coming ($b1, then more)" wait_until 30 beats_after "$b1"
curl -fsS "http://127.0.0.1:$A/metrics" >"$W/metrics.txt" 2>&1 || true
check "/metrics counts the clients" \
    grep -Eq '^redsleeve_clients_total\{service="sidecar"\} [1-9]' \
    "$W/metrics.txt"

# 5. Stopping the pod drains redsleeve and it exits 0.
"${PODMAN[@]}" pod stop -t 15 "$POD" >/dev/null 2>&1 || true
"${PODMAN[@]}" logs "$POD-redsleeve" >"$W/pod-redsleeve.log" 2>&1 || true
check "podman pod stop: redsleeve drains and exits 0" \
    grep -q 'event=exit code=0' "$W/pod-redsleeve.log"
finish
