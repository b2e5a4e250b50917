"""The tables on stdout (the main one, W8's single operations, the proxy's self-check) and the JSON
file that Benchmarks/compare.py reads."""
import datetime
import json
import os
import subprocess
import time

from . import ftp_minimum
from .common import REPO, log
from .options import declared_sizes
from .units import fmt, human_bandwidth, human_size

# Format of the JSON file; compare.py reads files without it too (made before the persistent
# baseline, when "direct" was curl).
JSON_FORMAT = 2
SINGLE_OPERATIONS = "W8"


def header(bench):
    a = bench.args
    try:
        commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=20).stdout.strip()
        dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--", "Sources", "Package.swift"],
                               capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        commit, dirty = "?", ""
    sizes = {key: getattr(a, key) for key in declared_sizes()}
    return {
        "format": JSON_FORMAT,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "commit": commit + (" + uncommitted changes in Sources/" if dirty else "")
                  + (" (the checkout's; --ftpfs gave the binary)" if a.ftpfs else ""),
        "ftpfs": bench.ftpfs, "ftpfs_version": bench.ftpfs_version,
        "ftpfs_options": "auto_unmount" + ("," + a.ftpfs_options if a.ftpfs_options else ""),
        "server": f"{bench.server.describe() if bench.server else 'vsftpd'} ({a.password_hash} password hash), "
                  f"a login takes {bench.login_ms:.1f} ms",
        "baseline": "persistent",
        "rtt_ms": bench.rtt_ms,
        "bandwidth_bytes_per_s": a.bandwidth,
        "server_cache": a.server_cache,
        "page_cache_dropped": bench.cache.drop_works if bench.cache else None,
        "sizes": sizes,
        "quick": a.quick, "workloads": [m.NAME for m in bench.workloads], "seed": a.seed, "repeat": a.repeat,
        "load_average_before": bench.load_before, "load_average_after": bench.load_after,
        "machine": f"{os.uname().nodename}, {os.cpu_count()} CPUs, kernel {os.uname().release}",
    }


def intro(bench, h):
    a = bench.args
    s = h["sizes"]
    cache = ("page cache dropped, then the server's files read back in (the figures measure FTP and FUSE, "
             "not the disk)" if a.server_cache == "warm" else "page cache dropped; the server reads from disk")
    if bench.cache and not bench.cache.drop_works:
        cache = "page cache could NOT be dropped"
    if bench.rtt_ms is None:
        network = "loopback (no delay)"
    else:
        network = (f"through the delay proxy: RTT {bench.rtt_ms:g} ms"
                   + (f", {human_bandwidth(a.bandwidth)} each way" if a.bandwidth else ", no bandwidth cap")
                   + (f", window {human_size(bench.proxy_check['window'])}" if bench.proxy_check else ""))
    size_text = ", ".join(f"{key.replace('_', '-')} {human_size(v) if key.endswith('size') else v}"
                          for key, v in s.items())
    profile = " (--quick)" if a.quick else ""
    return [
        "",
        f"ftpfs benchmark — {h['date']} — commit {h['commit']}",
        f"ftpfs:   {h['ftpfs']} ({h['ftpfs_version']}), -o {h['ftpfs_options']}",
        f"server:  {h['server']}; before each measured run: {cache}",
        f"network: {network}",
        f"sizes:   {size_text}{profile}",
        f"machine: {h['machine']}; load average {h['load_average_before']} before, {h['load_average_after']} "
        f"after; total run time {time.time() - bench.started:.0f} s"
        + (f"; each figure is the median of {a.repeat} repetitions" if a.repeat > 1 else ""),
        "direct:  one persistent ftplib session per connection (one login, then every command on the warm "
        "connection; N sessions for N in parallel), the baseline of every ratio.",
        "ratio:   > 1 means ftpfs is better (rates: ftpfs ÷ direct; times: direct ÷ ftpfs). curl, one process "
        "and one login per transfer, is for information.",
        "",
    ]


def table(rows, right):
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for index, r in enumerate(rows):
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))]
        lines.append(" | ".join(cells).rstrip())
        if index == 0:
            lines.append("-+-".join("-" * w for w in widths))
    return lines


def ratio_text(value):
    return "-" if value is None else f"{value:.2f}"


def main_table(results):
    rows = [("workload", "ftpfs", "direct", "direct client", "ratio", "target", "met", "curl (info)", "vs curl",
             "peak RSS", "ftpfs CPU")]
    for row in results:
        if row["workload"] == SINGLE_OPERATIONS:
            continue
        met = "" if row["target_met"] is None else ("yes" if row["target_met"] else "MISSED")
        rows.append((
            f"{row['workload']} {row['label']}",
            fmt(row["ftpfs"], row["unit"]), fmt(row["direct"], row["unit"]), row["baseline"],
            ratio_text(row["ratio"]), row["target_text"], met,
            fmt(row["curl"], row["unit"]), ratio_text(row["curl_ratio"]),
            "-" if row["peak_rss_kib"] is None else f"{row['peak_rss_kib'] / 1024:.1f} MiB",
            "-" if row["ftpfs_cpu_s"] is None else f"{row['ftpfs_cpu_s']:.2f} s",
        ))
    return table(rows, right={1, 2, 4, 7, 8, 9, 10}) if len(rows) > 1 else []


def single_operations_table(bench, results):
    """W8: each operation in ms and in round trips (time ÷ RTT, with --rtt), the FTP commands each side
    sent, and the fewest round trips FTP allows."""
    rows_in = [r for r in results if r["workload"] == SINGLE_OPERATIONS]
    if not rows_in:
        return []
    rtt = bench.rtt_ms

    def trips(ms):
        return "-" if not rtt or ms is None else f"{ms / rtt:.1f}"

    rows = [("W8 single operation", "ftpfs", "RTTs", "cmds", "direct", "RTTs", "cmds", "FTP min RTTs", "local",
             "peak RSS")]
    for row in rows_in:
        e = row["extra"]
        rows.append((row["label"], fmt(row["ftpfs"], "ms"), trips(row["ftpfs"]), str(e.get("ftpfs_commands", "?")),
                     fmt(row["direct"], "ms"), trips(row["direct"]), str(e.get("direct_commands", "?")),
                     str(ftp_minimum.minimum(e["operation"])), fmt(e.get("local_ms"), "ms"),
                     "-" if row["peak_rss_kib"] is None else f"{row['peak_rss_kib'] / 1024:.1f} MiB"))
    lines = table(rows, right={1, 2, 3, 4, 5, 6, 7, 8, 9})
    lines.append("W8: medians of the rounds, on an idle mount; RTTs = time ÷ the proxy's RTT"
                 + ("" if rtt else " (run with --rtt to see them)")
                 + "; cmds = FTP commands sent (ftpfs: counted in its debug log, on a second mount, one round); "
                 "local = the same command on the local disk (starting it).")
    lines.append("W8 commands, ftpfs | direct | the FTP minimum and why:")
    for row in rows_in:
        e = row["extra"]
        lines.append(f"  {row['label']}: {' '.join(e.get('ftpfs_sequence', [])) or '-'} | "
                     f"{' '.join(e.get('direct_sequence', [])) or '-'} | {ftp_minimum.explanation(e['operation'])}")
    return lines


def proxy_lines(bench, results):
    check = bench.proxy_check
    if not check:
        return []
    through, loop = check["through_proxy"], check["loopback"]
    fastest = max((r for r in results if r["unit"] == "MB/s" and r["ftpfs"]),
                  key=lambda r: max(r["ftpfs"], r["direct"] or 0), default=None)
    lines = [
        f"proxy self-check: idle round trip (NOOP, {through['samples']} samples) median "
        f"{through['median_ms']:.2f} ms (min {through['min_ms']:.2f}, max {through['max_ms']:.2f}) for --rtt "
        f"{check['rtt_asked_ms']:g}: {'OK' if check['rtt_ok'] else 'OFF BY MORE THAN 2 ms'} (loopback without the "
        f"proxy: {loop['median_ms']:.2f} ms)",
        f"proxy self-check: at --rtt 0 it carries {check['rtt0_MBps']:,.0f} MB/s on one connection (RETR of "
        f"{human_size(check['file_size'])}; vsftpd straight: {check['direct_MBps']:,.0f} MB/s)",
    ]
    if fastest:
        top = max(fastest["ftpfs"], fastest["direct"] or 0)
        verdict = ("not the bottleneck" if top < 0.7 * check["rtt0_MBps"]
                   else "MAY BE THE BOTTLENECK: compare with its figure at --rtt 0")
        lines.append(f"proxy self-check: the fastest figure through it in this run is {top:,.0f} MB/s "
                     f"({fastest['workload']} {fastest['label'].strip()}): {verdict}")
    return lines


def notes(bench, results):
    lines = []
    for module in bench.workloads:
        lines += [f"{module.NAME}: {text}" for text in getattr(module, "NOTES", [])]
    lines.append("peak RSS: VmHWM of the ftpfs process (a fresh one per mount) just before unmounting; "
                 "ftpfs CPU: its user+system time for the whole mount (all rows of one mount share it).")
    for workload, message in bench.results.failures:
        lines.append(f"FAILED {workload}: {message}")
    for module in bench.workloads:
        if not any(row["workload"] == module.NAME for row in results):
            lines.append(f"{module.NAME}: no result")
    for note in bench.notes + (bench.cache.notes if bench.cache else []):
        lines.append(f"note: {note}")
    return lines


def report(bench):
    h = header(bench)
    results = bench.results.merged()
    lines = intro(bench, h) + main_table(results)
    w8 = single_operations_table(bench, results)
    if w8:
        lines += [""] + w8
    lines += [""] + proxy_lines(bench, results) + notes(bench, results)
    print("\n".join(lines), flush=True)
    if bench.args.json:
        with open(bench.args.json, "w") as f:
            json.dump({"meta": h, "results": results, "measurements": bench.results.rows,
                       "proxy_check": bench.proxy_check,
                       "failures": [dict(workload=w, error=m) for w, m in bench.results.failures],
                       "notes": bench.notes, "run_seconds": time.time() - bench.started}, f, indent=2)
            f.write("\n")
        log(f"results written to {bench.args.json}")
