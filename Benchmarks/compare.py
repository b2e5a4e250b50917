#!/usr/bin/python3
"""Compare benchmark runs saved with `scripts/bench.sh --json FILE`.

    Benchmarks/compare.py BEFORE.json AFTER.json [MORE.json ...]

Prints, for every row of the table, the ftpfs figure and the ratio to direct of each run,
and the change of the ftpfs figure from the first run to the last ("+" = ftpfs got better,
whatever the unit). Direct figures move with the machine's load: compare ratios when the
runs were made at different times. Reads files of every format: before the persistent-session
baseline (no "format" in meta) "direct" was curl, one login per transfer, so ratios of such a
run are against curl; it says so.
"""
import json
import sys


def load(path):
    with open(path) as f:
        data = json.load(f)
    rows = {(r["workload"], r["label"]): r for r in data["results"]}
    return data["meta"], rows


def fmt(value):
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def describe(index, meta):
    sizes = meta.get("sizes", {})
    rtt = meta.get("rtt_ms")
    network = "loopback" if rtt is None else f"--rtt {rtt:g}"
    baseline = "persistent sessions" if meta.get("baseline") == "persistent" else "curl (old format)"
    return (f"run {index}: {meta['date']}, commit {meta['commit']}, -o {meta['ftpfs_options']}, {network}, "
            f"direct = {baseline}, big {sizes.get('big_size', '?')} B, tree {sizes.get('tree_files', '?')} files, "
            f"load {meta.get('load_average_before', '?')}")


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    runs = [load(path) for path in sys.argv[1:]]
    for index, (meta, _) in enumerate(runs, 1):
        print(describe(index, meta))
    if len({meta.get("baseline", "curl") for meta, _ in runs}) > 1:
        print("note: the runs' ratios have different baselines (curl against persistent sessions): compare the "
              "ftpfs figures, not the ratios")
    if len({meta.get("rtt_ms") for meta, _ in runs}) > 1:
        print("note: the runs were made at different round-trip times")
    keys = []
    for _, rows in runs:
        keys += [key for key in rows if key not in keys]
    header = ["workload", "unit"]
    for index in range(1, len(runs) + 1):
        header += [f"ftpfs {index}", f"ratio {index}"]
    header.append("change")
    table = [header]
    for key in keys:
        cells = [f"{key[0]} {key[1]}", next(r[key]["unit"] for _, r in runs if key in r)]
        figures = []
        for _, rows in runs:
            row = rows.get(key)
            cells += [fmt(row["ftpfs"]) if row else "-", fmt(row["ratio"]) if row else "-"]
            figures.append(row)
        first, last = figures[0], figures[-1]
        change = ""
        if first and last and first["ftpfs"] and last["ftpfs"]:
            better = last["ftpfs"] / first["ftpfs"] if first["higher_is_better"] else first["ftpfs"] / last["ftpfs"]
            change = f"{(better - 1) * 100:+.0f}%"
        cells.append(change)
        table.append(cells)
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for number, row in enumerate(table):
        print(" | ".join(cell.ljust(width) if i == 0 else cell.rjust(width)
                         for i, (cell, width) in enumerate(zip(row, widths))).rstrip())
        if number == 0:
            print("-+-".join("-" * width for width in widths))


if __name__ == "__main__":
    main()
