#!/usr/bin/env bash
# 85-install: `make install DESTDIR=... PREFIX=...` lays out the binary,
# the example config, the units (pointing at the installed binary) and the
# man pages; the man pages are clean for groff -ww (and mandoc -Tlint when
# it is installed).
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
    make -s -C "$ROOT" install DESTDIR="$W/dest" PREFIX=/usr >"$W/install.log" 2>&1
for f in usr/bin/redsleeve etc/redsleeve/redsleeve.ini.example \
    usr/lib/systemd/system/redsleeve.service \
    usr/lib/systemd/system/redsleeve@.service \
    usr/share/man/man8/redsleeve.8 usr/share/man/man5/redsleeve.ini.5; do
    check "installed $f" test -s "$W/dest/$f"
done
check "the unit runs the installed binary" \
    grep -q '^ExecStart=/usr/bin/redsleeve -c /etc/redsleeve/redsleeve.ini$' \
    "$W/dest/usr/lib/systemd/system/redsleeve.service"
check "the installed binary runs" "$W/dest/usr/bin/redsleeve" --version

# systemd-analyze verify on the installed units: the binary they name (here
# under DESTDIR, so the copies point there) and their man pages must exist.
if command -v systemd-analyze >/dev/null 2>&1; then
    mkdir -p "$W/verify"
    for unit in redsleeve.service redsleeve@.service; do
        sed "s|/usr/bin/redsleeve|$W/dest/usr/bin/redsleeve|g" \
            "$W/dest/usr/lib/systemd/system/$unit" >"$W/verify/$unit"
    done
    for unit in redsleeve.service redsleeve@prod.service; do
        out=$(MANPATH=$W/dest/usr/share/man systemd-analyze verify \
            "$W/verify/$unit" 2>&1) && rc=0 || rc=$?
        check "systemd-analyze verify $unit (installed) is clean" \
            test "$rc" = 0 -a -z "$out"
    done
else
    echo "skip: systemd-analyze verify (not installed)"
fi

for page in "$ROOT/man/redsleeve.8" "$ROOT/man/redsleeve.ini.5"; do
    name=$(basename "$page")
    if command -v groff >/dev/null 2>&1; then
        out=$(groff -ww -man -Tutf8 -z "$page" 2>&1)
        check "$name: groff -ww is silent" test -z "$out"
    fi
    if command -v mandoc >/dev/null 2>&1; then
        check "$name: mandoc -Tlint is clean" mandoc -Tlint -W warning "$page"
    fi
done
finish
