#!/bin/sh
# deb.sh (make deb): builds the Debian package from the tree with
# debhelper, out of the tree: the files git tracks (and new, unignored
# ones) are copied to build-deb/redsleeve-VERSION and dpkg-buildpackage
# runs there, so the .deb, .buildinfo and .changes land in build-deb/ and
# nothing appears in `git status`.  Then lintian checks the result with
# --pedantic; it fails on errors and warnings.  There are no overrides:
# debian/README.source says why each remaining (informational) tag stays.
# Needs: dpkg-dev, debhelper (>= 13.1, for dh_installsysusers), lintian,
# and the Build-Depends of debian/control.
set -eu
cd "$(dirname "$0")/.."
OUT=build-deb
V=$(cat VERSION)

for tool in dpkg-buildpackage dh lintian; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "deb.sh: $tool is missing" \
            "(apt-get install dpkg-dev debhelper lintian)" >&2
        exit 1
    }
done
DV=$(dpkg-parsechangelog -S Version)
[ "$DV" = "$V" ] || {
    echo "deb.sh: debian/changelog says $DV, VERSION says $V:" \
        "add a changelog entry" >&2
    exit 1
}

rm -rf "$OUT"
SRC=$OUT/redsleeve-$V
mkdir -p "$SRC"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # Tracked and new files as they are in the tree (edits included);
    # files deleted but not yet committed are skipped.
    git ls-files -co --exclude-standard | while IFS= read -r f; do
        [ -e "$f" ] && printf '%s\n' "$f"
    done | tar -cf - -T - | tar -C "$SRC" -xf -
else
    tar --exclude='./build*' --exclude=./redsleeve -cf - . | tar -C "$SRC" -xf -
fi

# The copy lies inside the work tree, so the Makefile's `git rev-parse`
# still names the commit in --version.  No debug-symbol package (noddebs).
(cd "$SRC" && DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-} noddebs" \
    dpkg-buildpackage -b -us -uc --build-profiles=nocheck) \
    >"$OUT/build.log" 2>&1 || {
    tail -n 40 "$OUT/build.log" >&2
    echo "deb.sh: dpkg-buildpackage failed; full log in $OUT/build.log" >&2
    exit 1
}
deb=$(ls "$OUT"/redsleeve_"$V"_*.deb)
echo "deb.sh: built $deb"
changes=$(ls "$OUT"/redsleeve_"$V"_*.changes)
rc=0
lintian --fail-on error,warning --display-info --pedantic "$changes" \
    >"$OUT/lintian.txt" 2>&1 || rc=$?
grep -v 'running with root privileges' "$OUT/lintian.txt" || true
[ "$rc" = 0 ] || { echo "deb.sh: lintian failed" >&2; exit 1; }
echo "deb.sh: lintian passed (report in $OUT/lintian.txt)"
