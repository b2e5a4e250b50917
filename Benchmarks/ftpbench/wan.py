"""The WAN mode: the delay proxy (proxy.py) as a child, and its self-check.

The check answers two questions before any workload runs behind the proxy:
- does an idle round trip cost the RTT asked for? (NOOP on a logged-in control connection,
  through the proxy: the median must be within ±2 ms of --rtt);
- is the proxy fast enough not to be the bottleneck? (one RETR through a second proxy at
  --rtt 0, against the same RETR straight from vsftpd; the report compares it with the fastest
  figure measured through the real one).
"""
import os
import select
import subprocess
import time

from .common import PACKAGE_DIR, PYTHON, BenchError, log
from .direct import DirectSession
from .server import Endpoint
from .units import median

RTT_TOLERANCE_MS = 2.0
NOOP_SAMPLES = 20
DEFAULT_WINDOW = 6 << 20


class DelayProxy:
    """One proxy.py child in front of the server; endpoint is where clients connect."""

    def __init__(self, processes, run_dir, server, rtt_ms, bandwidth=None, window=None, name="proxy"):
        argv = [PYTHON, os.path.join(PACKAGE_DIR, "proxy.py"), "--server", f"{server.host}:{server.port}",
                "--rtt", str(rtt_ms)]
        if bandwidth:
            argv += ["--bandwidth", str(bandwidth)]
        if window:
            argv += ["--window", str(window)]
        self.processes = processes
        self.rtt_ms = rtt_ms
        self.log_path = os.path.join(run_dir, f"{name}.log")
        with open(self.log_path, "wb") as err:
            self.process = processes.spawn(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
        self.endpoint = self._read_endpoint()

    def _read_endpoint(self, timeout=20):
        fd = self.process.stdout.fileno()
        ready, _, _ = select.select([fd], [], [], timeout)
        line = os.read(fd, 200).decode(errors="replace") if ready else ""
        words = line.split()
        if len(words) != 3 or words[0] != "LISTENING":
            self.stop()
            with open(self.log_path, errors="replace") as f:
                raise BenchError(f"the delay proxy did not start (said {line!r}):\n{f.read()[-1000:]}")
        return Endpoint(words[1], int(words[2]))

    def stop(self):
        if self.process is not None:
            self.processes.stop(self.process)
            self.process.stdout.close()
            self.process = None


def measure_round_trip_ms(endpoint, samples=NOOP_SAMPLES):
    """Median, min and max of an idle NOOP round trip on a logged-in control connection."""
    session = DirectSession(endpoint)
    try:
        times = []
        for _ in range(samples):
            started = time.perf_counter()
            session.voidcmd("NOOP")
            times.append((time.perf_counter() - started) * 1e3)
            time.sleep(0.01)  # idle between: no queueing behind the previous reply
    finally:
        session.close()
    return dict(median_ms=median(times), min_ms=min(times), max_ms=max(times), samples=samples)


def retr_throughput(endpoint, path, size):
    """MB/s of one RETR of path (size bytes) on a warm session."""
    session = DirectSession(endpoint)
    try:
        started = time.perf_counter()
        got = session.retr(path)
        seconds = time.perf_counter() - started
    finally:
        session.close()
    if got != size:
        raise BenchError(f"proxy check: RETR {path} read {got} bytes, expected {size}")
    return size / seconds / 1e6


def self_check(processes, run_dir, server, proxy, check_file, check_size):
    """The proxy's figures for the report: idle RTT through it, and its throughput at --rtt 0."""
    check = dict(rtt_asked_ms=proxy.rtt_ms, loopback=measure_round_trip_ms(server))
    check["through_proxy"] = measure_round_trip_ms(proxy.endpoint)
    added = check["through_proxy"]["median_ms"] - check["loopback"]["median_ms"]
    check["added_ms"] = added
    check["rtt_ok"] = abs(check["through_proxy"]["median_ms"] - proxy.rtt_ms) <= RTT_TOLERANCE_MS
    zero = DelayProxy(processes, run_dir, server, 0, name="proxy-rtt0")
    try:
        check["rtt0_MBps"] = retr_throughput(zero.endpoint, check_file, check_size)
    finally:
        zero.stop()
    check["direct_MBps"] = retr_throughput(server, check_file, check_size)
    check["file_size"] = check_size
    log(f"proxy self-check: idle round trip {check['through_proxy']['median_ms']:.2f} ms (asked "
        f"{proxy.rtt_ms:g} ms), at --rtt 0 it carries {check['rtt0_MBps']:,.0f} MB/s on one connection "
        f"(vsftpd straight: {check['direct_MBps']:,.0f} MB/s)")
    return check


def default_window():
    """What one connection may have in flight each way: 6 MiB, the maximum of Linux's default
    net.ipv4.tcp_rmem, so runs on machines with other settings compare (--window changes it)."""
    return DEFAULT_WINDOW
