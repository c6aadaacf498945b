#!/usr/bin/env bash
# run.sh: runs every tests/integration/NN-*.sh (or those named as
# arguments) in its own bash, with one shared test PKI, and prints the
# total as "N passed, N failed".  Exit 1 if anything failed or crashed.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${REDSLEEVE:?set REDSLEEVE}" "${TOOLS:?set TOOLS}"
export REDSLEEVE TOOLS
PKI=$(mktemp -d /tmp/redsleeve-pki.XXXXXX)
trap 'rm -rf "$PKI"' EXIT
bash "$HERE/gen-certs.sh" "$PKI" || { echo "cannot make the test PKI"; exit 1; }
export PKI

passed=0
failed=0
crashed=()
files=("$@")
((${#files[@]})) || files=("$HERE"/[0-9][0-9]-*.sh)
for f in "${files[@]}"; do
    name=$(basename "$f")
    echo "== $name"
    start=$SECONDS
    out=$(bash "$f" 2>&1)
    rc=$?
    printf '%s\n' "$out"
    last=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' <<<"$out" | tail -n 1)
    if [[ -z $last ]]; then
        crashed+=("$name (exit $rc, no summary)")
        failed=$((failed + 1))
    else
        passed=$((passed + ${last%% *}))
        n=${last#*, }
        failed=$((failed + ${n%% *}))
        if ((rc != 0 && ${n%% *} == 0)); then
            crashed+=("$name (exit $rc)")
            failed=$((failed + 1))
        fi
    fi
    echo "   ($((SECONDS - start)) s)"
done
for c in "${crashed[@]}"; do
    echo "CRASHED: $c"
done
echo "integration: $passed passed, $failed failed"
((failed == 0))
