#!/usr/bin/env bash
# 80-systemd-units: the unit files parse and keep their sandbox: exposure
# score <= 1.5 (systemd-analyze security, offline).  Skipped, and said so,
# where systemd-analyze is not installed.
. "$(dirname "$0")/lib.sh"

UNITS=$(cd "$(dirname "$0")/../../systemd" && pwd)
if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "skip: systemd-analyze not installed"
    finish
fi
for unit in redsleeve.service redsleeve@.service; do
    out=$(systemd-analyze security --offline=true "$UNITS/$unit" 2>&1 || true)
    score=$(sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p' <<<"$out")
    if [[ -n $score ]] && awk -v s="$score" 'BEGIN {exit !(s <= 1.5)}'; then
        ok "$unit: exposure $score <= 1.5"
    else
        fail "$unit: exposure <= 1.5" "got [${score:-none}]: $(tail -n 2 <<<"$out")"
    fi
    check "$unit: Type=notify with a watchdog" \
        grep -q '^WatchdogSec=' "$UNITS/$unit"
    check "$unit: reload is SIGHUP to the main process" \
        grep -qx 'ExecReload=/bin/kill -HUP \$MAINPID' "$UNITS/$unit"
done
finish
