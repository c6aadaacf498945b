#!/usr/bin/env bash
# tests/package/run.sh (make test-deb): builds the Debian package with
# `make deb` (lintian must pass), installs it with apt-get, checks what it
# put in place (binary, units pointing at /usr/bin, conffile, man pages,
# the redsleeve user, /run/redsleeve, nothing enabled or started), then
# removes it (the conffile stays) and purges it (the conffile goes).
# Changes the machine: needs root; a redsleeve package installed before
# the test is refused rather than replaced.  Prints "N passed, N failed".
set -eu -o pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
. "$ROOT/tests/integration/report.sh"
installed() {
    dpkg-query -W -f='${Status}' redsleeve 2>/dev/null |
        grep -q 'install ok installed'
}
conf_state() {  # the dpkg status word: installed, config-files or none
    local st
    st=$(dpkg-query -W -f='${Status}' redsleeve 2>/dev/null || true)
    st=${st##* }
    case $st in not-installed|'') echo none ;; *) echo "$st" ;; esac
}
apt() {
    # Others may be installing packages: wait for the dpkg lock.
    DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout=600 \
        "$@" >>"$LOG" 2>&1
}

if [[ $(id -u) != 0 ]]; then
    echo "skip: the package test installs a package (run as root)"
    exit 77
fi
if [[ $(conf_state) != none ]]; then
    echo "test-deb: a redsleeve package is already on this machine" \
        "($(conf_state)); purge it first" >&2
    exit 1
fi
LOG=$(mktemp /tmp/redsleeve-deb.XXXXXX)
cleanup() {
    # Leave the machine as found: purge whatever the test installed.
    if [[ $(conf_state) != none ]]; then
        DEBIAN_FRONTEND=noninteractive apt-get -y -q \
            -o DPkg::Lock::Timeout=600 purge redsleeve >>"$LOG" 2>&1 || true
    fi
    if ((FAILED > 0)); then tail -n 30 "$LOG"; fi
    rm -f "$LOG"
}
trap cleanup EXIT

# 1. Build (lintian runs inside make deb and fails it on warnings).
before=$(git status --porcelain 2>/dev/null || true)
if env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s deb >>"$LOG" 2>&1; then
    ok "make deb builds and lintian passes"
else
    fail "make deb" "see below"
    finish
fi
check "the build left nothing new in git status" \
    test "$(git status --porcelain 2>/dev/null || true)" = "$before"
deb=$(ls "$ROOT"/build-deb/redsleeve_*.deb)

# 2. Install with apt (it resolves the library dependencies).
if apt install "$deb"; then ok "apt-get install ./$(basename "$deb")"; else
    fail "apt-get install" "$deb"
    finish
fi
check "redsleeve --version runs" sh -c \
    "/usr/bin/redsleeve --version | grep -q '^redsleeve $(cat VERSION)'"
unitdir=""
for d in /usr/lib/systemd/system /lib/systemd/system; do
    [[ -f $d/redsleeve.service ]] && unitdir=$d && break
done
check "redsleeve.service is installed" test -n "$unitdir"
check "redsleeve@.service is installed" test -f "$unitdir/redsleeve@.service"
check "the units run /usr/bin/redsleeve" \
    grep -qx 'ExecStart=/usr/bin/redsleeve -c /etc/redsleeve/redsleeve.ini' \
    "$unitdir/redsleeve.service"
check "... both of them" \
    grep -qx 'ExecStart=/usr/bin/redsleeve -c /etc/redsleeve/%i.ini' \
    "$unitdir/redsleeve@.service"
check "the unit is not enabled" \
    test ! -e /etc/systemd/system/multi-user.target.wants/redsleeve.service
check "the redsleeve user exists" getent passwd redsleeve
check "... as a system user without a login shell" sh -c \
    "uid=\$(id -u redsleeve); [ \$uid -lt 1000 ] &&
     getent passwd redsleeve | grep -q ':/usr/sbin/nologin$'"
check "/run/redsleeve exists, owned by redsleeve, 0750" sh -c \
    "[ \"\$(stat -c '%U %a' /run/redsleeve)\" = 'redsleeve 750' ]"
check "the example config is /etc/redsleeve/redsleeve.ini" \
    test -s /etc/redsleeve/redsleeve.ini
check "... a conffile" sh -c \
    "dpkg-query -W -f='\${Conffiles}' redsleeve |
     grep -q ' /etc/redsleeve/redsleeve.ini '"
check "the man pages are installed" test -f /usr/share/man/man8/redsleeve.8.gz \
    -a -f /usr/share/man/man5/redsleeve.ini.5.gz
check "the sysusers.d and tmpfiles.d entries are installed" \
    test -f /usr/lib/sysusers.d/redsleeve.conf -a \
    -f /usr/lib/tmpfiles.d/redsleeve.conf
check "LICENSE terms are in the copyright file" \
    grep -q 'Permission is hereby granted' /usr/share/doc/redsleeve/copyright
if command -v systemd-analyze >/dev/null 2>&1; then
    out=$(systemd-analyze verify "$unitdir/redsleeve.service" 2>&1) &&
        rc=0 || rc=$?
    check "systemd-analyze verify on the installed unit is clean" \
        test "$rc" = 0 -a -z "$out"
fi
# The packaged binary runs the shipped config's checks as far as this
# machine allows: as the redsleeve user, a config of its own on loopback.
tmp=$(mktemp -d /tmp/redsleeve-deb-conf.XXXXXX)
printf '[s]\nlisten = 127.0.0.1:0\nupstream = 127.0.0.1:6390\n' >"$tmp/r.ini"
chmod 755 "$tmp"; chmod 644 "$tmp/r.ini"
check "the installed binary checks a config as the redsleeve user" \
    setpriv --reuid=redsleeve --regid=redsleeve --clear-groups \
    /usr/bin/redsleeve -c "$tmp/r.ini" --check-config
rm -rf "$tmp"
# The README's steps after install with the shipped config: its password
# file, /etc/redsleeve/cache.secret, is read by the unit's user (never
# root), ExecStartPre= included: a root-owned 0600 file fails that check,
# one owned by redsleeve passes it.
secret=/etc/redsleeve/cache.secret
install -m 0600 /dev/null "$secret"
printf 'token-of-the-package-test\n' >"$secret"
as_unit() {  # its output goes to $LOG too (shown on failure)
    runuser -u redsleeve -- /usr/bin/redsleeve \
        -c /etc/redsleeve/redsleeve.ini --check-config 2>&1 | tee -a "$LOG"
}
out=$(as_unit) && rc=0 || rc=$?
check "a root-owned 0600 password file fails the unit user's check" \
    grep -q "auth_password_file: cannot open $secret: Permission denied" \
    <<<"$out"
chown redsleeve:redsleeve "$secret"
out=$(as_unit) && rc=0 || rc=$?
check "... owned by redsleeve (README: After installing) the shipped config passes" \
    test "$rc" = 0
check "... with role primary and role replica" \
    test "$(grep -c 'role primary$\|role replica$' <<<"$out")" = 2
rm -f "$secret"

# 3. Remove keeps the edited conffile; purge removes it.
echo '; edited by the package test' >>/etc/redsleeve/redsleeve.ini
apt remove redsleeve
check "apt-get remove removes the binary" test ! -e /usr/bin/redsleeve
check "... and keeps /etc/redsleeve/redsleeve.ini, edits included" \
    grep -q 'edited by the package test' /etc/redsleeve/redsleeve.ini
check "... the package is left in config-files state" \
    test "$(conf_state)" = config-files
apt purge redsleeve
check "apt-get purge removes /etc/redsleeve/redsleeve.ini" \
    test ! -e /etc/redsleeve/redsleeve.ini
check "... and /etc/redsleeve itself" test ! -e /etc/redsleeve
check "... and /run/redsleeve" test ! -e /run/redsleeve
check "... and keeps the redsleeve user (as Debian does)" \
    getent passwd redsleeve
check "... and the package is gone" test "$(conf_state)" = none
finish
