"""W9: a soak of the mount's memory. One long-running mount lists, stats and reads 100,000
distinct files (in 100 directories), then lists a single directory of 100,000 entries with
`ls -l`: ftpfs's peak RSS must stay under 64 MiB, however much it has seen (every cache it
keeps has a budget). There is no direct client to compare with: the figure is the RSS."""
import os
import shutil
from types import SimpleNamespace

from ..account import FTP_USER
from ..common import BenchError

NAME = "W9"
TITLE = "soak: 100,000 files listed, stat'ed and read, then a 100,000-entry directory; peak RSS"
SIZES = {
    "soak_files": dict(help="W9 files walked (in directories of 1,000) and entries of the large directory",
                       full=100_000, quick=5_000, wan=2_000, kind="count"),
}
PER_DIRECTORY = 1000
RSS_LIMIT_KIB = 64 * 1024


def prepare(bench):
    n = bench.args.soak_files
    root = bench.data.server_path("soak")
    walk = os.path.join(root, "walk")
    large = os.path.join(root, "large")
    os.makedirs(walk)
    os.makedirs(large)
    for i in range(n):
        directory = os.path.join(walk, f"d{i // PER_DIRECTORY:04d}")
        if i % PER_DIRECTORY == 0:
            os.mkdir(directory)
        with open(os.path.join(directory, f"file-{i:06d}.txt"), "w") as f:
            f.write(f"soak file {i}\n")
        open(os.path.join(large, f"entry-with-a-longer-name-{i:06d}.dat"), "w").close()
    for directory, _, names in os.walk(root):
        shutil.chown(directory, FTP_USER, FTP_USER)
        for name in names:
            shutil.chown(os.path.join(directory, name), FTP_USER, FTP_USER)
    return SimpleNamespace(files=n)


def run(bench, data):
    mount = bench.mount("w9")
    walked = bench.run_json("soak.py", [mount.path("soak/walk")], bench.timeout_ops(data.files // 10),
                            "W9 walk")
    if walked["files"] != data.files:
        raise BenchError(f"W9: the walk saw {walked['files']} files of {data.files}")
    _, listed, _, _ = bench.processes.run(["ls", "-l", mount.path("soak/large")], bench.timeout_ops(data.files // 100),
                                          "W9 ls -l", count_stdout=True)
    mount.unmount()
    files_per_second = data.files / walked["seconds"]
    bench.results.row(NAME, f"walk {data.files} files (listed, stat'ed, read), then ls -l of {data.files} entries",
                      "files/s", files_per_second, None, "none (the figure is ftpfs's peak RSS)", True,
                      {"rss_kib": RSS_LIMIT_KIB}, mount, None, {"ls_bytes": listed})
