"""What every module of the benchmark uses: errors, the log, paths, file digests."""
import hashlib
import os
import sys
import time

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
BENCHMARKS_DIR = os.path.dirname(PACKAGE_DIR)
REPO = os.path.dirname(BENCHMARKS_DIR)
BENCH_BASE = "/tmp/ftpfs-bench"
PYTHON = "/usr/bin/python3"


class BenchError(Exception):
    """A workload (or the setup) failed: reported, not a crash."""


class Interrupted(BaseException):
    """SIGINT/SIGTERM/SIGHUP: stop, clean up, report nothing."""


def log(message):
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def helper(name):
    """Path of a helper script run as a child on the mount (Benchmarks/NAME)."""
    return os.path.join(BENCHMARKS_DIR, name)


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(4 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def read_all(path):
    """Reads a file to its end (to bring it into the page cache)."""
    with open(path, "rb", buffering=0) as f:
        while f.read(4 << 20):
            pass
