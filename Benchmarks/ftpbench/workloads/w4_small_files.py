"""W4: read many small files whole, one at a time and `parallel` at once, against RETR of each on
one warm session, and on `parallel` warm sessions sharing the files. On the mount one process
reads them (readfiles.py: open, read, close; threads for parallel), so neither side pays a
process start per file; curl (information) is one process per file (xargs -P)."""
import os
import random
from types import SimpleNamespace

from ..common import BenchError, sha256_file
from ..units import KiB

NAME = "W4"
TITLE = "read small files (4-64 KiB) one at a time and in parallel, files/s"
SIZES = {"small_files": dict(help="W4 files of 4-64 KiB", full=1000, quick=100, wan=60, kind="count")}
SMALL_MIN, SMALL_MAX = 4 * KiB, 64 * KiB


def prepare(bench):
    rng = random.Random(bench.args.seed + 4)
    directory = bench.data.server_path("small")
    os.makedirs(directory)
    names, total = [], 0
    for i in range(bench.args.small_files):
        name = f"small-{i:05d}.bin"
        size = rng.randrange(SMALL_MIN, SMALL_MAX + 1)
        with open(os.path.join(directory, name), "wb") as f:
            f.write(os.urandom(size))
        names.append(name)
        total += size
    return SimpleNamespace(directory=directory, names=names, total=total)


def run(bench, data):
    n, p = len(data.names), bench.args.parallel
    paths = [f"small/{name}" for name in data.names]
    urls = os.path.join(bench.data.run_dir, "w4-urls.txt")
    with open(urls, "w") as f:
        f.write("".join(bench.curl.url(path) + "\n" for path in paths))
    for jobs in sorted({1, p}):
        with bench.sessions(jobs) as pool:
            bench.cold(data.directory)
            sizes, seconds = pool.map(lambda session, path: session.retr(path), paths)
        if sum(sizes) != data.total:
            raise BenchError(f"W4 direct, {jobs} sessions: read {sum(sizes)} bytes, expected {data.total}")
        direct = n / seconds

        bench.cold(data.directory)
        seconds, counted, _, _ = bench.processes.run(
            ["xargs", "-d", "\\n", "-a", urls, "-n", "1", "-P", str(jobs), *bench.curl.argv()],
            bench.timeout_ops(n), f"W4 curl -P{jobs}", count_stdout=True)
        if counted != data.total:
            raise BenchError(f"W4 curl -P{jobs}: read {counted} bytes, expected {data.total}")
        curl = n / seconds

        bench.cold(data.directory)
        mount = bench.mount(f"w4-p{jobs}")
        list_file = os.path.join(bench.data.run_dir, f"w4-paths-{jobs}.txt")
        with open(list_file, "w") as f:
            f.write("".join(mount.path(path) + "\n" for path in paths))
        result = bench.run_json("readfiles.py", [list_file, jobs], bench.timeout_ops(n), f"W4 ftpfs read -P{jobs}")
        counted, ftpfs = result["bytes"], n / result["total_s"]
        if counted != data.total:
            raise BenchError(f"W4 ftpfs -P{jobs}: read {counted} bytes through the mount, expected {data.total}")
        check_files(bench, data, mount)
        mount.unmount()
        if jobs == 1:
            bench.results.row(NAME, f"read {n} files of 4-64 KiB, one at a time", "files/s", ftpfs, direct,
                              "RETR each, 1 session", True, None, mount, curl)
        else:
            bench.results.row(NAME, f"read {n} files of 4-64 KiB, {jobs} in parallel", "files/s", ftpfs, direct,
                              f"RETR each, {jobs} sessions", True, {"ratio": 1.0}, mount, curl)


def check_files(bench, data, mount):
    """Untimed: a few files read through the mount equal the server's."""
    rng = random.Random(bench.args.seed + 11)
    for name in rng.sample(data.names, min(5, len(data.names))):
        _, out, _, _ = bench.processes.run(["sha256sum", mount.path(f"small/{name}")], bench.args.timeout,
                                           "W4 data check", stdout=None)
        if out.split()[0].decode() != sha256_file(os.path.join(data.directory, name)):
            raise BenchError(f"W4: WRONG DATA through ftpfs in small/{name}")
