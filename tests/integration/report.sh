# report.sh: pass/fail bookkeeping, sourced by tests/integration/lib.sh
# and tests/package/run.sh.  Each test prints "ok"/"FAIL" lines and ends
# with finish: "N passed, N failed", exit 1 when anything failed.

PASSED=0
FAILED=0

ok() {
    PASSED=$((PASSED + 1))
    printf 'ok    %s\n' "$1"
}

fail() {
    FAILED=$((FAILED + 1))
    printf 'FAIL  %s: %s\n' "$1" "${2:-}"
}

check() {  # check NAME CMD...: passes when CMD succeeds
    local name=$1
    shift
    if "$@" >/dev/null 2>&1; then ok "$name"; else fail "$name" "$*"; fi
}

finish() {
    printf '%d passed, %d failed\n' "$PASSED" "$FAILED"
    if ((FAILED > 0)); then
        exit 1
    fi
    exit 0
}
