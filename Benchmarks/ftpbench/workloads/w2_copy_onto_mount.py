"""W2: cp of a local file onto the mount, including close, against one STOR on a warm session
(the file sent with sendfile); every copy's sha256 is checked on the server's disk."""
import os
import time
from types import SimpleNamespace

from ..common import BenchError, sha256_file
from ..dataset import random_file
from ..results import RSS_LIMIT_KIB
from ..units import MiB, human_size

NAME = "W2"
TITLE = "cp of one big local file onto the mount, incl. close, MB/s"
SIZES = {"write_size": dict(help="W2 file size", full=512 * MiB, quick=32 * MiB, wan=128 * MiB, kind="size")}


def prepare(bench):
    source = bench.data.local_path("write.bin")
    os.makedirs(bench.data.server_path("upload"))
    return SimpleNamespace(source=source, sha=random_file(source, bench.args.write_size))


def run(bench, data):
    size = bench.args.write_size
    r = bench.repetition
    source = data.source

    target = f"upload/w2-direct-{r}.bin"
    with bench.session() as session, open(source, "rb") as f:
        bench.cold(source)
        started = time.perf_counter()
        session.stor(target, file=f)
        seconds = time.perf_counter() - started
    verify(bench, data, target, "W2 direct")
    direct = size / seconds / 1e6

    target = f"upload/w2-curl-{r}.bin"
    bench.cold(source)
    seconds, _, _, _ = bench.processes.run(bench.curl.argv("-T", source, bench.curl.url(target)),
                                           bench.timeout_bytes(size), "W2 curl -T")
    verify(bench, data, target, "W2 curl")
    curl = size / seconds / 1e6

    target = f"upload/w2-ftpfs-{r}.bin"
    bench.cold(source)
    mount = bench.mount("w2")
    seconds, _, _, _ = bench.processes.run(["cp", source, mount.path(target)], bench.timeout_bytes(size),
                                           "W2 ftpfs cp")
    ftpfs = size / seconds / 1e6
    verify(bench, data, target, "W2 ftpfs", keep=bench.args.keep)
    mount.unmount()
    bench.results.row(NAME, f"cp {human_size(size)} onto the mount, incl. close", "MB/s", ftpfs, direct,
                      "STOR, 1 session", True, {"ratio": 0.8, "rss_kib": RSS_LIMIT_KIB}, mount, curl,
                      {"sha256_verified": True})


def verify(bench, data, relative, what, keep=False):
    path = bench.data.server_path(relative)
    if not os.path.exists(path):
        raise BenchError(f"{what}: {path} is not on the server's disk after the copy finished")
    actual = sha256_file(path)
    if actual != data.sha:
        raise BenchError(f"{what}: WRONG DATA on the server: sha256 {actual} (size {os.path.getsize(path)}), "
                         f"expected {data.sha} (size {bench.args.write_size})")
    if not keep:
        os.unlink(path)
