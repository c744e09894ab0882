#!/usr/bin/python3
"""report.py — bench/run's results, summarised.

Reads the run's JSON lines (one per measured run, tagged with scenario,
size and run number), takes the median of every figure over the runs,
computes the ratios the goals of issue 5 are stated in, and writes:

  <stem>.json   medians, ratios, goal verdicts, conditions
  <stem>.md     the same as markdown tables
  --plot PNG    p99 against offered load (open-loop sweep), with gnuplot
  --update-docs FILE   replaces the text between the bench-run markers

Only the standard library: it runs on Debian's /usr/bin/python3.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

BEGIN = "<!-- bench/run:begin -->"
END = "<!-- bench/run:end -->"

SCENARIOS = [
    ("check_p1", "check, c=50, P=1"),
    ("check_p16", "check, c=50, P=16"),
    ("batch100", "check_batch of 100, c=50"),
    ("household", "household, c=50, P=1"),
    ("miss30_p1", "check, 30 % misses, c=50, P=1"),
    ("miss30_p16", "check, 30 % misses, c=50, P=16"),
    ("ping_p1", "ping, c=50, P=1"),
    ("conns10k", "check, 10,000 connections, 2,000/s open loop"),
    ("pg_check", "check, c=50, P=1 (PostgreSQL phase)"),
]


def load(path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                rows.append(json.loads(line))
    return rows


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def group(rows, scenario, size, server):
    return [r for r in rows if r.get("scenario") == scenario and r.get("size") == size and r.get("server") == server]


def summary(rs):
    """Median of each figure over the runs of one (scenario, size, server)."""
    if not rs:
        return None
    lat = lambda k: med([r.get("latency_us", {}).get(k) for r in rs])
    errors = {}
    for r in rs:
        for k, v in r.get("errors", {}).items():
            errors[k] = errors.get(k, 0) + v
    return {
        "runs": len(rs),
        "requests_per_s": med([r.get("requests_per_s") for r in rs]),
        "answers_per_s": med([r.get("answers_per_s") for r in rs]),
        "p50_us": lat("p50"),
        "p90_us": lat("p90"),
        "p99_us": lat("p99"),
        "p999_us": lat("p999"),
        "max_us": lat("max"),
        "all_requests_per_s": [r.get("requests_per_s") for r in rs],
        "errors": sum(errors.values()),
    }


def ratio(a, b):
    return a / b if a is not None and b else None


def fmt_n(v):
    if v is None:
        return "–"
    return f"{v:,.0f}"


def fmt_us(v):
    if v is None:
        return "–"
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}"


def fmt_x(v):
    return "–" if v is None else f"{v:.2f}×"


def build(rows, args):
    sizes = sorted({r["size"] for r in rows if r.get("size")})
    main = args.main
    out = {"main_size": main, "sizes": sizes, "runs": args.runs, "seconds": args.seconds,
           "eligd_threads": args.threads, "elapsed_s": args.elapsed}
    for r in rows:
        if r.get("scenario") in ("conditions_start", "conditions_end", "sizes"):
            out[r["scenario"]] = {k: v for k, v in r.items() if k not in ("scenario", "size", "run")}

    servers = ["eligd", "iofloor", "redis", "postgresql", "eligd-1t"]
    scen = {}
    for key, _ in SCENARIOS:
        scen[key] = {s: summary(group(rows, key, main, s)) for s in servers}
    out["scenarios"] = scen

    # in-process floors, by thread count
    def floor(scenario, field):
        res = {}
        for t in (1, 2):
            v = med([r.get(field) for r in rows if r.get("scenario") == scenario and r.get("size") == main
                     and r.get("threads") == t])
            res[str(t)] = v
        return res
    out["lookup_floor_ops_per_s"] = floor("lookup_floor", "ops_per_s")
    out["answer_path_per_s"] = floor("answer_path", "answers_per_s")
    out["lookup_floor_kk_ops_per_s"] = floor("lookup_floor_kk", "ops_per_s")
    out["btree_lookup_ops_per_s"] = floor("btree_lookup", "ops_per_s")
    out["answer_path_kk_per_s"] = floor("answer_path_kk", "answers_per_s")

    # growth, memory and start-up per size
    per_size = {}
    for n in sizes:
        p16 = summary(group(rows, "check_p16", n, "eligd"))
        idle = [r for r in rows if r.get("scenario") == "memory_idle" and r.get("size") == n and r.get("server") == "eligd"]
        def starts(scen, cold):
            return [r["first_answer_ms"] for r in rows
                    if r.get("scenario") == scen and r.get("size") == n and bool(r.get("cold")) == cold]
        warm, cold = starts("startup", False), starts("startup", True)
        mwarm, mcold = starts("startup_map", False), starts("startup_map", True)
        per_size[str(n)] = {
            "check_p16_per_s": p16["requests_per_s"] if p16 else None,
            "idle_rss_anon_mib": med([r["rss_anon_kib"] / 1024 for r in idle]),
            "idle_rss_mib": med([r["rss_kib"] / 1024 for r in idle]),
            "first_answer_ms_warm": med(warm),
            "first_answer_ms_cold": med(cold),
            "first_answer_ms_worst": max(warm + cold) if warm + cold else None,
            "first_answer_map_ms_warm": med(mwarm),
            "first_answer_map_ms_cold": med(mcold),
            "first_answer_map_ms_worst": max(mwarm + mcold) if mwarm + mcold else None,
        }
    out["per_size"] = per_size
    c10k = [r for r in rows if r.get("scenario") == "memory_conns10k" and r.get("size") == main and r.get("server") == "eligd"]
    out["conns10k_rss_added_mib"] = med([(r["rss_anon_kib"] - r["rss_anon_before_kib"]) / 1024 for r in c10k])
    out["conns10k_rss_anon_mib"] = med([r["rss_anon_kib"] / 1024 for r in c10k])

    # sweep
    sweep = []
    for r in rows:
        if r.get("scenario", "").startswith("sweep_"):
            sweep.append({"server": r["server"], "offered": r["rate"], "achieved": r["requests_per_s"],
                          "p50_us": r["latency_us"]["p50"], "p99_us": r["latency_us"]["p99"]})
    out["sweep"] = sorted(sweep, key=lambda s: (s["server"], s["offered"]))

    out["goals"] = goals(out)
    return out


def goals(o):
    s = o["scenarios"]
    g = []

    def get(scenario, server, field):
        v = s.get(scenario, {}).get(server)
        return v[field] if v else None

    def add(name, goal, value, target, higher=True, detail=""):
        ok = None if value is None else (value >= target if higher else value <= target)
        g.append({"goal": name, "target": goal, "value": value, "met": ok, "detail": detail})

    e1, r1, f1 = get("check_p1", "eligd", "requests_per_s"), get("check_p1", "redis", "requests_per_s"), \
        get("check_p1", "iofloor", "requests_per_s")
    add("check P=1 vs Redis (throughput)", "≥ 1.0×", ratio(e1, r1), 1.0)
    p99e, p99r = get("check_p1", "eligd", "p99_us"), get("check_p1", "redis", "p99_us")
    add("check P=1 p99 vs Redis's", "≤ 1.2×", ratio(p99e, p99r), 1.2, higher=False,
        detail=f"{fmt_us(p99e)} µs vs {fmt_us(p99r)} µs")
    add("check P=1 vs the I/O floor", "≥ 0.9×", ratio(e1, f1), 0.9)
    add("check P=16 vs Redis", "≥ 1.5×", ratio(get("check_p16", "eligd", "requests_per_s"),
                                              get("check_p16", "redis", "requests_per_s")), 1.5)
    lf2 = o["lookup_floor_ops_per_s"].get("2")
    add("check_batch of 100 vs the 2-thread lookup floor (answers/s)", "≥ 0.7×",
        ratio(get("batch100", "eligd", "answers_per_s"), lf2), 0.7)
    for t in ("1", "2"):
        add(f"answer path in-process vs the lookup floor, {t} thread{'s' if t == '2' else ''} (kind mix)", "≥ 0.8×",
            ratio(o["answer_path_per_s"].get(t), o["lookup_floor_ops_per_s"].get(t)), 0.8)
    for t in ("1", "2"):
        add(f"answer path vs the lookup floor, kk only, {t} thread{'s' if t == '2' else ''}", "≥ 0.8×",
            ratio(o.get("answer_path_kk_per_s", {}).get(t), o.get("lookup_floor_kk_ops_per_s", {}).get(t)), 0.8)
    add("vs PostgreSQL (same phase, c=50)", "≥ 10×",
        ratio(get("pg_check", "eligd", "requests_per_s"), get("pg_check", "postgresql", "requests_per_s")), 10)
    sizes = [int(n) for n in o["per_size"]]
    if len(sizes) >= 2:
        lo, hi = min(sizes), max(sizes)
        add(f"growth: check P=16 at {hi:,} vs {lo:,} families", "≥ 0.8×",
            ratio(o["per_size"][str(hi)]["check_p16_per_s"], o["per_size"][str(lo)]["check_p16_per_s"]), 0.8)
    idle = max([v["idle_rss_anon_mib"] for v in o["per_size"].values() if v["idle_rss_anon_mib"] is not None],
               default=None)
    add("idle RSS, the map aside (MiB, worst size)", "≤ 16", idle, 16, higher=False)
    add("RSS added by 10,000 connections (MiB)", "≤ 64", o["conns10k_rss_added_mib"], 64, higher=False)
    worst = max([v["first_answer_ms_worst"] for v in o["per_size"].values() if v["first_answer_ms_worst"] is not None],
                default=None)
    add("first answer after start, --snapshot-load copy (the default; ms, worst size, warm or cold)", "≤ 100",
        worst, 100, higher=False)
    mworst = max([v.get("first_answer_map_ms_worst") for v in o["per_size"].values()
                  if v.get("first_answer_map_ms_worst") is not None], default=None)
    add("first answer after start, --snapshot-load map (ms, worst size, warm or cold)", "≤ 100",
        mworst, 100, higher=False)
    return g


def markdown(o):
    L = []
    cs = o.get("conditions_start", {})
    ce = o.get("conditions_end", {})
    L.append(f"Run of {o.get('elapsed_s', 0) // 60} min on {cs.get('cores')} cores ({cs.get('cpu')}), "
             f"{cs.get('mem_gib')} GiB, kernel {cs.get('kernel')}; commit {cs.get('commit')}; "
             f"load average {' '.join(cs.get('loadavg', []))} before, {' '.join(ce.get('loadavg', []))} after. "
             f"Client and servers share the machine; eligd and the I/O floor run {o['eligd_threads']} worker threads, "
             f"elig-bench 1 thread, Redis {cs.get('redis')} its default single thread. "
             f"Every figure is the median of {o['runs']} runs of {o['seconds']} s (after 1 s warm-up), "
             f"servers measured in turn within each run. Main size: {o['main_size']:,} families.")
    L.append("")
    L.append("| scenario | eligd req/s | answers/s | p50 µs | p99 µs | I/O floor req/s | eligd ÷ floor | Redis req/s | Redis p99 µs | eligd ÷ Redis |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for key, label in SCENARIOS:
        sc = o["scenarios"].get(key, {})
        e, f, r, pg = sc.get("eligd"), sc.get("iofloor"), sc.get("redis"), sc.get("postgresql")
        if not e:
            continue
        rr = r or pg
        L.append("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
            label + (" vs PostgreSQL" if pg else ""), fmt_n(e["requests_per_s"]),
            fmt_n(e["answers_per_s"]), fmt_us(e["p50_us"]), fmt_us(e["p99_us"]),
            fmt_n(f["requests_per_s"]) if f else "–",
            fmt_x(ratio(e["answers_per_s"], f["answers_per_s"])) if f else "–",
            fmt_n(rr["answers_per_s"]) + (" (PostgreSQL)" if pg else "") if rr else "–",
            fmt_us(rr["p99_us"]) if rr else "–",
            fmt_x(ratio(e["answers_per_s"], rr["answers_per_s"])) if rr else "–"))
    L.append("")
    one = [(label, o["scenarios"][k].get("eligd"), o["scenarios"][k].get("eligd-1t"))
           for k, label in SCENARIOS if o["scenarios"].get(k, {}).get("eligd-1t")]
    if one:
        L.append("| eligd worker threads | 2 threads req/s | p99 µs | 1 thread req/s | p99 µs |")
        L.append("|---|---:|---:|---:|---:|")
        for label, two, single in one:
            L.append(f"| {label} | {fmt_n(two['requests_per_s'])} | {fmt_us(two['p99_us'])} | "
                     f"{fmt_n(single['requests_per_s'])} | {fmt_us(single['p99_us'])} |")
        L.append("")
    lf, ap = o["lookup_floor_ops_per_s"], o["answer_path_per_s"]
    L.append("| in-process | 1 thread | 2 threads |")
    L.append("|---|---:|---:|")
    L.append(f"| lookup floor: one index probe + the household record (bench-resolve), ops/s | {fmt_n(lf.get('1'))} | {fmt_n(lf.get('2'))} |")
    bt = o.get("btree_lookup_ops_per_s", {})
    if bt.get("1"):
        L.append(f"| for comparison, schema 1's lookup: random mdb_get, ops/s | {fmt_n(bt.get('1'))} | {fmt_n(bt.get('2'))} |")
    L.append(f"| eligd answer path (decode + check + encode), answers/s | {fmt_n(ap.get('1'))} | {fmt_n(ap.get('2'))} |")
    L.append(f"| answer path ÷ lookup floor | {fmt_x(ratio(ap.get('1'), lf.get('1')))} | {fmt_x(ratio(ap.get('2'), lf.get('2')))} |")
    lk, ak = o.get("lookup_floor_kk_ops_per_s", {}), o.get("answer_path_kk_per_s", {})
    if lk.get("1"):
        L.append(f"| kk only: lookup floor, ops/s | {fmt_n(lk.get('1'))} | {fmt_n(lk.get('2'))} |")
        L.append(f"| kk only: answer path, answers/s | {fmt_n(ak.get('1'))} | {fmt_n(ak.get('2'))} |")
        L.append(f"| kk only: answer path ÷ lookup floor | {fmt_x(ratio(ak.get('1'), lk.get('1')))} | {fmt_x(ratio(ak.get('2'), lk.get('2')))} |")
    L.append("")
    L.append("| families | check P=16 req/s | vs smallest | idle RSS anon / total MiB | first answer ms, copy (warm / cold) | first answer ms, map (warm / cold) |")
    L.append("|---:|---:|---:|---:|---:|---:|")
    sizes = sorted(int(n) for n in o["per_size"])
    base = o["per_size"][str(sizes[0])]["check_p16_per_s"] if sizes else None
    for n in sizes:
        v = o["per_size"][str(n)]
        L.append(f"| {n:,} | {fmt_n(v['check_p16_per_s'])} | {fmt_x(ratio(v['check_p16_per_s'], base))} | "
                 f"{v['idle_rss_anon_mib'] or 0:.1f} / {v['idle_rss_mib'] or 0:.1f} | "
                 f"{v['first_answer_ms_warm'] or 0:.1f} / {v['first_answer_ms_cold'] or 0:.1f} | "
                 f"{v.get('first_answer_map_ms_warm') or 0:.1f} / {v.get('first_answer_map_ms_cold') or 0:.1f} |")
    L.append("")
    L.append(f"10,000 connections: RSS (anonymous) {o['conns10k_rss_anon_mib'] or 0:.1f} MiB, "
             f"{o['conns10k_rss_added_mib'] or 0:.1f} MiB more than before they opened.")
    L.append("")
    L.append("| goal | target | measured | met |")
    L.append("|---|---|---:|:---:|")
    for g in o["goals"]:
        v = g["value"]
        shown = "–" if v is None else (f"{v:.2f}×" if "×" in g["target"] else f"{v:.1f}")
        met = "–" if g["met"] is None else ("yes" if g["met"] else "**no**")
        L.append(f"| {g['goal']} | {g['target']} | {shown}{' (' + g['detail'] + ')' if g['detail'] else ''} | {met} |")
    return "\n".join(L) + "\n"


def plot(o, png):
    pts = o["sweep"]
    if not pts:
        return
    with tempfile.TemporaryDirectory() as d:
        for server in ("eligd", "redis"):
            with open(os.path.join(d, server + ".dat"), "w") as f:
                for p in pts:
                    if p["server"] == server:
                        f.write(f"{p['offered'] / 1000:.1f} {p['p99_us'] / 1000:.3f} {p['achieved'] / 1000:.1f}\n")
        script = f"""
set terminal pngcairo size 900,560 font ",11" noenhanced
set output '{png}'
set title "p99 latency against offered load (open loop, c=50, P=1, {o['main_size']:,} families)"
set xlabel "offered load, thousand requests/s"
set ylabel "p99 latency, ms (from the intended send time)"
set logscale y
set grid
set key top left
plot '{d}/eligd.dat' using 1:2 with linespoints lw 2 pt 7 title 'eligd', \\
     '{d}/redis.dat' using 1:2 with linespoints lw 2 pt 5 title 'Redis GET'
"""
        try:
            subprocess.run(["gnuplot"], input=script, text=True, check=True, capture_output=True)
        except (OSError, subprocess.CalledProcessError) as e:
            print(f"report.py: gnuplot failed: {e}", file=sys.stderr)


def update_docs(path, md, png_rel, stem):
    text = open(path).read() if os.path.exists(path) else ""
    block = (f"{BEGIN}\n_Generated by `bench/run` ({stem}); do not edit by hand._\n\n{md}\n"
             f"![p99 against offered load]({png_rel})\n{END}")
    if BEGIN in text and END in text:
        a, b = text.index(BEGIN), text.index(END) + len(END)
        text = text[:a] + block + text[b:]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    with open(path, "w") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("jsonl")
    ap.add_argument("--main", type=int, required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--elapsed", type=int, default=0)
    ap.add_argument("--plot")
    ap.add_argument("--update-docs")
    a = ap.parse_args()
    rows = load(a.jsonl)
    o = build(rows, a)
    stem = a.jsonl[:-len(".jsonl")] if a.jsonl.endswith(".jsonl") else a.jsonl
    with open(stem + ".json", "w") as f:
        json.dump(o, f, indent=1)
    md = markdown(o)
    with open(stem + ".md", "w") as f:
        f.write(md)
    if a.plot:
        plot(o, a.plot)
    if a.update_docs:
        update_docs(a.update_docs, md, "latency.png", os.path.basename(stem))
    sys.stdout.write(md)


if __name__ == "__main__":
    main()
