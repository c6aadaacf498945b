#!/bin/sh
# deps.sh: makes sure the Debian/Ubuntu packages redsleeve needs to build,
# test and demo are installed.  Missing ones are installed with apt-get as
# root, or through sudo when it works without a password prompt; otherwise
# the exact command is printed and the script fails.  redis-server is kept
# from starting as a system service while it is installed: the tests and
# the demo start their own, on loopback, and stop them by PID.
set -eu

PKGS="gcc make pkg-config libssl-dev libevent-dev libinih-dev check
libhiredis-dev libsystemd-dev openssl redis-server redis-tools iproute2 procps
python3 python3-redis"

missing=""
for p in $PKGS; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case $st in
    *"install ok installed"*) ;;
    *) missing="$missing $p" ;;
    esac
done
# Node.js and npm (the cluster tests' ioredis and node-redis come from the
# npm registry): Debian's, unless some Node.js with npm is there already.
if ! command -v npm >/dev/null 2>&1; then
    missing="$missing nodejs npm"
fi
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo"
else
    echo "redsleeve needs these packages:$missing" >&2
    echo "run:  sudo apt-get update && sudo apt-get install -y$missing" >&2
    exit 1
fi

echo "installing:$missing" >&2
made_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    made_policy=1
fi
$SUDO apt-get update -qq
# shellcheck disable=SC2086  # word splitting of the package list is wanted
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends $missing >/dev/null
if [ $made_policy = 1 ]; then
    $SUDO rm -f /usr/sbin/policy-rc.d
fi
