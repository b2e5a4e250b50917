"""Every child the benchmark starts: each in its own session, with a deadline.

The driver never waits on anything without a deadline: a hung ftpfs would otherwise hang it
(and with it CI). On a timeout or Ctrl-C the child's whole process group is killed.
"""
import os
import select
import signal
import subprocess
import tempfile
import time

from .common import BenchError, log


class Processes:
    def __init__(self):
        self.children = {}  # pid -> Popen: everything we started and may have to kill

    def spawn(self, argv, **kwargs):
        process = subprocess.Popen(argv, start_new_session=True, **kwargs)
        self.children[process.pid] = process
        return process

    def kill_group(self, process, sig=signal.SIGKILL):
        """Signals the process group of a child we started (its own session)."""
        if process.poll() is None:
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                pass

    def reap(self, process, timeout):
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill_group(process)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                log(f"warning: process {process.pid} did not die after SIGKILL")
        self.children.pop(process.pid, None)

    def stop(self, process, timeout=10):
        """SIGTERM, then (after timeout) SIGKILL."""
        self.kill_group(process, signal.SIGTERM)
        self.reap(process, timeout)

    def run(self, argv, timeout, what, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            count_stdout=False, env=None, check=True):
        """Runs argv in its own session with a deadline. stdout=None captures it; count_stdout
        counts its bytes without keeping them. Returns (seconds, stdout bytes or byte count,
        stderr text, exit status). On timeout the process group is killed."""
        with tempfile.TemporaryFile() as err:
            started = time.perf_counter()
            piped = stdout is None or count_stdout
            process = self.spawn(argv, stdin=stdin, stdout=subprocess.PIPE if piped else stdout, stderr=err,
                                 env=env)
            output = b""
            try:
                if count_stdout:
                    output = self._count(process, argv, timeout)
                elif stdout is None:
                    output, _ = process.communicate(timeout=timeout)
                else:
                    process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill_group(process)
                self.reap(process, 10)
                raise BenchError(f"{what}: timed out after {timeout:.0f} s ({' '.join(argv[:6])} ...)")
            except BaseException:  # Ctrl-C: the reader must not keep the mount busy while we unmount
                self.kill_group(process)
                self.reap(process, 10)
                raise
            elapsed = time.perf_counter() - started
            self.children.pop(process.pid, None)
            err.seek(0)
            error_text = err.read().decode(errors="replace")
            if check and process.returncode != 0:
                raise BenchError(f"{what}: exit {process.returncode}: {error_text.strip()[-500:]}")
            return elapsed, output, error_text, process.returncode

    @staticmethod
    def _count(process, argv, timeout):
        deadline = time.monotonic() + timeout
        fd = process.stdout.fileno()
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        counted = 0
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not poller.poll(left * 1000):
                raise subprocess.TimeoutExpired(argv, timeout)
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            counted += len(chunk)
        process.stdout.close()
        process.wait(timeout=max(0.1, deadline - time.monotonic()))
        return counted

    def kill_all(self, spare=()):
        """Kills every child we started except those in spare (mounts and the server are stopped
        their own way, after their users are gone)."""
        for process in list(self.children.values()):
            if process not in spare:
                self.kill_group(process)
                self.reap(process, 10)
