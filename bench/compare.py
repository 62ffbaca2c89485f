#!/usr/bin/env python3
"""Two Berth binaries side by side, each beside the reference registry: a before/after comparison.

For every section of berth_bench.py, runs the section once with each binary (alternating which goes
first, so drift of the machine over the run falls on both), then prints each figure before and
after, after/before, and each one's ratio to the reference measured in the same section run. A
change worse than `--noise` (default 10%) in the direction that matters is flagged. Appends the
table to docs/performance.md unless --no-docs. Called by `bench/run.sh --baseline BIN`.
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import berth_bench  # noqa: E402  (SECTIONS, fmt)


def run_section(opts, passthrough, section, which, binary, n):
    work = os.path.join(opts.workdir, "%02d-%s-%s" % (n, section, which))
    os.makedirs(work, exist_ok=True)
    out = os.path.join(opts.workdir, "%02d-%s-%s.json" % (n, section, which))
    cmd = [sys.executable, os.path.join(HERE, "berth_bench.py"), "--workdir", work, "--berth-bin", binary,
           "--headload", opts.headload, "--only", section, "--no-docs", "--json-out", out,
           "--results-dir", os.path.join(opts.workdir, "results")]
    if opts.loopback_ceiling:
        cmd += ["--loopback-ceiling", opts.loopback_ceiling]
    if opts.sha_api_tool:
        cmd += ["--sha-api-tool", opts.sha_api_tool]
    cmd += passthrough
    print("== %s with the %s binary (%s)" % (section, which, binary), flush=True)
    subprocess.run(cmd, check=True)
    subprocess.run(["rm", "-rf", work])
    with open(out) as f:
        return json.load(f)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", required=True, help="the Berth binary before the change")
    ap.add_argument("--candidate", required=True, help="the Berth binary after it")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--headload", required=True)
    ap.add_argument("--loopback-ceiling")
    ap.add_argument("--sha-api-tool")
    ap.add_argument("--sections", default=",".join(berth_bench.SECTIONS))
    # run.sh's --only means the same here: the sections to compare (passed through to each section
    # run, it would replace that run's own --only and run the whole subset once per section).
    ap.add_argument("--only", dest="sections", help="the same as --sections")
    ap.add_argument("--rounds", type=int, default=1, help="run every section this many times per binary "
                    "(figures are the medians)")
    ap.add_argument("--noise", type=float, default=0.10)
    ap.add_argument("--no-docs", action="store_true")
    ap.add_argument("--label", default="", help="what the comparison is about, for the docs")
    opts, passthrough = ap.parse_known_args()
    sections = [s for s in opts.sections.split(",") if s]
    started = time.time()
    results = {"baseline": [], "candidate": []}
    n = 0
    for rnd in range(opts.rounds):
        for i, section in enumerate(sections):
            order = ["baseline", "candidate"] if (i + rnd) % 2 == 0 else ["candidate", "baseline"]
            for which in order:
                n += 1
                binary = opts.baseline if which == "baseline" else opts.candidate
                results[which].append(run_section(opts, passthrough, section, which, binary, n))

    def rows(which):
        # The median over rounds of each figure (and of its ratio to the reference).
        seen = {}
        for r in results[which]:
            for row in r["rows"]:
                seen.setdefault((row["section"], row["metric"]), []).append(row)
        out = {}
        for key, all_rows in seen.items():
            row = dict(all_rows[0])
            for field in ("berth", "reference", "ratio"):
                vals = [x[field] for x in all_rows if isinstance(x.get(field), (int, float))]
                row[field] = berth_bench.median(vals) if vals else row.get(field)
            row["md"] = any(x.get("md") for x in all_rows)
            out[key] = row
        return out

    before, after = rows("baseline"), rows("candidate")
    keys = [k for k in after if k in before]
    info_a = results["candidate"][0]["info"] if results["candidate"] else {}
    info_b = results["baseline"][0]["info"] if results["baseline"] else {}
    lines = []
    lines.append("")
    lines.append("Before/after — %s, %s mode" % (datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y-%m-%d %H:%M UTC"), info_a.get("mode", "?")))
    lines.append("before: %s; after: %s (commit %s)" % (info_b.get("berth_version", "?"),
                                                          info_a.get("berth_version", "?"),
                                                          info_a.get("commit", "?")))
    w = max(len("%s (%s)" % (k[1], after[k]["unit"])) for k in keys) if keys else 40
    header = "%-*s %11s %11s %8s %9s %9s" % (w, "metric", "before", "after", "a/b", "b/ref", "a/ref")
    lines.append(header)
    lines.append("-" * len(header))
    md = ["", "### Before/after: %s — %s" % (
        datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        opts.label or "baseline vs candidate"), "",
        "`bench/run.sh --baseline BIN`: each section run %d time(s) with each binary (medians), alternating "
        "which goes first, each beside the reference registry in the same section run. after/before worse "
        "than %d%% in the direction that matters is marked **⚠**. Before: %s; after: commit %s. Machine: "
        "%s × %s." % (opts.rounds, round(opts.noise * 100), info_b.get("berth_version", "?"),
                       info_a.get("commit", "?"), info_a.get("nproc", "?"), info_a.get("cpu_model", "?")), "",
        "| metric | before | after | after/before | before/ref | after/ref |", "|---|---:|---:|---:|---:|---:|"]
    worse = []
    for k in keys:
        a, b = after[k], before[k]
        av, bv = a.get("berth"), b.get("berth")
        ratio = av / bv if isinstance(av, (int, float)) and isinstance(bv, (int, float)) and bv else None
        flag = ""
        if ratio is not None and a.get("better") == "higher" and ratio < 1 - opts.noise:
            flag = " ⚠"
        if ratio is not None and a.get("better") == "lower" and ratio > 1 + opts.noise:
            flag = " ⚠"
        if flag:
            worse.append(k[1])
        fb = ("x%.2f" % b["ratio"]) if b.get("ratio") else "—"
        fa = ("x%.2f" % a["ratio"]) if a.get("ratio") else "—"
        label = "%s (%s)" % (k[1], a["unit"])
        lines.append("%-*s %11s %11s %8s %9s %9s%s" % (w, label, berth_bench.fmt(bv), berth_bench.fmt(av),
                                                       ("%.2f" % ratio) if ratio else "—", fb, fa, flag))
        if a.get("md") or b.get("md"):
            arrow = {"higher": ", ↑", "lower": ", ↓"}.get(a.get("better"), "")
            md.append("| %s (%s%s) | %s | %s | %s%s | %s | %s |" % (
                k[1], a["unit"], arrow, berth_bench.fmt(bv), berth_bench.fmt(av), ("%.2f" % ratio) if ratio else "—",
                " **⚠**" if flag else "", fb, fa))
    lines.append("")
    lines.append("worse than noise (%d%%): %s" % (round(opts.noise * 100), ", ".join(worse) if worse else "none"))
    lines.append("elapsed: %.0f s" % (time.time() - started))
    print("\n".join(lines))
    md.append("")
    md.append("Worse than %d%%: %s." % (round(opts.noise * 100), "; ".join(worse) if worse else "none"))
    out = os.path.join(HERE, "results", time.strftime("%Y%m%dT%H%M%S") + "-compare.json")
    with open(out, "w") as f:
        json.dump({"baseline": results["baseline"], "candidate": results["candidate"]}, f, indent=1, default=str)
    print("JSON: %s" % os.path.relpath(out, ROOT))
    if not opts.no_docs:
        with open(os.path.join(ROOT, "docs", "performance.md"), "a") as f:
            f.write("\n".join(md) + "\n")
        print("appended to docs/performance.md")


if __name__ == "__main__":
    main()
