#!/usr/bin/env bash
# bench/scrape.sh [BEFORE_BIN [AFTER_BIN]]: does scraping the admin
# endpoints move the tail latency of the data path?  (issue #15: "scraping
# /metrics and /readyz 20 times a second does not move the p99 latency of
# a redis-benchmark -c 1 run beyond noise".)
#
# The old control plane stopped every worker loop for each scrape
# (pause_all); the new one asks each worker, in its own loop, for a copy
# of its counters.  This script compares two builds in one run:
#
#   - a throwaway PKI (tests/integration/gen-certs.sh) and a TLS-only
#     redis-server, all on 127.0.0.1, free ports, in a mktemp -d directory
#     removed on exit (only the processes started here are killed);
#   - for each build and each `workers` value in $WORKERS (default "1 2"),
#     one redsleeve with admin_listen and one service in front of that
#     redis-server (all four proxies up for the whole run);
#   - per measurement: redis-benchmark -c 1 -n $N -t get -P 1 --csv
#     (p50/p99 and requests/s parsed from the CSV header), with scraping
#     OFF and with scraping ON: a background scraper alternating GET
#     /metrics and GET /readyz, a new connection per request, started
#     before and stopped after the run; the scrapes that fell inside the
#     run are counted (their HTTP codes checked, their time recorded).
#     SCRAPER=python (default): one python3 process on a fixed 50 ms
#     schedule (20 a second; a late request is not made up for).
#     SCRAPE_PATHS (default "metrics readyz"): the paths, in turn;
#     SCRAPE_PATHS=healthz is the control: the same requests at the same
#     rate to a path that reads no counter, so what it costs is the
#     scraper's and the HTTP server's CPU, not the stats;
#     CONTROL_PATHS (e.g. "healthz"): adds a third condition, CTL, in
#     every round: the same scraper at the same rate on those paths, so
#     "ON / CTL" is what reading the counters costs beyond any request;
#     SCRAPER=curl: a bash loop of `curl; sleep 0.05`, which only reaches
#     20 a second if a curl process costs nothing (on a loaded 2-core box
#     it reached 5-7 a second: each fork+exec of curl took ~90 ms);
#   - REPS rounds; each round visits every (build, workers) cell, OFF/ON
#     order alternating by round and cell order reversed every other
#     round, so drift from other load on the machine hits both sides.
#
# Prints every run, then per cell (build x workers x scraping) the median
# p99, p50 and requests/s, and per (build, workers) the ratio ON/OFF of
# the median p99.  Builds are labelled by the first line of `--version`.
#
# Run (as root the proxies need REDSLEEVE_ALLOW_ROOT=yes, set here):
#   bench/scrape.sh /tmp/rs-before /tmp/rs-after
#   REPS=7 N=20000 BEFORE=/tmp/rs-before AFTER=/tmp/rs-after bench/scrape.sh
# Needs redis-server/-cli/-benchmark 7 (for the p99 CSV column), openssl,
# curl, python3.
set -euo pipefail

BEFORE=$(realpath "${1:-${BEFORE:-/tmp/rs-before}}")
AFTER=$(realpath "${2:-${AFTER:-/tmp/rs-after}}")
REPS=${REPS:-7}
SCRAPER=${SCRAPER:-python}
SCRAPE_PATHS=${SCRAPE_PATHS:-metrics readyz}
CONTROL_PATHS=${CONTROL_PATHS:-}
N=${N:-20000}
WORKERS=${WORKERS:-"1 2"}
HERE=$(cd "$(dirname "$0")" && pwd)

W=$(mktemp -d /tmp/redsleeve-scrape.XXXXXX)
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$W"
}
trap cleanup EXIT

port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# --- PKI and the TLS-only redis-server ---------------------------------
bash "$HERE/../tests/integration/gen-certs.sh" "$W/pki" >/dev/null 2>&1
RP=$(port)
redis-server --port 0 --tls-port "$RP" --bind 127.0.0.1 \
    --tls-cert-file "$W/pki/server.crt" --tls-key-file "$W/pki/server.key" \
    --tls-ca-cert-file "$W/pki/ca.crt" --tls-auth-clients no \
    --save '' --appendonly no --dir "$W" --logfile "$W/redis.log" &
pids+=($!)
ok=
for _ in $(seq 1 100); do
    if [[ $(redis-cli --tls --cacert "$W/pki/ca.crt" -h 127.0.0.1 -p "$RP" \
        PING 2>/dev/null) == PONG ]]; then ok=1; break; fi
    sleep 0.1
done
[[ -n $ok ]] || { echo "redis-server did not answer on TLS port $RP" >&2; exit 1; }

# --- one redsleeve per (build, workers) --------------------------------
declare -A BIN=([before]=$BEFORE [after]=$AFTER) LABEL=() LPORT=() APORT=()
for b in before after; do
    LABEL[$b]=$("${BIN[$b]}" --version 2>&1 | head -n 1)
done
cells=()
for b in before after; do
    for w in $WORKERS; do
        c=$b.w$w
        cells+=("$c")
        LPORT[$c]=$(port)
        APORT[$c]=$(port)
        cat >"$W/$c.conf" <<CONF
[global]
log_level = warn
admin_listen = 127.0.0.1:${APORT[$c]}
workers = $w
[bench]
listen = 127.0.0.1:${LPORT[$c]}
upstream = 127.0.0.1:$RP
verify_host = redis.test
ca_file = $W/pki/ca.crt
CONF
        REDSLEEVE_ALLOW_ROOT=yes "${BIN[$b]}" -c "$W/$c.conf" 2>"$W/$c.log" &
        pids+=($!)
    done
done
for c in "${cells[@]}"; do
    ok=
    for _ in $(seq 1 100); do
        if [[ $(redis-cli -h 127.0.0.1 -p "${LPORT[$c]}" PING 2>/dev/null) == PONG ]]; then
            ok=1; break
        fi
        sleep 0.1
    done
    [[ -n $ok ]] || { echo "$c: no PONG on ${LPORT[$c]}" >&2; cat "$W/$c.log" >&2; exit 1; }
    m=$(curl -sf "http://127.0.0.1:${APORT[$c]}/metrics" || true)
    grep -q '^redsleeve_build_info' <<<"$m" ||
        { echo "$c: /metrics on ${APORT[$c]} has no redsleeve_build_info" >&2; exit 1; }
    curl -sf -o /dev/null "http://127.0.0.1:${APORT[$c]}/readyz" ||
        { echo "$c: /readyz on ${APORT[$c]} is not 200" >&2; exit 1; }
done

# --- measurement --------------------------------------------------------
# scrape ADMIN_PORT OUTFILE: one line per request, "CODE PATH SECONDS"
scrape_curl() {
    local i=0 path
    while :; do
        local paths=($SCRAPE_PATHS)
        path=${paths[i % ${#paths[@]}]}
        curl -s -o /dev/null --max-time 2 \
            -w "%{http_code} $path %{time_total}\n" \
            "http://127.0.0.1:$1/$path" >>"$2" || echo "000 $path 0" >>"$2"
        i=$((i + 1))
        sleep 0.05
    done
}
cat >"$W/scrape.py" <<'EOF'
import http.client, sys, time
port, out, paths = int(sys.argv[1]), sys.argv[2], sys.argv[3].split()
f = open(out, "a", buffering=1)
i, nxt = 0, time.monotonic()
while True:
    path = "/" + paths[i % len(paths)]
    t0 = time.monotonic()
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        c.request("GET", path)
        r = c.getresponse()
        r.read()
        code = r.status
        c.close()
    except Exception:
        code = 0
    f.write("%03d %s %.6f\n" % (code, path[1:], time.monotonic() - t0))
    i += 1
    nxt += 0.05
    d = nxt - time.monotonic()
    if d > 0:
        time.sleep(d)
    else:
        nxt = time.monotonic()
EOF
# scrape ADMIN_PORT OUTFILE PATHS
scrape() {
    if [[ $SCRAPER == curl ]]; then
        SCRAPE_PATHS=$3 scrape_curl "$1" "$2"
    else
        exec python3 "$W/scrape.py" "$@"
    fi
}

lines() { wc -l <"$1" | tr -d ' '; }

# bench CELL: one redis-benchmark run; prints "rps p50 p99"
bench() {
    local out
    out=$(timeout 600 redis-benchmark -h 127.0.0.1 -p "${LPORT[$1]}" -c 1 \
        -n "$N" -t get -P 1 --csv 2>/dev/null | tr -d '"\r')
    awk -F, '
        NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i
                  if (!("rps" in col) || !("p50_latency_ms" in col) ||
                      !("p99_latency_ms" in col)) { print "bad CSV header: " $0 > "/dev/stderr"; exit 1 }
                  next }
        $1 == "GET" { print $col["rps"], $col["p50_latency_ms"], $col["p99_latency_ms"]; found = 1 }
        END { if (!found) exit 1 }' <<<"$out" ||
        { echo "$1: could not parse redis-benchmark output: $out" >&2; return 1; }
}

# one CELL MODE REP: a run, appended to $W/runs.tsv and printed
one() {
    local c=$1 mode=$2 rep=$3 f="$W/scrape.$1.$3" spid= s0=0 s1=0 t0 t1 r
    local rps p50 p99 nscr=- ps=- bad=- sms=-
    if [[ $mode != off ]]; then
        : >"$f"
        scrape "${APORT[$c]}" "$f" \
            "$([[ $mode == on ]] && echo "$SCRAPE_PATHS" || echo "$CONTROL_PATHS")" &
        spid=$!
        pids+=("$spid")
        for _ in $(seq 1 100); do [[ -s $f ]] && break; sleep 0.05; done
        s0=$(lines "$f")
    fi
    t0=$(date +%s.%N)
    r=$(bench "$c")
    t1=$(date +%s.%N)
    if [[ $mode != off ]]; then
        s1=$(lines "$f")
        kill "$spid" 2>/dev/null || true
        wait "$spid" 2>/dev/null || true
        nscr=$((s1 - s0))
        ps=$(awk -v n="$nscr" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", n / (b - a)}')
        bad=$(sed -n "$((s0 + 1)),${s1}p" "$f" | awk '$1 != "200"' | wc -l | tr -d ' ')
        # median time of one scrape, ms (seconds in the file)
        sms=$(sed -n "$((s0 + 1)),${s1}p" "$f" | awk '{print $3 * 1000}' | sort -n |
            awk '{v[NR] = $1} END {if (NR) printf "%.2f", v[int((NR + 1) / 2)]; else print "-"}')
    fi
    read -r rps p50 p99 <<<"$r"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$c" "$mode" "$rep" "$rps" \
        "$p50" "$p99" "$nscr" "$ps" "$bad" "$sms" >>"$W/runs.tsv"
    printf '%-10s %-3s rep=%d  rps=%-9s p50=%-6s p99=%-6s scrapes=%s (%s/s, non-200: %s, median scrape %s ms)\n' \
        "$c" "$mode" "$rep" "$rps" "$p50" "$p99" "$nscr" "$ps" "$bad" "$sms"
}

echo "# before = ${LABEL[before]}  ($BEFORE)"
echo "# after  = ${LABEL[after]}  ($AFTER)"
echo "# REPS=$REPS N=$N WORKERS='$WORKERS' SCRAPER=$SCRAPER SCRAPE_PATHS='$SCRAPE_PATHS' CONTROL_PATHS='$CONTROL_PATHS'  redis: $(redis-server --version | cut -d' ' -f3)  nproc=$(nproc)  load: $(cut -d' ' -f1-3 /proc/loadavg)  $(date -u +%FT%TZ)"
for c in "${cells[@]}"; do   # warm-up: pool, caches, TLS sessions
    timeout 120 redis-benchmark -h 127.0.0.1 -p "${LPORT[$c]}" -c 1 -n 2000 \
        -t get -P 1 --csv >/dev/null 2>&1 || true
done
: >"$W/runs.tsv"
for rep in $(seq 1 "$REPS"); do
    order=("${cells[@]}")
    if ((rep % 2 == 0)); then
        order=()
        for ((i = ${#cells[@]} - 1; i >= 0; i--)); do order+=("${cells[$i]}"); done
    fi
    k=0
    for c in "${order[@]}"; do
        if [[ -n $CONTROL_PATHS ]]; then   # off, on, ctl, rotated
            modes=(off on ctl off on)
            for m in "${modes[@]:$(((rep + k) % 3)):3}"; do one "$c" "$m" "$rep"; done
        elif (((rep + k) % 2 == 1)); then
            one "$c" off "$rep"; one "$c" on "$rep"
        else
            one "$c" on "$rep"; one "$c" off "$rep"
        fi
        k=$((k + 1))
    done
done
echo "# load at end: $(cut -d' ' -f1-3 /proc/loadavg)"

# --- summary --------------------------------------------------------------
LB=${LABEL[before]} LA=${LABEL[after]} python3 - "$W/runs.tsv" "${cells[@]}" <<'PY'
import os, sys, statistics as st
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
cells = sys.argv[2:]
label = {"before": os.environ["LB"], "after": os.environ["LA"]}
def med(c, m, i):
    v = [float(r[i]) for r in rows if r[0] == c and r[1] == m]
    return st.median(v) if v else float("nan")
print()
print("medians over %d runs per cell (latency in ms; scrapes = per ON run, inside the run)"
      % len([r for r in rows if r[0] == cells[0] and r[1] == "off"]))
print("%-7s %-7s %-4s %9s %7s %7s %9s %8s %10s" % ("build", "workers", "scr", "rps", "p50", "p99", "scrapes", "scr/s", "scrape_ms"))
for c in cells:
    b, w = c.split(".w")
    for m in [m for m in ("off", "on", "ctl") if any(r[0] == c and r[1] == m for r in rows)]:
        scr = ("%9.0f %8.1f %10.2f" % (med(c, m, 6), med(c, m, 7), med(c, m, 9))) if m != "off" else "%9s %8s %10s" % ("-", "-", "-")
        print("%-7s %-7s %-4s %9.0f %7.3f %7.3f %s" % (b, w, m, med(c, m, 3), med(c, m, 4), med(c, m, 5), scr))
print()
print("p99 ON/OFF ratio of medians (and p99 range of the single runs, min-max)")
for c in cells:
    b, w = c.split(".w")
    off, on = med(c, "off", 5), med(c, "on", 5)
    rng = lambda m: "%.3f-%.3f" % (min(float(r[5]) for r in rows if r[0] == c and r[1] == m),
                                   max(float(r[5]) for r in rows if r[0] == c and r[1] == m))
    print("%-7s workers=%s  p99 off=%.3f on=%.3f  ratio=%.2f   off runs %s  on runs %s"
          % (b, w, off, on, on / off, rng("off"), rng("on")))
print()
print("paired: per round, p99 ON / p99 OFF of the two adjacent runs (cancels slow drift)")
for c in cells:
    b, w = c.split(".w")
    p = {}
    for r in rows:
        if r[0] == c:
            p.setdefault(r[2], {})[r[1]] = float(r[5])
    q = [v["on"] / v["off"] for v in p.values() if "on" in v and "off" in v]
    print("%-7s workers=%s  median ratio=%.2f  ON worse in %d of %d rounds   ratios %s"
          % (b, w, st.median(q), sum(x > 1 for x in q), len(q),
             " ".join("%.2f" % x for x in q)))
if any(r[1] == "ctl" for r in rows):
    print()
    print("paired: per round, p99 ON / p99 CTL (the same requests to paths that read no counter)")
    for c in cells:
        b, w = c.split(".w")
        p = {}
        for r in rows:
            if r[0] == c:
                p.setdefault(r[2], {})[r[1]] = float(r[5])
        q = [v["on"] / v["ctl"] for v in p.values() if "on" in v and "ctl" in v]
        print("%-7s workers=%s  median ratio=%.2f  ON worse in %d of %d rounds   ratios %s"
              % (b, w, st.median(q), sum(x > 1 for x in q), len(q),
                 " ".join("%.2f" % x for x in q)))
bad = sum(int(r[8]) for r in rows if r[1] != "off")
print()
print("non-200 scrape answers during ON runs: %d" % bad)
for k in ("before", "after"):
    print("%-6s = %s" % (k, label[k]))
PY
