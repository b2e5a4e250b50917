"""W3: ls -lR and find over a tree, cold (fresh mount) and warm (the same command again), against a
LIST walk of the tree by the direct client: one session, and `parallel` sessions sharing the
directories; the faster of the two is the baseline (it is what the best direct client gets)."""
import os
import random
import time
from types import SimpleNamespace

from ..common import BenchError

NAME = "W3"
TITLE = "ls -lR and find over a tree, cold and warm, s"
SIZES = {"tree_files": dict(help="W3 files", full=10000, quick=1000, wan=1000, kind="count"),
         "tree_dirs": dict(help="W3 directories", full=100, quick=10, wan=20, kind="count")}
NOTES = ["direct = the faster LIST walk of the tree: one session, or several sharing the directories "
         "(both in the JSON); warm = the same command again on the same mount."]


def prepare(bench):
    a = bench.args
    rng = random.Random(a.seed + 3)
    tree = bench.data.server_path("tree")
    for d in range(a.tree_dirs):
        os.makedirs(os.path.join(tree, f"d{d:04d}"))
    for i in range(a.tree_files):
        with open(os.path.join(tree, f"d{i % a.tree_dirs:04d}", f"file-{i:06d}.txt"), "wb") as f:
            f.write(b"x" * rng.randrange(0, 2048))
    return SimpleNamespace(tree=tree)


def run(bench, data):
    a = bench.args
    entries = a.tree_files + a.tree_dirs
    walks = {}
    for sessions in sorted({1, a.parallel}):
        with bench.sessions(sessions) as pool:
            bench.cold(data.tree)
            seen, seconds = pool.walk("tree")
        if seen != entries:
            raise BenchError(f"W3 direct LIST walk ({sessions} sessions) saw {seen} entries, expected {entries}")
        walks[sessions] = seconds
    best = min(walks, key=walks.get)
    direct, direct_client = walks[best], f"LIST walk, {best} session{'s' if best > 1 else ''}"

    bench.cold(data.tree)
    started = time.perf_counter()
    seen = bench.curl.walk("tree", bench.timeout_ops(1))
    curl = time.perf_counter() - started
    if seen != entries:
        raise BenchError(f"W3 curl walk saw {seen} entries, expected {entries}")

    extra = {f"direct_walk_{n}_sessions_s": seconds for n, seconds in walks.items()}
    for tool in ("ls -lR", "find"):
        bench.cold(data.tree)
        mount = bench.mount("w3-" + tool.split()[0])
        path = mount.path("tree")
        argv = ["ls", "-lR", path] if tool == "ls -lR" else ["find", path]
        env = dict(os.environ, LC_ALL="C")
        timeout = bench.timeout_ops(a.tree_files)
        cold_s, out, _, _ = bench.processes.run(argv, timeout, f"W3 ftpfs {tool} (cold)", stdout=None, env=env)
        cold_n = count_output(tool, out)
        warm_s, out, _, _ = bench.processes.run(argv, timeout, f"W3 ftpfs {tool} (warm)", stdout=None, env=env)
        warm_n = count_output(tool, out)
        mount.unmount()
        want = a.tree_files if tool == "ls -lR" else entries + 1
        if cold_n != want or warm_n != want:
            raise BenchError(f"W3 ftpfs {tool}: saw {cold_n} (cold) and {warm_n} (warm) entries, expected {want}")
        cold_label = f"{tool} {a.tree_files} files/{a.tree_dirs} dirs, cold"
        bench.results.row(NAME, cold_label, "s", cold_s, direct, direct_client, False, {"ratio": 0.5}, mount,
                          curl, extra)
        bench.results.row(NAME, f"{tool}, warm (same mount again)", "s", warm_s, direct, direct_client, False,
                          {"speedup_over": cold_label, "min": 3}, mount, curl, extra)


def count_output(tool, out):
    lines = out.decode(errors="replace").splitlines()
    if tool == "find":
        return len(lines)
    return sum(1 for line in lines if line.startswith("-"))  # regular files in ls -lR
