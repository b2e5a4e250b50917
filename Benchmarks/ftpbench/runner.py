"""The run: set up (account, data set, vsftpd, the WAN proxy), run each workload, clean up.

Bench is what a workload works with: the data set, the endpoint clients connect to (vsftpd, or
the delay proxy with --rtt), the direct clients, fresh ftpfs mounts, the page cache, the results.
"""
import json
import os
import shutil
import subprocess
import sys
import time

from . import wan
from .account import FTP_USER, ensure_account
from .common import PYTHON, REPO, BenchError, helper, log
from .curl import Curl
from .dataset import DataSet
from .direct import DirectSession, Sessions, login_seconds
from .mount import Mount
from .processes import Processes
from .results import Results
from .server import Vsftpd
from .system import PageCache, loadavg, mount_points
from .workloads import all_workloads


class Bench:
    def __init__(self, args):
        self.args = args
        self.processes = Processes()
        self.results = Results()
        self.notes = []
        self.mounts = []
        self.prepared = {}  # workload name -> what its prepare() returned (its files), for its run()
        self.workloads = [module for module in all_workloads() if module.NAME in args.only]
        self.rtt_ms = args.rtt  # None: straight to vsftpd on loopback
        self.data = self.server = self.proxy = self.endpoint = self.cache = self.curl = None
        self.proxy_check = None
        self.ftpfs = None
        self.ftpfs_version = "?"
        self.login_ms = float("nan")
        self.started = time.time()
        self.load_before = self.load_after = "?"

    @property
    def repetition(self):
        return self.results.repetition

    # ----- the run ----------------------------------------------------------------------

    def main(self):
        self.ftpfs, self.ftpfs_version = find_ftpfs(self.args.ftpfs)
        # The account first: the data set is chowned to it, and on a machine that has never run the
        # benchmark it does not exist yet.
        ensure_account(self.args.password_hash)
        self.data = DataSet(self.args)
        log(f"working in {self.data.run_dir}")
        started = time.monotonic()
        for module in self.workloads:
            self.prepared[module.NAME] = module.prepare(self)
        if self.rtt_ms is not None:
            self.data.big_file()  # the proxy's throughput check reads it
        # vsftpd's local user must own (and be able to write) everything it serves
        self.processes.run(["chown", "-R", "--no-dereference", f"{FTP_USER}:", self.data.root], 600, "chown")
        log(f"data set generated in {time.monotonic() - started:.1f} s")
        self.server = Vsftpd(self.processes, self.data.run_dir, self.data.root, self.args.server_log)
        self.endpoint = self.server.start()
        log(f"vsftpd on {self.endpoint.host}:{self.endpoint.port}, serving {self.data.root}")
        if self.rtt_ms is not None:
            self.start_proxy()
        self.cache = PageCache(self.processes, self.data.run_dir, self.args.server_cache, self.ftpfs)
        self.curl = Curl(self.processes, self.data.run_dir, self.endpoint)
        self.login_ms = login_seconds(self.endpoint) * 1e3  # also fails fast on a bad login
        self.load_before = loadavg()
        for repetition in range(1, self.args.repeat + 1):
            self.results.repetition = repetition
            for module in self.workloads:
                self.run_workload(module)
        self.load_after = loadavg()

    def start_proxy(self):
        window = self.args.window or wan.default_window()
        self.proxy = wan.DelayProxy(self.processes, self.data.run_dir, self.endpoint, self.rtt_ms,
                                    self.args.bandwidth, window)
        self.proxy_check = wan.self_check(self.processes, self.data.run_dir, self.endpoint, self.proxy,
                                          self.data.big_file(), self.args.big_size)
        self.proxy_check["window"] = window
        self.endpoint = self.proxy.endpoint  # from now on every client goes through the proxy

    def run_workload(self, module):
        a = self.args
        log(f"--- {module.NAME}" + (f" (repetition {self.repetition} of {a.repeat})" if a.repeat > 1 else ""))
        try:
            module.run(self, self.prepared[module.NAME])
        except BenchError as error:
            self.results.fail(module.NAME, str(error))
        finally:
            for mount in list(self.mounts):
                mount.unmount()

    def cleanup(self):
        # first whatever still uses the mounts, then the mounts, then the proxy and the server
        spare = {m.process for m in self.mounts}
        spare.update(p.process for p in (self.server, self.proxy) if p is not None)
        self.processes.kill_all(spare)
        for mount in list(self.mounts):
            mount.unmount()
        if self.proxy is not None:
            self.proxy.stop()
        if self.server is not None:
            self.server.stop()
        self.processes.kill_all()
        run_dir = self.data.run_dir if self.data else None
        if run_dir and os.path.isdir(run_dir):
            if any(p == run_dir or p.startswith(run_dir + "/") for p in mount_points()):
                log(f"warning: something is still mounted under {run_dir}; not removing it")
            elif self.args.keep:
                log(f"kept {run_dir}")
            else:
                shutil.rmtree(run_dir, ignore_errors=True)

    # ----- what workloads use -----------------------------------------------------------

    def mount(self, name, trace=False):
        """A fresh ftpfs mount (named per repetition), started and mounted."""
        if self.args.repeat > 1:
            name = f"{name}-r{self.repetition}"
        return Mount(self, name, trace).start()

    def cold(self, *server_paths):
        self.cache.cold(*server_paths)

    def session(self):
        """One logged-in direct session (log in before starting a clock)."""
        return DirectSession(self.endpoint)

    def sessions(self, count):
        return Sessions(self.endpoint, count)

    def timeout_bytes(self, size):
        return self.args.timeout + size / (2 * 1000 * 1000)  # plus 2 MB/s

    def timeout_ops(self, count):
        """For count operations: 0.5 s each, plus 20 round trips each behind the proxy."""
        return self.args.timeout + count * (0.5 + 20 * (self.rtt_ms or 0) / 1000)

    def run_json(self, script, arguments, timeout, what):
        """Runs a helper script of Benchmarks/ (randread.py, createfiles.py) and parses its JSON."""
        _, out, _, _ = self.processes.run([PYTHON, helper(script), *map(str, arguments)], timeout, what, stdout=None)
        return json.loads(out)


def find_ftpfs(path):
    """The ftpfs binary (--ftpfs, or built here in release mode) and its --version."""
    if path:
        path = os.path.abspath(path)
    else:
        if not shutil.which("swift"):
            raise BenchError("swift is not in PATH: build ftpfs elsewhere and pass --ftpfs PATH "
                             "(scripts/install-deps.sh says how to get Swift)")
        log("building ftpfs (swift build -c release --product ftpfs)")
        result = subprocess.run(["swift", "build", "-c", "release", "--product", "ftpfs"], cwd=REPO,
                                timeout=3600, stdout=sys.stderr, stderr=sys.stderr)
        if result.returncode != 0:
            raise BenchError("swift build failed (or use --ftpfs PATH with an existing binary)")
        bin_path = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=REPO,
                                  capture_output=True, text=True, timeout=600, check=True).stdout.strip()
        path = os.path.join(bin_path, "ftpfs")
    if not os.access(path, os.X_OK):
        raise BenchError(f"{path} is not an executable")
    try:
        version = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        version = "?"
    return path, version
