#!/usr/bin/env python3
"""Turns runnel_compare's JSON into bench/results/: a Markdown report (README.md) and PNG
charts drawn by gnuplot (throughput bars per workload, latency percentiles per rate).

    python3 bench/compare/report.py RESULTS.json OUT_DIR [--no-charts]

Ratios are taken within the one run: "x runnel" is a row's records/s over runnel's in the
same case, "of raw" over the raw write()/read() limit for the same record size and mode.
"""
import json
import os
import shutil
import subprocess
import sys

RUNNEL = "runnel"
RAW = "raw write/read"
FRAMING = "raw (in memory)"
PEERS = ["Redis Streams", "NATS JetStream", "SQLite WAL"]


def rate(x):
    if x >= 1e6:
        return f"{x / 1e6:.2f} M"
    if x >= 1e3:
        return f"{x / 1e3:.0f} k"
    return f"{x:.0f}"


def ratio(a, b):
    return f"{a / b:.2f}" if b else "–"


def memory(meminfo):
    """'24683584 kB' -> '23.5 GiB'."""
    parts = meminfo.split()
    if len(parts) == 2 and parts[1] == "kB" and parts[0].isdigit():
        return f"{int(parts[0]) / 2**20:.1f} GiB"
    return meminfo


def case_name(r):
    return (f"{r['value_size']} B, {r['threads']} thr, {r['partitions']} part")


def by_case(rows):
    cases = {}
    for r in rows:
        key = (r["durable"], r["value_size"], r["threads"], r["partitions"])
        cases.setdefault(key, {})[r["system"]] = r
    return cases


def raw_for(produce, value_size, durable):
    for r in produce:
        if r["system"] == RAW and r["value_size"] == value_size and r["durable"] == durable:
            return r["records_per_second"]
    return 0


def goal(text, value, target, met):
    return f"| {text} | {value} | {target} | {'met' if met else '**missed**'} |"


def goals(data):
    out = ["| goal | measured | target | |", "| --- | --- | --- | --- |"]
    produce, consume, latency = data["produce"], data["consume"], data["latency"]
    cases = by_case(produce)

    def get(durable, size, thr, part, system):
        r = cases.get((durable, size, thr, part), {}).get(system)
        return r["records_per_second"] if r else None

    for part in (1, 8):
        ours = get(False, 100, 1, part, RUNNEL)
        if ours is None:
            continue
        for peer in PEERS[:2]:
            theirs = get(False, 100, 1, part, peer)
            if theirs:
                out.append(goal(f"produce no-fsync 100 B 1 thr {part} part: runnel ÷ {peer}",
                                f"{ours / theirs:.1f}×", "≥ 10×", ours / theirs >= 10))
        raw = raw_for(produce, 100, False)
        if raw:
            out.append(goal(f"produce no-fsync 100 B 1 thr {part} part: runnel ÷ raw write()",
                            f"{100 * ours / raw:.0f}%", "≥ 70%", ours / raw >= 0.7))
    for part in (1, 8):
        ours = get(True, 100, 2, part, RUNNEL)
        if ours is None:
            continue
        for peer in PEERS[:2]:
            theirs = get(True, 100, 2, part, peer)
            if theirs:
                out.append(goal(f"produce durable 100 B 2 thr {part} part: runnel ÷ {peer}",
                                f"{ours / theirs:.1f}×", "≥ 10×", ours / theirs >= 10))
    one = {r["system"]: r["records_per_second"] for r in consume if r["consumers"] == "one"}
    if RUNNEL in one:
        for peer in PEERS:
            if one.get(peer):
                out.append(goal(f"consume, one consumer: runnel ÷ {peer}",
                                f"{one[RUNNEL] / one[peer]:.1f}×", "≥ 10×", one[RUNNEL] / one[peer] >= 10))
        if one.get(RAW):
            out.append(goal("consume, one consumer: runnel ÷ raw read()",
                            f"{100 * one[RUNNEL] / one[RAW]:.0f}%", "≥ 70%", one[RUNNEL] / one[RAW] >= 0.7))
    for r in latency:
        if r["system"] == RUNNEL and r["rate"] == 100000:
            out.append(goal("end-to-end p99 at 100k records/s", f"{r['p99']:.1f} µs", "< 20 µs", r["p99"] < 20))
    return out


def produce_table(data, durable):
    produce = data["produce"]
    out = ["| case | system | records/s | MB/s | × runnel | of raw | durability |",
           "| --- | --- | ---: | ---: | ---: | ---: | --- |"]
    for key, systems in sorted(by_case(produce).items()):
        if key[0] != durable:
            continue
        raw = raw_for(produce, key[1], durable)
        ours = systems.get(RUNNEL, {}).get("records_per_second", 0)
        order = [RUNNEL] + PEERS + [RAW, FRAMING]
        rows = [systems[s] for s in order if s in systems]
        if key[2] == 1 and key[3] == 1:
            rows += [r for r in produce if r["system"] in (RAW, FRAMING) and r["durable"] == durable
                     and r["value_size"] == key[1] and r["system"] not in systems]
        for r in rows:
            rps = r["records_per_second"]
            name = r["system"] if r["system"] not in (RAW, FRAMING) else f"*{r['system']}*"
            out.append(f"| {case_name(dict(zip(('durable', 'value_size', 'threads', 'partitions'), key)))} "
                       f"| {name} | {rate(rps)} | {r['mb_per_second']:.0f} | {ratio(rps, ours)} "
                       f"| {100 * rps / raw:.0f}% | {r['durability']} |" if raw else
                       f"| {case_name(dict(zip(('durable', 'value_size', 'threads', 'partitions'), key)))} "
                       f"| {name} | {rate(rps)} | {r['mb_per_second']:.0f} | {ratio(rps, ours)} | – "
                       f"| {r['durability']} |")
    return out


def consume_table(data):
    consume = data["consume"]
    out = ["| consumers | system | records/s | MB/s | × runnel | of raw | durability |",
           "| --- | --- | ---: | ---: | ---: | ---: | --- |"]
    for kind in ("one", "group of two"):
        rows = {r["system"]: r for r in consume if r["consumers"] == kind}
        ours = rows.get(RUNNEL, {}).get("records_per_second", 0)
        raw = rows.get(RAW, {}).get("records_per_second", 0)
        for s in [RUNNEL] + PEERS + [RAW]:
            if s not in rows:
                continue
            r = rows[s]
            rps = r["records_per_second"]
            out.append(f"| {kind} | {s if s != RAW else '*' + s + '*'} | {rate(rps)} | {r['mb_per_second']:.0f} "
                       f"| {ratio(rps, ours)} | {f'{100 * rps / raw:.0f}%' if raw else '–'} | {r['durability']} |")
    return out


def latency_table(data):
    out = ["| rate (records/s) | system | p50 µs | p99 µs | p99.9 µs | max µs | sent |",
           "| ---: | --- | ---: | ---: | ---: | ---: | --- |"]
    for r in sorted(data["latency"], key=lambda r: (r["rate"], order_of(r["system"]))):
        sent = "all" if r["sent"] >= r["planned"] else f"{100 * r['sent'] / r['planned']:.0f}%: could not keep up"
        burst = f" (bursts of {r['burst']})" if r["burst"] > 1 else ""
        out.append(f"| {rate(r['rate'])}{burst} | {r['system']} | {r['p50']:.1f} | {r['p99']:.1f} "
                   f"| {r['p999']:.1f} | {r['max']:.1f} | {sent} |")
    return out


def order_of(system):
    order = [RUNNEL] + PEERS + [RAW, FRAMING]
    return order.index(system) if system in order else len(order)


def recovery_lines(data):
    r = data.get("recovery")
    if not r:
        return ["Not run."]
    gib = r["bytes"] / 2**30
    note = f" ({r['note']})" if r.get("note") else ""
    return [
        f"runnel, {gib:.2f} GiB of 1 KiB records ({r['records']:,} records, {r['disk_bytes'] / 2**30:.2f} GiB on disk, "
        f"{r['partitions']} partitions){note}, written by a child process in {r['fill_seconds']:.1f} s; "
        "the files are in the page cache when reopened.",
        "",
        "| reopen | Broker::Open |",
        "| --- | ---: |",
        f"| after SIGKILL (every segment scanned, CRCs checked) | {r['after_kill_seconds'] * 1000:.0f} ms |",
        f"| after a clean Close | {r['after_close_seconds'] * 1000:.1f} ms |",
    ]


def gnuplot(script):
    subprocess.run(["gnuplot"], input=script, text=True, check=True)


def bar_chart(out_dir, name, title, columns, rows, ylabel="records/s (log scale)"):
    """rows: [(label, [value per column])]; missing values are written as '?'."""
    dat = os.path.join(out_dir, f".{name}.dat")
    with open(dat, "w") as f:
        f.write("case " + " ".join(f'"{c}"' for c in columns) + "\n")
        for label, values in rows:
            f.write(f'"{label}" ' + " ".join("?" if v is None or v <= 0 else f"{v:.4g}" for v in values) + "\n")
    gnuplot(f"""
set terminal pngcairo size 1200,520 font ",10"
set output "{os.path.join(out_dir, name + '.png')}"
set title "{title}"
set datafile missing "?"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set format y "%.0s%c"
set ylabel "{ylabel}"
set grid ytics
set key outside right top
set xtics rotate by -25
plot for [i=2:{len(columns) + 1}] "{dat}" using i:xtic(1) title columnheader(i)
""")
    os.remove(dat)


def charts(data, out_dir):
    produce = data["produce"]
    systems = [s for s in [RUNNEL] + PEERS + [RAW, FRAMING] if any(r["system"] == s for r in produce)]
    for durable, name in ((False, "produce-nofsync"), (True, "produce-durable")):
        rows = []
        for key, per in sorted(by_case(produce).items()):
            if key[0] != durable:
                continue
            values = []
            for s in systems:
                r = per.get(s)
                if r is None and s in (RAW, FRAMING):
                    r = next((x for x in produce if x["system"] == s and x["durable"] == durable
                              and x["value_size"] == key[1]), None)
                values.append(r["records_per_second"] if r else None)
            rows.append((f"{key[1]} B {key[2]}thr {key[3]}part", values))
        cols = [s for s in systems if not (durable and s == FRAMING)]
        rows = [(label, [v for s, v in zip(systems, vals) if s in cols]) for label, vals in rows]
        bar_chart(out_dir, name, f"Produce, {'durable (fsync before ack)' if durable else 'no fsync'}: records/s",
                  cols, rows)
    consume = data["consume"]
    csys = [s for s in [RUNNEL] + PEERS + [RAW] if any(r["system"] == s for r in consume)]
    rows = []
    for kind in ("one", "group of two"):
        vals = {r["system"]: r["records_per_second"] for r in consume if r["consumers"] == kind}
        rows.append((f"{kind} consumer" if kind == "one" else kind, [vals.get(s) for s in csys]))
    bar_chart(out_dir, "consume", "Consume from a full log (100 B records, 8 partitions): records/s", csys, rows)
    for r_rate in sorted({r["rate"] for r in data["latency"]}):
        rs = sorted([r for r in data["latency"] if r["rate"] == r_rate], key=lambda r: order_of(r["system"]))
        cols = [r["system"] for r in rs]
        rows = [(p, [r[k] for r in rs]) for p, k in (("p50", "p50"), ("p99", "p99"), ("p99.9", "p999"),
                                                     ("max", "max"))]
        bar_chart(out_dir, f"latency-{rate(r_rate).replace(' ', '').lower()}",
                  f"End-to-end latency at {rate(r_rate)}records/s (coordinated omission corrected)", cols, rows,
                  ylabel="microseconds (log scale)")


def report(data, chart_names):
    m = data["machine"]
    s = data["settings"]
    lines = [
        "# runnel beside its peers",
        "",
        f"Made by `make bench-compare{' QUICK=1' if s['quick'] else ''}` on {m['date']}: {m['cpu']}, "
        f"{m['cores']} cores, {memory(m['memory'])} of memory, {m['kernel']}; temporary files on {m['tmp_fs']} "
        f"({m['tmp_dir']}). Medians of {s['repetitions']} run(s) per produce case of at most "
        f"{s['produce_seconds']} s or {s['produce_cap_mib']} MiB; consume reads {s['consume_records']:,} "
        f"records; latency runs last {s['latency_seconds']} s. Every system runs on the same machine at the "
        "same time of day, one at a time, servers on loopback; ratios are within this run. Load average "
        f"(1, 5, 15 min) at the start: {m.get('load_at_start', '?')}, at the end: {m.get('load_at_end', '?')}; "
        f"on {m['cores']} cores, anything above {m['cores']} means other work shared the machine.",
        "",
        "| system | version | no-fsync rows | durable rows |",
        "| --- | --- | --- | --- |",
    ]
    for sy in data["systems"]:
        lines.append(f"| {sy['name']} | {sy['version']} | {sy['durability']} | {sy['durability_durable']} |")
    lines += ["", "## Goals", ""] + goals(data)
    if data.get("errors"):
        lines += ["", "## Cases that failed", ""] + [f"- {e}" for e in data["errors"]]
    for durable, title, chart in ((False, "Produce, no fsync", "produce-nofsync"),
                                  (True, "Produce, durable", "produce-durable")):
        lines += ["", f"## {title}", ""]
        if chart in chart_names:
            lines += [f"![{title}]({chart}.png)", ""]
        lines += produce_table(data, durable)
    lines += ["", "## Consume from a full log (100 B values, 8 partitions)", ""]
    if "consume" in chart_names:
        lines += ["![Consume](consume.png)", ""]
    lines += consume_table(data)
    lines += ["", "## End-to-end latency", "",
              "A sender scheduled at a fixed rate, each record carrying its scheduled send time; latency is "
              "its arrival at a blocked reader minus that time, so a sender that falls behind is charged for "
              "every record it delayed (coordinated omission corrected). No fsync. Each percentile is the "
              "median over the runs.", ""]
    lines += [f"![{c}]({c}.png)" for c in chart_names if c.startswith("latency-")]
    lines += [""] + latency_table(data)
    lines += ["", "## Recovery", ""] + recovery_lines(data)
    lines += ["", "## How each system is driven", "",
              "- **runnel**: in process, the public API (`Broker`, `Producer` with acks=all and the default "
              "batch.size 16 KiB and linger.ms 5, `Consumer`), the workloads of `tools/bench_workload.h`. "
              "A producer per thread; partitions by key. One consumer is `Assign`ed every partition; the "
              "group of two `Subscribe`s (joining and the rebalance are timed).",
              "- **Redis Streams**: redis-server started by the driver on a free loopback port, AOF on, RDB and "
              "automatic AOF rewrites off; a stream per partition, XADD pipelined (1024 in flight per "
              "connection, a connection per thread); XREADGROUP COUNT 1000 + XACK in one round trip.",
              "- **NATS JetStream**: nats-server started by the driver (`-js`), one file-storage stream with a "
              "subject per partition; js_PublishAsync with at most 4096 acks pending per connection; a durable "
              "pull consumer (ack policy all) fetching 1000 at a time; the group of two is two pullers on one "
              "durable. nats-server 2.9.10 has no `sync_interval` (it came in 2.10), so it cannot fsync per "
              "write: its durable rows are the default configuration and are not durable.",
              "- **SQLite**: WAL mode, a table per partition in one file, 512 inserts per transaction, readers "
              "keeping their position in an offsets table; SQLite has no groups, so the group of two splits "
              "the tables between two threads.",
              "- **raw write/read**: the same records framed `[len][crc32c][key][value]`, written with write() "
              "1 MiB at a time (or fdatasync per 16 KiB for the durable rows), read back with read() and every "
              "CRC checked; one thread whatever the case. **raw (in memory)**: the framing alone, the CPU "
              "ceiling.",
              ""]
    return "\n".join(lines)


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(args[0]) as f:
        data = json.load(f)
    out_dir = args[1]
    os.makedirs(out_dir, exist_ok=True)
    chart_names = []
    if "--no-charts" not in argv:
        if shutil.which("gnuplot") is None:
            print("gnuplot not found: no charts", file=sys.stderr)
        else:
            charts(data, out_dir)
            chart_names = sorted(f[:-4] for f in os.listdir(out_dir) if f.endswith(".png"))
    with open(os.path.join(out_dir, "README.md"), "w") as f:
        f.write(report(data, chart_names))
    print(f"wrote {os.path.join(out_dir, 'README.md')}" + (f" and {len(chart_names)} charts" if chart_names else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
