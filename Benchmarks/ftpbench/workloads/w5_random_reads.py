"""W5: random 4 KiB reads in the big file (os.preadv on one open file, a fresh mount), against
REST+RETR of each 4 KiB on one warm session (the data connection closed after 4 KiB, as a client
reading a range does); then the same offsets again, against the page cache itself."""
import os
import random
import time

from ..common import BenchError, read_all
from ..units import KiB, percentile

NAME = "W5"
TITLE = "random 4 KiB reads in the big file: IOPS and latency, cold, then re-read"
SIZES = {"random_reads": dict(help="W5 reads of 4 KiB", full=2000, quick=200, wan=50, kind="count")}
READ_SIZE = 4 * KiB
REREAD_PASSES = 3  # the re-reads (and the local page-cache baseline): the best of these passes
NOTES = [f"re-read: the same offsets again on the same open file (best of {REREAD_PASSES} passes), against "
         "os.pread on the server's own file in the page cache (likewise); 'page cache' speed is taken as ≥ 0.5 "
         "of that."]


def prepare(bench):
    return bench.data.big_file()


def run(bench, name):
    a = bench.args
    size, n = a.big_size, a.random_reads
    reference_path = bench.data.server_path(name)
    if size < READ_SIZE:
        raise BenchError("W5 needs --big-size of at least 4 KiB")
    rng = random.Random(a.seed + 5)
    offsets = [rng.randrange(0, size // READ_SIZE) * READ_SIZE for _ in range(n)]
    offsets_file = os.path.join(bench.data.run_dir, "w5-offsets.txt")
    with open(offsets_file, "w") as f:
        f.write("\n".join(map(str, offsets)) + "\n")

    with open(reference_path, "rb") as reference:
        expected = [os.pread(reference.fileno(), READ_SIZE, offset) for offset in offsets]

    with bench.session() as session:
        bench.cold(reference_path)
        latencies, wrong = [], 0
        started = time.perf_counter()
        for offset, want in zip(offsets, expected):
            t = time.perf_counter()
            got = session.retr_bytes(name, rest=offset, limit=READ_SIZE)
            latencies.append(time.perf_counter() - t)
            wrong += got != want
        direct_total = time.perf_counter() - started
    if wrong:
        raise BenchError(f"W5 direct: {wrong} of {n} range reads returned wrong data")
    direct = summary(n, direct_total, latencies)

    bench.cold(reference_path)
    latencies, wrong = [], 0
    started = time.perf_counter()
    for offset, want in zip(offsets, expected):
        seconds, out, _, _ = bench.processes.run(
            bench.curl.argv("-r", f"{offset}-{offset + READ_SIZE - 1}", bench.curl.url(name)),
            bench.timeout_ops(1), "W5 curl -r", stdout=None)
        latencies.append(seconds)
        wrong += out != want
    if wrong:
        raise BenchError(f"W5 curl: {wrong} of {n} range reads returned wrong data")
    curl = summary(n, time.perf_counter() - started, latencies)

    # the page cache itself: the same reads on the server's file (warm)
    read_all(reference_path)
    local = bench.run_json("randread.py", [reference_path, offsets_file, READ_SIZE, 1 + REREAD_PASSES],
                           a.timeout, "W5 local page cache")
    local = min(local["passes"][1:], key=lambda p: p["total_s"])  # the best: least disturbed

    # ftpfs: fresh mount, one fd, os.preadv at each offset, then the same offsets again
    bench.cold(reference_path)
    mount = bench.mount("w5")
    result = bench.run_json("randread.py", [mount.path(name), offsets_file, READ_SIZE, 1 + REREAD_PASSES,
                                            reference_path], bench.timeout_ops(n), "W5 ftpfs pread")
    mount.unmount()
    if result["mismatches"] or result["short_reads"]:
        raise BenchError(f"W5 ftpfs: WRONG DATA: {result['mismatches']} blocks differ from the server's file, "
                         f"{result['short_reads']} short reads")
    cold = result["passes"][0]
    warm = min(result["passes"][1:], key=lambda p: p["total_s"])
    ftpfs = summary(n, cold["total_s"], cold["latencies_s"])
    extra = {"open_s": result["open_s"], "reread_iops_each_pass": [n / p["total_s"] for p in result["passes"][1:]]}
    client = "REST+RETR, 1 session"
    row = bench.results.row
    row(NAME, f"{n} random 4 KiB reads, cold: IOPS", "IOPS", ftpfs["iops"], direct["iops"], client, True,
        {"ratio": 0.8}, mount, curl["iops"], extra)
    row(NAME, "  cold: p50 latency", "ms", ftpfs["p50"], direct["p50"], client, False, None, mount, curl["p50"])
    row(NAME, "  cold: p99 latency", "ms", ftpfs["p99"], direct["p99"], client, False, None, mount, curl["p99"])
    reread = summary(n, warm["total_s"], warm["latencies_s"])
    row(NAME, "  re-read same offsets: IOPS", "IOPS", reread["iops"], n / local["total_s"], "local page cache", True,
        {"ratio": 0.5, "note": "page cache"}, mount, None,
        {"p50_ms": reread["p50"], "p99_ms": reread["p99"], "local_p50_ms": percentile(local["latencies_s"], 50) * 1e3})


def summary(n, total_s, latencies_s):
    return dict(iops=n / total_s, p50=percentile(latencies_s, 50) * 1e3, p99=percentile(latencies_s, 99) * 1e3)
