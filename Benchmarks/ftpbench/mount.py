"""One ftpfs process on a fresh mount point under the run directory.

ftpfs runs in the foreground (-f) as our child, with auto_unmount, the password in
$FTPFS_PASSWORD. Its peak RSS (VmHWM) and CPU time are read right before the unmount.
"""
import os
import signal
import subprocess
import time

from .account import FTP_PASSWORD, FTP_USER
from .common import BenchError
from .system import is_mounted


class Mount:
    def __init__(self, bench, name, trace=False):
        self.bench = bench
        self.name = name
        self.trace = trace  # -o log_level=debug: every FTP command in the log (trace.py counts them)
        self.mountpoint = os.path.join(bench.data.run_dir, f"mnt-{name}")
        self.log_path = os.path.join(bench.data.run_dir, f"ftpfs-{name}.log")
        self.process = None
        self.peak_rss_kib = None
        self.cpu_seconds = None
        self.exit_seconds = None  # from fusermount3 -u until ftpfs exited

    def path(self, relative):
        return os.path.join(self.mountpoint, relative)

    def options(self):
        options = ["auto_unmount"] + ([self.bench.args.ftpfs_options] if self.bench.args.ftpfs_options else [])
        if self.trace:
            options.append("log_level=debug")
        return ",".join(options)

    def start(self, timeout=30):
        b = self.bench
        os.mkdir(self.mountpoint)
        argv = [b.ftpfs, "-f", "-o", self.options(), b.endpoint.url(FTP_USER), self.mountpoint]
        env = dict(os.environ, FTPFS_PASSWORD=FTP_PASSWORD)
        with open(self.log_path, "wb") as out:
            self.process = b.processes.spawn(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env)
        b.mounts.append(self)
        deadline = time.monotonic() + timeout
        while not is_mounted(self.mountpoint):
            if self.process.poll() is not None:
                self.unmount()
                raise BenchError(f"ftpfs exited ({self.process.returncode}) without mounting:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.unmount()
                raise BenchError(f"ftpfs did not mount within {timeout} s:\n{self.log_tail()}")
            time.sleep(0.02)
        return self

    def log_tail(self, lines=20):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def sample(self):
        """Peak RSS and CPU time so far, from /proc."""
        pid = self.process.pid
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        self.peak_rss_kib = int(line.split()[1])
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            self.cpu_seconds = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            pass

    def unmount(self):
        """fusermount3 -u, wait for ftpfs to exit; escalate (SIGTERM, SIGKILL, lazy unmount) only
        if that does not work in time. Idempotent."""
        b = self.bench
        if self not in b.mounts:
            return
        if self.process.poll() is None:
            self.sample()
        problems = []
        unmount_started = time.monotonic()
        deadline = unmount_started + 20
        while is_mounted(self.mountpoint) and time.monotonic() < deadline:
            try:
                _, _, error, status = b.processes.run(["fusermount3", "-u", self.mountpoint], 30, "fusermount3 -u",
                                                      check=False)
            except BenchError as timeout:
                problems.append(str(timeout))
                break  # a hung ftpfs: killing it below aborts the connection
            if status == 0:
                break
            problems.append(error.strip())
            time.sleep(0.5)  # EBUSY: a killed reader may still hold a file open
        try:
            self.process.wait(timeout=30)
            self.exit_seconds = time.monotonic() - unmount_started
        except subprocess.TimeoutExpired:
            problems.append("ftpfs did not exit within 30 s of the unmount; SIGTERM")
            b.processes.kill_group(self.process, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                problems.append("SIGKILL")
        b.processes.reap(self.process, 5)
        if is_mounted(self.mountpoint):
            try:
                b.processes.run(["fusermount3", "-u", "-z", self.mountpoint], 30, "fusermount3 -u -z", check=False)
            except BenchError as error:
                problems.append(str(error))
            problems.append("lazy unmount")
        b.mounts.remove(self)
        if self.process.returncode not in (0, None):
            problems.append(f"ftpfs exited with status {self.process.returncode}")
        if problems:
            b.notes.append(f"mount {self.name}: " + "; ".join(p for p in problems if p)
                           + f" (log: {self.log_path})" + ("" if b.args.keep else " — rerun with --keep to see it"))
        try:
            os.rmdir(self.mountpoint)
        except OSError:
            pass
