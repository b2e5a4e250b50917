"""W6: create many 8 KiB files one after another (open O_CREAT|O_EXCL, write, close), each
verified on the server's disk, against STOR of each on one warm session."""
import os
import shutil
import time
from types import SimpleNamespace

from ..account import FTP_USER
from ..common import BenchError, sha256_file
from ..units import KiB, percentile

NAME = "W6"
TITLE = "create small files (8 KiB) one after another, verified, files/s"
SIZES = {"create_files": dict(help="W6 files of 8 KiB", full=500, quick=50, wan=40, kind="count")}
CREATE_SIZE = 8 * KiB


def prepare(bench):
    source = bench.data.local_path("create")
    os.makedirs(source)
    for i in range(bench.args.create_files):
        with open(os.path.join(source, f"new-{i:05d}.bin"), "wb") as f:
            f.write(os.urandom(CREATE_SIZE))
    return SimpleNamespace(source=source, names=sorted(os.listdir(source)))


def run(bench, data):
    n = len(data.names)
    r = bench.repetition
    directories = {side: f"create-{side}-{r}" for side in ("direct", "curl", "ftpfs")}
    for directory in directories.values():
        path = bench.data.server_path(directory)
        os.mkdir(path)
        shutil.chown(path, FTP_USER, FTP_USER)
    contents = []
    for name in data.names:
        with open(os.path.join(data.source, name), "rb") as f:
            contents.append(f.read())

    with bench.session() as session:
        bench.cold(data.source)
        started = time.perf_counter()
        for name, content in zip(data.names, contents):
            session.stor(f"{directories['direct']}/{name}", content)
        direct = n / (time.perf_counter() - started)
    verify(bench, data, directories["direct"], "W6 direct")

    bench.cold(data.source)
    started = time.perf_counter()
    for name in data.names:
        bench.processes.run(bench.curl.argv("-T", os.path.join(data.source, name),
                                            bench.curl.url(f"{directories['curl']}/{name}")),
                            bench.timeout_ops(1), "W6 curl -T")
    curl = n / (time.perf_counter() - started)
    verify(bench, data, directories["curl"], "W6 curl")

    bench.cold(data.source)
    mount = bench.mount("w6")
    result = bench.run_json("createfiles.py", [data.source, mount.path(directories["ftpfs"])], bench.timeout_ops(n),
                            "W6 ftpfs create")
    verify(bench, data, directories["ftpfs"], "W6 ftpfs")
    mount.unmount()
    ftpfs = n / result["total_s"]
    extra = {"p50_ms": percentile(result["latencies_s"], 50) * 1e3,
             "p99_ms": percentile(result["latencies_s"], 99) * 1e3}
    bench.results.row(NAME, f"create {n} files of 8 KiB, verified", "files/s", ftpfs, direct, "STOR each, 1 session",
                      True, {"ratio": 1.0}, mount, curl, extra)


def verify(bench, data, directory, what):
    missing, wrong = [], []
    for name in data.names:
        path = bench.data.server_path(os.path.join(directory, name))
        if not os.path.exists(path):
            missing.append(name)
        elif sha256_file(path) != sha256_file(os.path.join(data.source, name)):
            wrong.append(name)
    if missing or wrong:
        time.sleep(2)
        late = [name for name in missing if os.path.exists(bench.data.server_path(os.path.join(directory, name)))]
        raise BenchError(f"{what}: {len(missing)} of {len(data.names)} files missing on the server's disk right "
                         f"after close ({len(late)} of them appeared 2 s later), {len(wrong)} with wrong "
                         f"content; e.g. {(missing + wrong)[:3]}")
    extra = set(os.listdir(bench.data.server_path(directory))) - set(data.names)
    if extra:
        raise BenchError(f"{what}: unexpected files left on the server: {sorted(extra)[:5]}")
