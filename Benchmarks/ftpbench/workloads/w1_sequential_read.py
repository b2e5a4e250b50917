"""W1: sequential read of the big file: dd bs=1M through the mount, against one RETR on a warm
session (read into a 1 MiB buffer and dropped, as dd's output is)."""
import os
import random
import time

from ..common import BenchError
from ..results import RSS_LIMIT_KIB
from ..units import MiB, human_size

NAME = "W1"
TITLE = "sequential read of one big file (dd bs=1M), MB/s"
SIZES = {}  # the big file's size is the data set's (--big-size)
CHECK_BLOCKS = 8


def prepare(bench):
    bench.data.big_file()


def run(bench, _):
    size = bench.args.big_size
    name = bench.data.big_file()
    server_file = bench.data.server_path(name)

    with bench.session() as session:
        bench.cold(server_file)
        started = time.perf_counter()
        got = session.retr(name)
        seconds = time.perf_counter() - started
    if got != size:
        raise BenchError(f"W1 direct: RETR read {got} bytes, expected {size}")
    direct = size / seconds / 1e6

    bench.cold(server_file)
    seconds, out, _, _ = bench.processes.run(bench.curl.argv("-o", "/dev/null", "-w", "%{size_download}",
                                                             bench.curl.url(name)),
                                             bench.timeout_bytes(size), "W1 curl", stdout=None)
    if int(out or 0) != size:
        raise BenchError(f"W1 curl: downloaded {out!r} bytes, expected {size}")
    curl = size / seconds / 1e6

    bench.cold(server_file)
    mount = bench.mount("w1")
    seconds, _, err, _ = bench.processes.run(["dd", f"if={mount.path(name)}", "of=/dev/null", "bs=1M"],
                                             bench.timeout_bytes(size), "W1 ftpfs dd")
    copied = next((line.split()[0] for line in err.splitlines() if "bytes" in line and "copied" in line), "?")
    if copied != str(size):
        raise BenchError(f"W1 ftpfs: dd read {copied} bytes, expected {size}:\n{err.strip()}")
    ftpfs = size / seconds / 1e6
    check_blocks(bench, mount, name, MiB, "W1")
    mount.unmount()
    bench.results.row(NAME, f"sequential read {human_size(size)} (dd bs=1M)", "MB/s", ftpfs, direct,
                      "RETR, 1 session", True, {"ratio": 0.8, "rss_kib": RSS_LIMIT_KIB}, mount, curl)


def check_blocks(bench, mount, name, block, what):
    """Untimed: a few random blocks read through the mount equal the server's file."""
    reference = bench.data.server_path(name)
    total = os.path.getsize(reference)
    rng = random.Random(bench.args.seed + 7)
    offsets = [rng.randrange(0, max(1, total - block + 1)) for _ in range(CHECK_BLOCKS)]
    offsets_file = os.path.join(bench.data.run_dir, f"check-{mount.name}.txt")
    with open(offsets_file, "w") as f:
        f.write("\n".join(map(str, offsets)) + "\n")
    result = bench.run_json("randread.py", [mount.path(name), offsets_file, block, 1, reference],
                            bench.args.timeout, f"{what} data check")
    if result["mismatches"] or result["short_reads"]:
        raise BenchError(f"{what}: WRONG DATA through ftpfs: {result['mismatches']} of {CHECK_BLOCKS} sampled "
                         f"blocks differ from the server's file, {result['short_reads']} short reads")
