"""The run directory and the files more than one workload reads.

    /tmp/ftpfs-bench/run-XXXX/root     what vsftpd serves (owned by the benchmark account)
    /tmp/ftpfs-bench/run-XXXX/local    sources of uploads (W2, W6, W8)

Each workload makes its own files in its module's prepare(); the big file (W1, W5, the proxy's
throughput check) is made once here, by whichever asks first.
"""
import hashlib
import os
import tempfile

from .common import BENCH_BASE
from .units import MiB

# The size of the shared big file, per profile (see options.py): it decides W1's and W5's sizes.
SIZES = {"big_size": dict(help="W1/W5 file size", full=1 << 30, quick=64 * MiB, wan=256 * MiB, kind="size")}


class DataSet:
    def __init__(self, args):
        self.args = args
        os.makedirs(BENCH_BASE, exist_ok=True)
        os.chmod(BENCH_BASE, 0o755)
        self.run_dir = os.path.realpath(tempfile.mkdtemp(prefix="run-", dir=BENCH_BASE))
        os.chmod(self.run_dir, 0o755)  # vsftpd's user must traverse it to reach the root
        self.root = os.path.join(self.run_dir, "root")
        self.local = os.path.join(self.run_dir, "local")
        os.makedirs(self.root)
        os.makedirs(self.local)
        self._big = None

    def server_path(self, relative):
        return os.path.join(self.root, relative)

    def local_path(self, relative):
        return os.path.join(self.local, relative)

    def big_file(self):
        """The big file on the server (made on first use): its name relative to the root."""
        if self._big is None:
            random_file(self.server_path("big.bin"), self.args.big_size)
            self._big = "big.bin"
        return self._big


def random_file(path, size):
    """Writes size random bytes to path; returns their sha256."""
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            chunk = os.urandom(min(left, 4 * MiB))
            digest.update(chunk)
            f.write(chunk)
            left -= len(chunk)
    return digest.hexdigest()
