#!/usr/bin/env python3
"""report.py: docs/performance.md and docs/performance.svg from a bench run.

    report.py RESULTS.txt DOCS_DIR

Reads the raw rows of bench/run.sh's output (the CSV lines after "===
redis-benchmark runs" and the JSON lines of the idle-connection phase),
takes medians over the repetitions, computes every same-run ratio the
performance targets (issue #7) are written in, and writes:

  DOCS_DIR/performance.md   the table of targets, measured ratio, met or
                            not; the medians per case and target; the
                            machine and the command; then bench/profile.md
                            (the profile summary, written by hand);
  DOCS_DIR/performance.dat  the numbers the chart is drawn from;
  DOCS_DIR/performance.svg  drawn by gnuplot when it is installed: ops/s
                            per case for each target, and KiB per idle
                            client.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys

CASES = {
    "a": "a: -c 50 -P 1",
    "b": "b: -c 50 -P 16",
    "c": "c: -k 0 (new connection per request)",
    "d": "d: -c 1 (latency)",
}
ORDER = ["plain", "tls", "stunnel", "haproxy", "redsleeve", "baseline"]


def parse(path):
    rows, idle, header = [], {}, []
    in_csv = False
    for line in open(path, errors="replace"):
        s = line.strip()
        if line.startswith("==="):
            in_csv = "redis-benchmark runs" in line
            header.append(line.rstrip()) if len(header) < 3 else None
            continue
        if in_csv and s and not s.startswith("target,"):
            f = s.split(",")
            if len(f) == 15:
                rows.append({
                    "target": f[0], "case": f[1], "rep": int(f[2]),
                    "test": f[3], "rps": float(f[4]),
                    "p99": float(f[9]) if f[9] else None,
                    "requests": float(f[12]) if f[12] else None,
                    "proxy_cpu": float(f[13]) if f[13] else None,
                })
        if s.startswith("{") and '"rss_kib_per_conn"' in s:
            j = json.loads(s)
            if isinstance(j.get("rss_kib_per_conn"), (int, float)):
                idle[j["name"]] = j
    return rows, idle, header


def medians(rows):
    """(target, case) -> ops/s (mean of the tests, median over reps),
    p99 (median of the worst test per rep), CPU-s per 100k requests."""
    out = {}
    keys = {(r["target"], r["case"]) for r in rows}
    for t, c in keys:
        reps = sorted({r["rep"] for r in rows if (r["target"], r["case"]) == (t, c)})
        ops, p99, cpu = [], [], []
        for rep in reps:
            rr = [r for r in rows if (r["target"], r["case"], r["rep"]) == (t, c, rep)]
            ops.append(statistics.mean(r["rps"] for r in rr))
            p99.append(max(r["p99"] for r in rr if r["p99"] is not None))
            if rr[0]["proxy_cpu"] is not None and rr[0]["requests"]:
                cpu.append(rr[0]["proxy_cpu"] / rr[0]["requests"] * 1e5)
        out[(t, c)] = {
            "ops": statistics.median(ops), "p99": statistics.median(p99),
            "cpu": statistics.median(cpu) if cpu else None, "n": len(reps),
        }
    return out


def cluster_section(here):
    """The cluster case (issue #16), from bench/cluster.sh's results
    (bench/results-cluster*.txt), as they were written."""
    out = []
    for name in sorted(os.listdir(here)):
        if not (name.startswith("results-cluster") and name.endswith(".txt")):
            continue
        if not out:
            out += ["## Cluster mode (issue #16)", "",
                    "`make bench-cluster` (bench/cluster.sh): redis-benchmark "
                    "--cluster through `mode = cluster` against --tls straight "
                    "to the same cluster, interleaved; then GET of one key "
                    "through a node's port in cluster mode against a `mode = "
                    "single` service in front of the same node (the cost of "
                    "the rewriting). Goal: >= 80 % of direct TLS at -c 50 -P 1.",
                    ""]
        out += ["`bench/%s`:" % name, "", "```"]
        out += [l.rstrip() for l in open(os.path.join(here, name))]
        out += ["```", ""]
    return out


def main():
    results, docs = sys.argv[1], sys.argv[2]
    rows, idle, header = parse(results)
    m = medians(rows)
    get = lambda t, c: m.get((t, c))
    R = "redsleeve"
    targets = []

    def target(name, value, want, fmt, ok):
        targets.append((name, want, fmt(value) if value is not None else "n/a",
                        "yes" if value is not None and ok(value) else "**no**"))

    r = get(R, "a") and get("haproxy", "a") and get(R, "a")["ops"] / get("haproxy", "a")["ops"]
    target("a: ops/s vs HAProxy", r, "≥ 1.10×", lambda v: "%.2f×" % v, lambda v: v >= 1.10)
    r = get(R, "b") and get("tls", "b") and get(R, "b")["ops"] / get("tls", "b")["ops"]
    target("b: ops/s vs direct TLS", r, "≥ 70 %", lambda v: "%.0f %%" % (100 * v), lambda v: v >= 0.70)
    r = get(R, "c") and get("haproxy", "c") and get(R, "c")["ops"] / get("haproxy", "c")["ops"]
    target("c: connections/s vs HAProxy", r, "≥ 4×", lambda v: "%.1f×" % v, lambda v: v >= 4)
    r = get(R, "d") and get("tls", "d") and get(R, "d")["ops"] / get("tls", "d")["ops"]
    target("d: ops/s vs direct TLS", r, "≥ 92 %", lambda v: "%.0f %%" % (100 * v), lambda v: v >= 0.92)
    if get(R, "d") and get("haproxy", "d"):
        a, b = get(R, "d")["p99"], get("haproxy", "d")["p99"]
        targets.append(("d: p99 latency vs HAProxy", "≤ HAProxy's",
                        "%.3f vs %.3f ms" % (a, b), "yes" if a <= b else "**no**"))
    ca = get(R, "a") and get(R, "a")["cpu"]
    ch = get("haproxy", "a") and get("haproxy", "a")["cpu"]
    r = ca / ch if ca and ch else None
    target("a: proxy CPU-s per 100k requests vs HAProxy", r, "≤ 80 %",
           lambda v: "%.0f %% (%.2f vs %.2f s)" % (100 * v, ca, ch), lambda v: v <= 0.80)
    # The same targets for redsleeve with other settings: more event loops
    # (WORKERS=N, "redsleeve-wN"), busy polling (BUSY_POLL=D, "redsleeve-bpD").
    for t in sorted({k[0] for k in m if k[0].startswith("redsleeve-")
                     and not k[0].endswith("-shared")}):
        for c, base, want, lim in (("a", "haproxy", "≥ 1.10×", 1.10),
                                   ("b", "tls", "≥ 70 %", 0.70),
                                   ("d", "tls", "≥ 92 %", 0.92)):
            if get(t, c) and get(base, c):
                v = get(t, c)["ops"] / get(base, c)["ops"]
                targets.append(("%s (%s): ops/s vs %s" % (c, t, base), want,
                                "%.2f×" % v if c == "a" else "%.0f %%" % (100 * v),
                                "yes" if v >= lim else "**no**"))
        if get(t, "d") and get("haproxy", "d"):
            a, b = get(t, "d")["p99"], get("haproxy", "d")["p99"]
            targets.append(("d (%s): p99 latency vs HAProxy" % t, "≤ HAProxy's",
                            "%.3f vs %.3f ms" % (a, b), "yes" if a <= b else "**no**"))
        if get(t, "a") and get("haproxy", "a") and get(t, "a")["cpu"]:
            v = get(t, "a")["cpu"] / get("haproxy", "a")["cpu"]
            targets.append(("a (%s): CPU-s per 100k vs HAProxy" % t, "≤ 80 %",
                            "%.0f %%" % (100 * v), "yes" if v <= 0.80 else "**no**"))
        if "-bp" in t and get(t, "d") and get(R, "d") and get(t, "d")["cpu"] \
                and get(R, "d")["cpu"]:
            targets.append(("d (%s): CPU-s per 100k (the price)" % t, "(not a target)",
                            "%.2f vs %.2f s for redsleeve" % (get(t, "d")["cpu"],
                                                             get(R, "d")["cpu"]), "-"))
    if R in idle:
        v = idle[R]["rss_kib_per_conn"]
        targets.append(("RSS per idle client (with its link)", "≤ 15 KiB",
                        "%.1f KiB (HAProxy %s, stunnel %s)" % (
                            v, idle.get("haproxy", {}).get("rss_kib_per_conn", "n/a"),
                            idle.get("stunnel", {}).get("rss_kib_per_conn", "n/a")),
                        "yes" if v <= 15 else "**no**"))

    # issue #18: pool_mode = shared ("redsleeve-shared", SHARED=1), same run
    S = "redsleeve-shared"
    shared = []

    def st(name, want, a, b, fmt, ok):
        if a is None or b is None or b == 0:
            shared.append((name, want, "n/a", "**no**"))
        else:
            v = a / b
            shared.append((name, want, fmt(v), "yes" if ok(v) else "**no**"))
    ops = lambda t, c: get(t, c)["ops"] if get(t, c) else None
    cpu = lambda t, c: get(t, c)["cpu"] if get(t, c) else None
    if any(k[0] == S for k in m):
        st("a: ops/s vs direct TLS", "≥ 1.0×", ops(S, "a"), ops("tls", "a"),
           lambda v: "%.2f×" % v, lambda v: v >= 1.0)
        st("a: ops/s vs HAProxy", "≥ 1.4×", ops(S, "a"), ops("haproxy", "a"),
           lambda v: "%.2f×" % v, lambda v: v >= 1.4)
        st("a: proxy CPU-s per 100k vs session mode", "< 100 %", cpu(S, "a"),
           cpu(R, "a"), lambda v: "%.0f %% (%.2f vs %.2f s)" % (
               100 * v, cpu(S, "a"), cpu(R, "a")), lambda v: v < 1.0)
        st("d: ops/s vs session mode", "≥ 95 %", ops(S, "d"), ops(R, "d"),
           lambda v: "%.0f %%" % (100 * v), lambda v: v >= 0.95)
        st("c: connections/s vs session mode", "≥ 100 %", ops(S, "c"),
           ops(R, "c"), lambda v: "%.0f %%" % (100 * v), lambda v: v >= 1.0)
        if S in idle:
            v = idle[S]["rss_kib_per_conn"]
            shared.append(("RSS per idle client", "≤ 4 KiB", "%.1f KiB (session "
                           "mode %s)" % (v, idle.get(R, {}).get(
                               "rss_kib_per_conn", "n/a")),
                           "yes" if v <= 4 else "**no**"))

    names = [t for t in ORDER if any(k[0] == t for k in m)] + \
            sorted({k[0] for k in m} - set(ORDER))
    os.makedirs(docs, exist_ok=True)
    with open(os.path.join(docs, "performance.dat"), "w") as f:
        f.write("# target " + " ".join("case_" + c for c in CASES) + " idle_kib\n")
        for t in names:
            vals = ["%.0f" % m[(t, c)]["ops"] if (t, c) in m else "NaN" for c in CASES]
            kib = idle.get(t, {}).get("rss_kib_per_conn")
            f.write("%s %s %s\n" % (t, " ".join(vals), "%.1f" % kib if kib else "NaN"))

    md = []
    md.append("# Performance\n")
    md.append("Generated by `make bench` (bench/run.sh, then bench/report.py) from "
              "`bench/results-latest.txt`; every ratio compares targets measured "
              "**in the same run**, medians over the repetitions. Do not edit by "
              "hand: the profile section comes from `bench/profile.md`.\n")
    md.append("![ops/s per case and memory per idle client](performance.svg)\n")
    md.append("## Targets (issue #7)\n")
    md.append("| target | wanted | measured | met |")
    md.append("| --- | --- | --- | --- |")
    for name, want, got, ok in targets:
        md.append("| %s | %s | %s | %s |" % (name, want, got, ok))
    md.append("")
    if shared:
        md.append("## Targets of shared links (issue #18, `pool_mode = shared`)\n")
        md.append("`redsleeve-shared` is the same redsleeve with `pool_mode = "
                  "shared`; it injects AUTH, so its clients send none (a "
                  "client's own AUTH would pin it to a link of its own).\n")
        md.append("| target | wanted | measured | met |")
        md.append("| --- | --- | --- | --- |")
        for name, want, got, ok in shared:
            md.append("| %s | %s | %s | %s |" % (name, want, got, ok))
        md.append("")
    md.append("## Medians per case\n")
    md.append("| case | target | ops/s | vs direct TLS | p99 ms | proxy CPU-s / 100k |")
    md.append("| --- | --- | ---: | ---: | ---: | ---: |")
    for c, label in CASES.items():
        for t in names:
            if (t, c) not in m:
                continue
            x = m[(t, c)]
            vs = x["ops"] / m[("tls", c)]["ops"] if ("tls", c) in m else None
            md.append("| %s | %s | %.0f | %s | %.3f | %s |" % (
                label, t, x["ops"], "%.0f %%" % (100 * vs) if vs else "",
                x["p99"], "%.2f" % x["cpu"] if x["cpu"] is not None else "-"))
    md.append("")
    if idle:
        md.append("## Idle clients\n")
        md.append("| target | connections | RSS KiB per connection |")
        md.append("| --- | ---: | ---: |")
        for t in names:
            if t in idle:
                md.append("| %s | %d | %.1f |" % (t, idle[t]["opened"],
                                                  idle[t]["rss_kib_per_conn"]))
        md.append("")
    md.append("## Machine and command\n")
    md.append("```")
    md.extend(h.lstrip("= ").rstrip() for h in header)
    cmd = results + ".command"
    md.append(open(cmd).read().strip() if os.path.exists(cmd)
              else "REPS=3 WITH_SOCAT=0 make bench")
    md.append("```\n")
    here = os.path.dirname(os.path.abspath(__file__))
    md.extend(cluster_section(here))
    prof = os.path.join(here, "profile.md")
    if os.path.exists(prof):
        md.append(open(prof).read().rstrip() + "\n")
    with open(os.path.join(docs, "performance.md"), "w") as f:
        f.write("\n".join(md))

    gp = shutil.which("gnuplot")
    if gp is None:
        print("report.py: gnuplot not installed; no chart drawn", file=sys.stderr)
        return
    script = """
set terminal svg size 1100,640 dynamic font 'sans,11' background '#ffffff'
set output '%(out)s'
set multiplot layout 2,3 title 'redsleeve beside direct TLS, stunnel and HAProxy (same run, medians)'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set xtics rotate by -30 nomirror
set key off
set yrange [0:*]
""" % {"out": os.path.join(docs, "performance.svg")}
    for i, (c, label) in enumerate(CASES.items()):
        if not any((t, c) in m for t in names):
            continue        # a run of some cases only (CASES=d)
        script += ("set title '%s (ops/s)'\n"
                   "plot '%s' using %d:xtic(1) lc rgb '#3a6ea5'\n") % (
            label, os.path.join(docs, "performance.dat"), i + 2)
    if idle:
        script += ("set title 'RSS per idle client (KiB)'\n"
                   "plot '%s' using 6:xtic(1) lc rgb '#b5533c'\n") % \
            os.path.join(docs, "performance.dat")
    script += "unset multiplot\n"
    if subprocess.run([gp], input=script.encode()).returncode != 0:
        print("report.py: gnuplot failed; the chart may be incomplete",
              file=sys.stderr)


if __name__ == "__main__":
    main()
