#!/usr/bin/env python3
"""Median records/s of runnel's benchmarks, and the log against the raw limit.

Usage:
  python3 bench/ratio.py build/bench/runnel_bench [--repetitions N] [--min-time S]
                         [--filter REGEX] [--json-out FILE] [--check]
  python3 bench/ratio.py results.json

Given the runnel_bench binary, runs it with
  --benchmark_format=json --benchmark_repetitions=N --benchmark_report_aggregates_only=true
(N defaults to 3); given a JSON file (from --json-out, or from runnel_bench
--benchmark_format=json / --benchmark_out=FILE), reads it. Prints every benchmark's median
items/s (records/s; buffers/s for Crc32c) with its MB/s and coefficient of variation, then
the ratios the project is judged by, in records/s:

  PartitionLog/Append           / RawLimit/Write              goal >= 70%
  PartitionLog/AppendBatches64  / RawLimit/Write              goal >= 70% (the producer's path)
  PartitionLog/SequentialRead   / RawLimit/Read               goal >= 70%
  PartitionLog/AppendSyncAlways / RawLimit/WriteFdatasync16K  (like for like, no goal)

--check exits with status 1 when a goal is missed. Standard library only.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

RATIOS = [
    # (numerator, denominator, goal or None)
    ("PartitionLog/Append", "RawLimit/Write", 0.70),
    ("PartitionLog/AppendBatches64", "RawLimit/Write", 0.70),
    ("PartitionLog/SequentialRead", "RawLimit/Read", 0.70),
    ("PartitionLog/AppendSyncAlways", "RawLimit/WriteFdatasync16K", None),
]


def parse_args():
    p = argparse.ArgumentParser(
        description="Median records/s of runnel_bench and the log/raw-limit ratios.")
    p.add_argument("source", help="the runnel_bench binary, or a JSON file of its results")
    p.add_argument("--repetitions", type=int, default=3,
                   help="repetitions of each benchmark (default 3)")
    p.add_argument("--min-time", type=float, default=0.5,
                   help="--benchmark_min_time in seconds (default 0.5)")
    p.add_argument("--filter", default="",
                   help="--benchmark_filter regex (default: every benchmark)")
    p.add_argument("--json-out", help="also save the raw JSON results here")
    p.add_argument("--check", action="store_true", help="exit 1 if a goal is missed")
    return p.parse_args()


def load(args):
    is_binary = os.path.isfile(args.source) and os.access(args.source, os.X_OK) \
        and not args.source.endswith(".json")
    if not is_binary:
        with open(args.source, encoding="utf-8") as f:
            return json.load(f)
    cmd = [args.source, "--benchmark_format=json",
           f"--benchmark_repetitions={args.repetitions}",
           "--benchmark_report_aggregates_only=true",
           f"--benchmark_min_time={args.min_time}"]
    if args.filter:
        cmd.append(f"--benchmark_filter={args.filter}")
    print("running:", " ".join(cmd), file=sys.stderr)
    out = subprocess.run(cmd, stdout=subprocess.PIPE, check=True).stdout
    if args.json_out:
        with open(args.json_out, "wb") as f:
            f.write(out)
    return json.loads(out)


def base_name(run_name):
    """'PartitionLog/Append/real_time' -> 'PartitionLog/Append'."""
    parts = [p for p in run_name.split("/")
             if p != "real_time" and p != "manual_time" and not p.startswith(
                 ("min_time:", "iterations:", "repeats:", "threads:"))]
    return "/".join(parts)


def summarise(results):
    """{name: {'items': median items/s, 'bytes': median bytes/s, 'cv': items cv or None}}."""
    runs = {}      # name -> list of per-repetition entries
    medians = {}   # name -> median aggregate entry
    cvs = {}       # name -> cv aggregate entry
    order = []
    for b in results.get("benchmarks", []):
        if b.get("error_occurred"):
            print(f"warning: {b['name']}: {b.get('error_message', 'error')}", file=sys.stderr)
            continue
        name = base_name(b.get("run_name", b["name"]))
        if name not in order:
            order.append(name)
        if b.get("run_type") == "aggregate":
            if b.get("aggregate_name") == "median":
                medians[name] = b
            elif b.get("aggregate_name") == "cv":
                cvs[name] = b
        else:
            runs.setdefault(name, []).append(b)
    table = {}
    for name in order:
        if name in medians:
            items = medians[name].get("items_per_second")
            bytes_ = medians[name].get("bytes_per_second")
        elif name in runs:
            def med(key):
                values = [r[key] for r in runs[name] if key in r]
                return statistics.median(values) if values else None
            items, bytes_ = med("items_per_second"), med("bytes_per_second")
        else:
            continue
        cv = cvs[name].get("items_per_second") if name in cvs else None
        table[name] = {"items": items, "bytes": bytes_, "cv": cv}
    return table


def human(rate):
    if rate is None:
        return "-"
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if rate >= scale:
            return f"{rate / scale:.2f}{unit}"
    return f"{rate:.1f}"


def main():
    args = parse_args()
    results = load(args)
    table = summarise(results)
    if not table:
        sys.exit("no benchmark results found")
    workload = results.get("context", {}).get("runnel_records", "")
    width = max(len(n) for n in table)
    print(f"\nmedian of each benchmark's repetitions ({workload})")
    print(f"{'benchmark':<{width}}  {'items/s':>10}  {'MB/s':>9}  {'cv':>6}")
    for name, row in table.items():
        mbs = f"{row['bytes'] / 1e6:.0f}" if row["bytes"] else "-"
        cv = f"{row['cv'] * 100:.1f}%" if row["cv"] is not None else "-"
        print(f"{name:<{width}}  {human(row['items']):>10}  {mbs:>9}  {cv:>6}")

    print("\nlog / raw limit, records/s (medians)")
    missed = False
    for num, den, goal in RATIOS:
        a, b = table.get(num, {}).get("items"), table.get(den, {}).get("items")
        label = f"{num} / {den}"
        if not a or not b:
            print(f"{label:<62}  not measured")
            continue
        ratio = a / b
        verdict = ""
        if goal is not None:
            ok = ratio >= goal
            missed |= not ok
            verdict = f"  goal >= {goal:.0%}: {'met' if ok else 'MISSED'}"
        print(f"{label:<62}  {human(a):>7} / {human(b):<7} = {ratio:6.1%}{verdict}")
    if args.check and missed:
        sys.exit(1)


if __name__ == "__main__":
    main()
