#!/bin/sh
# image.sh (make image): stages the FROM-scratch context in
# build-static/image/rootfs (the static binary, stripped; the CA bundle;
# passwd/group naming the non-root user) and builds the image with podman.
# IMAGE=name:tag overrides redsleeve:latest.  Needs podman (and runc); see
# ../shared/notes/podman.md for the flags these machines need.
set -eu
cd "$(dirname "$0")/.."
IMAGE=${IMAGE:-redsleeve:latest}
CTX=build-static/image
BUNDLE=/etc/ssl/certs/ca-certificates.crt

command -v podman >/dev/null 2>&1 || {
    echo "image.sh: podman is not installed (apt-get install podman runc)" >&2
    exit 1
}
[ -s "$BUNDLE" ] || {
    echo "image.sh: $BUNDLE is missing (apt-get install ca-certificates)" >&2
    exit 1
}
rm -rf "$CTX"
mkdir -p "$CTX/rootfs/usr/bin" "$CTX/rootfs/etc/ssl/certs" "$CTX/rootfs/tmp"
strip -o "$CTX/rootfs/usr/bin/redsleeve" build-static/redsleeve
cp "$BUNDLE" "$CTX/rootfs/etc/ssl/certs/ca-certificates.crt"
printf 'redsleeve:x:65532:65532:redsleeve:/:/sbin/nologin\n' \
    >"$CTX/rootfs/etc/passwd"
printf 'redsleeve:x:65532:\n' >"$CTX/rootfs/etc/group"
chmod 1777 "$CTX/rootfs/tmp"
cp Containerfile "$CTX/Containerfile"
podman build --storage-driver=vfs -q -t "$IMAGE" -f "$CTX/Containerfile" \
    "$CTX"
size=$(podman image inspect --storage-driver=vfs --format '{{.Size}}' "$IMAGE")
echo "image.sh: built $IMAGE, $size bytes"
