#!/usr/bin/python3
"""ftpfs benchmark: ftpfs against direct FTP (curl) on the same vsftpd, in one run.

Run it through scripts/bench.sh (as root). See `scripts/bench.sh --help`.

What it does:
  1. starts vsftpd on 127.0.0.1 (a free port) with a generated config (as the test harness
     does: Tests/TestSupport/FTPTestServer+Vsftpd.swift), logging in as the local account
     `ftpfsbench` (created if missing), serving a generated data set under
     /tmp/ftpfs-bench/run-*/root;
  2. for each workload W1..W6, measures the direct baseline (curl, one process per transfer,
     plus the extra baselines named in the table) and then ftpfs on a fresh mount
     (`ftpfs -f -o auto_unmount,... URL MNT`, password in $FTPFS_PASSWORD), dropping the
     page cache before each measured run; reads peak RSS (VmHWM) and CPU time of that ftpfs
     process right before unmounting;
  3. checks every result (byte counts, sampled blocks, sha256 of what landed on the server's
     disk), prints one table, optionally writes JSON (Benchmarks/compare.py compares runs).

Every child runs in its own session with a deadline; the driver never touches a mount itself
(a hung ftpfs would hang it); Ctrl-C kills the readers, unmounts, stops vsftpd, removes the
temp dir.

Only the Python standard library; Debian's /usr/bin/python3.
"""
import argparse
import datetime
import ftplib
import hashlib
import io
import json
import os
import pwd
import random
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
BENCH_BASE = "/tmp/ftpfs-bench"
VSFTPD = "/usr/sbin/vsftpd"
PYTHON = "/usr/bin/python3"
# A system account of its own (created on first use, shell /usr/sbin/nologin), so that the
# password hash, which decides what a login costs, is the benchmark's choice (--password-hash)
# and tests running meanwhile (which reset their own account `ftpfstest`) cannot change it.
# The PAM service is the test harness's (Tests/TestSupport/FTPTestServer+Vsftpd.swift): plain
# pam_unix without pam_shells, /etc/ftpusers or a delay after a wrong password.
FTP_USER = "ftpfsbench"
FTP_PASSWORD = "ftpfs-bench-pw-42"
PAM_SERVICE = "ftpfs-test"
PAM_CONTENT = """\
# PAM service of the vsftpd that ftpfs's tests and benchmark start (written by
# Tests/TestSupport or Benchmarks/bench.py; safe to delete). Unlike /etc/pam.d/vsftpd
# it has no pam_shells and no /etc/ftpusers check, so the test account can keep
# /usr/sbin/nologin as its shell, and no delay after a wrong password.
auth     required  pam_unix.so nodelay
account  required  pam_unix.so
session  required  pam_unix.so
"""

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
WORKLOADS = ["W1", "W2", "W3", "W4", "W5", "W6"]
FULL = dict(big_size=GiB, write_size=512 * MiB, tree_files=10000, tree_dirs=100, small_files=1000,
            random_reads=2000, create_files=500, parallel=8)
QUICK = dict(big_size=64 * MiB, write_size=32 * MiB, tree_files=1000, tree_dirs=10, small_files=100,
             random_reads=200, create_files=50, parallel=8)
SMALL_MIN, SMALL_MAX = 4 * KiB, 64 * KiB
READ_SIZE = 4 * KiB
REREAD_PASSES = 3  # W5 re-reads (and the local page-cache baseline): the best of these passes
CREATE_SIZE = 8 * KiB
RSS_LIMIT_KIB = 64 * 1024


class BenchError(Exception):
    """A workload (or the setup) failed: reported, not a crash."""


class Interrupted(BaseException):
    pass


def log(message):
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_size(text):
    units = {"": 1, "K": KiB, "M": MiB, "G": GiB, "T": 1 << 40}
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    number, unit = (t[:-1], t[-1]) if t and t[-1] in "KMGT" else (t, "")
    try:
        value = int(float(number) * units[unit])
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 1G, 512M, 4096)")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"size must be positive: {text!r}")
    return value


def human_size(n):
    for unit, size in (("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if n >= size:
            value = n / size
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n} B"


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(4 * MiB):
            digest.update(chunk)
    return digest.hexdigest()


def unescape_mountinfo(field):
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 3 < len(field) and field[i + 1:i + 4].isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mount_points():
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 4:
                points.append(unescape_mountinfo(fields[4]))
    return points


def is_mounted(path):
    """Whether path (already absolute and free of symlinks) is a mount point. Never touches the
    path itself: a stat() on a hung FUSE mount would hang the driver too."""
    return path in mount_points()


class Runner:
    def __init__(self, args):
        self.args = args
        self.children = {}          # pid -> Popen, every process we started and may have to kill
        self.mounts = []            # live Mount objects
        self.rows = []
        self.failures = []
        self.notes = []
        self.server = None
        self.run_dir = None
        self.drop_caches_works = True
        self.ftpfs = None
        self._program_files = None
        self.repetition = 1
        self.load_before = self.load_after = "?"
        self.started = time.time()

    # ----- processes --------------------------------------------------------------------

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

    def run(self, argv, timeout, what, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            count_stdout=False, env=None, check=True):
        """Runs argv in its own session with a deadline. Returns (seconds, stdout bytes or
        byte count, stderr text, exit status). On timeout the process group is killed."""
        with tempfile.TemporaryFile() as err:
            started = time.perf_counter()
            process = self.spawn(argv, stdin=stdin, stdout=subprocess.PIPE if stdout is None or count_stdout
                                 else stdout, stderr=err, env=env)
            output = b""
            counted = 0
            try:
                if count_stdout:
                    deadline = time.monotonic() + timeout
                    fd = process.stdout.fileno()
                    poller = select.poll()
                    poller.register(fd, select.POLLIN)
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
            return elapsed, (counted if count_stdout else output), error_text, process.returncode

    # ----- system -----------------------------------------------------------------------

    def drop_caches(self):
        """sync this file system, then drop the page cache (and dentries/inodes)."""
        self.run(["sync", "-f", self.run_dir], 300, "sync")
        if not self.drop_caches_works:
            return
        try:
            with open("/proc/sys/vm/drop_caches", "w") as f:
                f.write("3\n")
        except OSError as error:
            self.drop_caches_works = False
            self.notes.append(f"could not drop the page cache ({error}): cold figures may be warm")

    def warm_server(self, paths):
        """With --server-cache warm (default), read what the server will serve back into the
        page cache, so both sides measure FTP and FUSE, not this machine's disk."""
        if self.args.server_cache != "warm":
            return
        for path in paths:
            if os.path.isdir(path):
                for directory, _, files in os.walk(path):
                    for name in files:
                        self._read_all(os.path.join(directory, name))
            else:
                self._read_all(path)

    @staticmethod
    def _read_all(path):
        with open(path, "rb", buffering=0) as f:
            while f.read(4 * MiB):
                pass

    def cold(self, *server_paths):
        """Before a measured run: drop the page cache (so ftpfs and the direct client start cold),
        then read back what must not count: the server's files (--server-cache warm) and the
        programs both sides run, with their libraries (else the first ls or curl after the drop
        would time this machine's disk)."""
        self.drop_caches()
        self.warm_server(server_paths)
        for path in self.program_files():
            try:
                self._read_all(path)
            except OSError:
                pass

    def program_files(self):
        if self._program_files is None:
            files = set()
            programs = [self.ftpfs, PYTHON] + [shutil.which(name) for name in
                                               ("curl", "ls", "find", "dd", "cp", "cat", "xargs", "sha256sum",
                                                "sync", "fusermount3")]
            for program in filter(None, programs):
                files.add(os.path.realpath(program))
                try:
                    out = subprocess.run(["ldd", program], capture_output=True, text=True, timeout=30).stdout
                except (OSError, subprocess.TimeoutExpired):
                    continue
                for line in out.splitlines():
                    for word in line.split():
                        if word.startswith("/"):
                            files.add(os.path.realpath(word))
            files.update(os.path.join(HERE, name) for name in ("randread.py", "createfiles.py"))
            self._program_files = sorted(files)
        return self._program_files

    # ----- FTP server ------------------------------------------------------------------

    def ensure_account(self):
        try:
            pwd.getpwnam(FTP_USER)
        except KeyError:
            result = subprocess.run(["useradd", "--system", "--create-home", "--home-dir", f"/var/lib/{FTP_USER}",
                                     "--shell", "/usr/sbin/nologin", "--comment", "ftpfs benchmark FTP account",
                                     FTP_USER], capture_output=True, text=True, timeout=60)
            try:
                pwd.getpwnam(FTP_USER)
            except KeyError:
                raise BenchError(f"useradd {FTP_USER} failed: {result.stderr.strip()}")
        home = pwd.getpwnam(FTP_USER).pw_dir
        if not os.path.isdir(home):
            os.makedirs(home, exist_ok=True)
            shutil.chown(home, FTP_USER)
        if self.args.password_hash == "sha512":
            # SHA-512 crypt, glibc's default 5000 rounds; the password goes through stdin only
            hashed = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=FTP_PASSWORD, capture_output=True,
                                    text=True, timeout=60, check=True).stdout.strip()
            chpasswd = (["chpasswd", "-e"], f"{FTP_USER}:{hashed}\n")
        else:  # what Debian 12's chpasswd (through PAM) makes by default
            chpasswd = (["chpasswd"], f"{FTP_USER}:{FTP_PASSWORD}\n")
        for _ in range(20):  # chpasswd fails while someone else holds /etc/shadow's lock
            result = subprocess.run(chpasswd[0], input=chpasswd[1], capture_output=True, text=True, timeout=60)
            if result.returncode == 0:
                break
            time.sleep(0.2)
        else:
            raise BenchError(f"chpasswd failed: {result.stderr.strip()}")
        path = f"/etc/pam.d/{PAM_SERVICE}"
        try:
            with open(path) as f:
                current = f.read()
        except FileNotFoundError:
            current = ""
        if "pam_unix.so nodelay" not in current:  # the test harness's file is as good as ours
            temporary = f"{path}.tmp-{os.getpid()}"
            with open(temporary, "w") as f:
                f.write(PAM_CONTENT)
            os.chmod(temporary, 0o644)
            os.rename(temporary, path)

    def start_server(self):
        self.ensure_account()
        empty = os.path.join(self.run_dir, "vsftpd-empty")
        os.mkdir(empty)
        os.chmod(empty, 0o555)
        config_path = os.path.join(self.run_dir, "vsftpd.conf")
        log_path = os.path.join(self.run_dir, "vsftpd.log")
        out_path = os.path.join(self.run_dir, "vsftpd.out")
        for attempt in range(5):
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            lines = [
                "# Generated by ftpfs's Benchmarks/bench.py for one benchmark run.",
                "background=NO", f"listen_port={port}", "listen=YES", "listen_ipv6=NO",
                "listen_address=127.0.0.1",
                "anonymous_enable=NO", "local_enable=YES", "write_enable=YES", f"local_root={self.root}",
                "chroot_local_user=YES", "allow_writeable_chroot=YES", "local_umask=022",
                f"pam_service_name={PAM_SERVICE}", "userlist_enable=NO",
                f"secure_chroot_dir={empty}",
                f"xferlog_enable={'YES' if self.args.server_log else 'NO'}", "xferlog_std_format=NO",
                f"log_ftp_protocol={'YES' if self.args.server_log else 'NO'}",
                f"vsftpd_log_file={log_path}", "syslog_enable=NO", "dual_log_enable=NO",
                "seccomp_sandbox=NO", "isolate=NO", "isolate_network=NO",
                "pasv_enable=YES", "port_enable=YES", "connect_from_port_20=NO",
                "utf8_filesystem=YES", "dirmessage_enable=NO", "use_localtime=NO", "force_dot_files=NO",
                "max_per_ip=0", "max_clients=0", "delay_failed_login=0",
                "ftpd_banner=ftpfs benchmark server (vsftpd) ready.",
            ]
            with open(config_path, "w") as f:
                f.write("\n".join(lines) + "\n")
            os.chmod(config_path, 0o600)
            with open(out_path, "wb") as out:
                process = self.spawn([VSFTPD, config_path], stdin=subprocess.DEVNULL, stdout=out, stderr=out)
            deadline = time.monotonic() + 20
            greeting = None
            while time.monotonic() < deadline and process.poll() is None:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                        greeting = s.recv(512).decode(errors="replace")
                        s.sendall(b"QUIT\r\n")
                    break
                except OSError:
                    time.sleep(0.05)
            if greeting and greeting.startswith("220"):
                self.server = process
                self.port = port
                self.url = f"ftp://{FTP_USER}@127.0.0.1:{port}/"
                self.curl_base = f"ftp://127.0.0.1:{port}/"
                break
            self.kill_group(process, signal.SIGTERM)
            self.reap(process, 5)
            with open(out_path, errors="replace") as f:
                output = f.read()
            if "could not bind" in output and attempt < 4:
                continue
            raise BenchError(f"vsftpd did not start (greeting {greeting!r}):\n{output[-1000:]}")
        # netrc for curl, so the password is not in any argv
        self.netrc = os.path.join(self.run_dir, "netrc")
        with open(os.open(self.netrc, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(f"machine 127.0.0.1 login {FTP_USER} password {FTP_PASSWORD}\n")
        # fail fast on a bad login; and what a login costs here (connect, greeting, USER, PASS)
        times = []
        for _ in range(5):
            try:
                with ftplib.FTP() as ftp:
                    started = time.perf_counter()
                    ftp.connect("127.0.0.1", self.port, timeout=10)
                    ftp.login(FTP_USER, FTP_PASSWORD)
                    times.append(time.perf_counter() - started)
            except ftplib.all_errors as error:
                raise BenchError(f"cannot log in to the benchmark vsftpd as {FTP_USER}: {error}")
        self.login_ms = sorted(times)[len(times) // 2] * 1e3
        log(f"vsftpd on 127.0.0.1:{self.port}, serving {self.root}")

    def stop_server(self):
        if self.server is not None:
            self.kill_group(self.server, signal.SIGTERM)
            self.reap(self.server, 10)
            self.server = None

    def curl(self, *extra):
        return ["curl", "-sS", "--netrc-file", self.netrc, *extra]

    # ----- data set -------------------------------------------------------------------

    def generate(self):
        a, wanted = self.args, self.selected
        rng = random.Random(a.seed)
        self.root = os.path.join(self.run_dir, "root")
        self.local = os.path.join(self.run_dir, "local")
        os.makedirs(self.root)
        os.makedirs(self.local)
        started = time.monotonic()
        self.big = os.path.join(self.root, "big.bin")
        if {"W1", "W5"} & wanted:
            self._random_file(self.big, a.big_size)
        if "W2" in wanted:
            self.write_src = os.path.join(self.local, "write.bin")
            self.write_sha = self._random_file(self.write_src, a.write_size)
            os.makedirs(os.path.join(self.root, "upload"))
        if "W3" in wanted:
            self.tree = os.path.join(self.root, "tree")
            for d in range(a.tree_dirs):
                os.makedirs(os.path.join(self.tree, f"d{d:04d}"))
            for i in range(a.tree_files):
                path = os.path.join(self.tree, f"d{i % a.tree_dirs:04d}", f"file-{i:06d}.txt")
                with open(path, "wb") as f:
                    f.write(b"x" * rng.randrange(0, 2048))
        if "W4" in wanted:
            self.small = os.path.join(self.root, "small")
            os.makedirs(self.small)
            self.small_names, self.small_total = [], 0
            for i in range(a.small_files):
                name = f"small-{i:05d}.bin"
                size = rng.randrange(SMALL_MIN, SMALL_MAX + 1)
                with open(os.path.join(self.small, name), "wb") as f:
                    f.write(os.urandom(size))
                self.small_names.append(name)
                self.small_total += size
        if "W6" in wanted:
            self.create_src = os.path.join(self.local, "create")
            os.makedirs(self.create_src)
            for i in range(a.create_files):
                with open(os.path.join(self.create_src, f"new-{i:05d}.bin"), "wb") as f:
                    f.write(os.urandom(CREATE_SIZE))
        # vsftpd's local user must own (and be able to write) everything it serves
        self.run(["chown", "-R", "--no-dereference", f"{FTP_USER}:", self.root], 600, "chown")
        log(f"data set generated in {time.monotonic() - started:.1f} s")

    @staticmethod
    def _random_file(path, size):
        digest = hashlib.sha256()
        with open(path, "wb") as f:
            left = size
            while left:
                chunk = os.urandom(min(left, 4 * MiB))
                digest.update(chunk)
                f.write(chunk)
                left -= len(chunk)
        return digest.hexdigest()

    # ----- ftpfs mounts ---------------------------------------------------------------

    def mount(self, name):
        mount = Mount(self, name if self.args.repeat == 1 else f"{name}-r{self.repetition}")
        mount.start()
        return mount

    # ----- results --------------------------------------------------------------------

    def row(self, workload, label, unit, ftpfs, direct, baseline, higher_better, target=None, mount=None,
            extra=None):
        """One measurement of one repetition. target: None (for information), {"ratio": MIN} (the ratio
        column), plus "rss_kib": LIMIT (peak RSS below it), or {"speedup_over": LABEL, "min": X} (the
        row LABEL's ftpfs time ÷ this row's ftpfs time ≥ X)."""
        self.rows.append(dict(workload=workload, label=label, unit=unit, ftpfs=ftpfs, direct=direct,
                              baseline=baseline, higher_is_better=higher_better, target=target,
                              peak_rss_kib=mount.peak_rss_kib if mount else None,
                              ftpfs_cpu_s=mount.cpu_seconds if mount else None,
                              ftpfs_exit_s=mount.exit_seconds if mount else None, extra=extra or {},
                              repetition=self.repetition))

    def fail(self, workload, message):
        self.failures.append((workload, message))
        self.rows.append(dict(workload=workload, label="FAILED", error=message, repetition=self.repetition))
        log(f"{workload} FAILED: {message}")

    def results(self):
        """The rows of every repetition merged: medians of ftpfs and direct, the highest peak RSS; then
        the ratio and the target, evaluated on the medians."""
        merged, order = {}, []
        for row in self.rows:
            if "error" in row:
                continue
            key = (row["workload"], row["label"])
            if key not in merged:
                merged[key] = []
                order.append(key)
            merged[key].append(row)
        out = []
        by_label = {}
        for key in order:
            rows = merged[key]
            first = dict(rows[0])
            first["repetitions"] = len(rows)
            for field in ("ftpfs", "direct", "ftpfs_cpu_s"):
                values = [r[field] for r in rows if r[field] is not None]
                first[field] = sorted(values)[(len(values) - 1) // 2] if values else None  # lower median
                if len(rows) > 1:
                    first[field + "_all"] = [r[field] for r in rows]
            rss = [r["peak_rss_kib"] for r in rows if r["peak_rss_kib"] is not None]
            first["peak_rss_kib"] = max(rss) if rss else None
            first.pop("repetition", None)
            f, d = first["ftpfs"], first["direct"]
            first["ratio"] = None
            if f and d and f > 0 and d > 0:
                first["ratio"] = f / d if first["higher_is_better"] else d / f
            by_label[key[1]] = first
            out.append(first)
        for row in out:
            row["target_text"], row["target_met"] = evaluate_target(row, by_label)
        return out

    # ----- the run --------------------------------------------------------------------

    def main(self):
        a = self.args
        self.selected = set(a.only)
        os.makedirs(BENCH_BASE, exist_ok=True)
        os.chmod(BENCH_BASE, 0o755)
        self.run_dir = os.path.realpath(tempfile.mkdtemp(prefix="run-", dir=BENCH_BASE))
        os.chmod(self.run_dir, 0o755)  # vsftpd's user must traverse it to reach the root
        log(f"working in {self.run_dir}")
        self.ftpfs = self.find_ftpfs()
        self.generate()
        self.start_server()
        self.load_before = loadavg()
        for self.repetition in range(1, a.repeat + 1):
            for workload in WORKLOADS:
                if workload not in self.selected:
                    continue
                log(f"--- {workload}" + (f" (repetition {self.repetition} of {a.repeat})" if a.repeat > 1 else ""))
                try:
                    getattr(self, "workload_" + workload.lower())()
                except BenchError as error:
                    self.fail(workload, str(error))
                finally:
                    for mount in list(self.mounts):
                        mount.unmount()
        self.load_after = loadavg()

    def find_ftpfs(self):
        if self.args.ftpfs:
            path = os.path.abspath(self.args.ftpfs)
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
            self.ftpfs_version = subprocess.run([path, "--version"], capture_output=True, text=True,
                                                timeout=20).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            self.ftpfs_version = "?"
        return path

    def cleanup(self):
        # first whatever still uses the mounts, then the mounts, then the server
        busy = set(id(m.process) for m in self.mounts) | {id(self.server)}
        for process in list(self.children.values()):
            if id(process) not in busy:
                self.kill_group(process)
                self.reap(process, 10)
        for mount in list(self.mounts):
            mount.unmount()
        self.stop_server()
        for process in list(self.children.values()):
            self.kill_group(process)
            self.reap(process, 10)
        if self.run_dir and os.path.isdir(self.run_dir):
            if any(p == self.run_dir or p.startswith(self.run_dir + "/") for p in mount_points()):
                log(f"warning: something is still mounted under {self.run_dir}; not removing it")
            elif self.args.keep:
                log(f"kept {self.run_dir}")
            else:
                shutil.rmtree(self.run_dir, ignore_errors=True)

    # ===== workloads ====================================================================

    def timeout_bytes(self, size):
        return self.args.timeout + size / (2 * 1000 * 1000)  # plus 2 MB/s

    def timeout_ops(self, count):
        return self.args.timeout + count * 0.5

    def check_blocks(self, mount, path, reference, size, count, what):
        """Untimed sanity check: a few random blocks read through the mount equal the server's file."""
        total = os.path.getsize(reference)
        rng = random.Random(self.args.seed + 7)
        offsets = [rng.randrange(0, max(1, total - size + 1)) for _ in range(count)]
        offsets_file = os.path.join(self.run_dir, f"check-{mount.name}.txt")
        with open(offsets_file, "w") as f:
            f.write("\n".join(map(str, offsets)) + "\n")
        _, out, _, _ = self.run([PYTHON, os.path.join(HERE, "randread.py"), path, offsets_file, str(size), "1",
                                 reference], self.args.timeout, f"{what} data check", stdout=None)
        result = json.loads(out)
        if result["mismatches"] or result["short_reads"]:
            raise BenchError(f"{what}: WRONG DATA through ftpfs: {result['mismatches']} of {count} "
                             f"sampled blocks differ from the server's file, {result['short_reads']} short reads")

    # W1: sequential read of the big file
    def workload_w1(self):
        size = self.args.big_size
        self.cold(self.big)
        seconds, out, _, _ = self.run(self.curl("-o", "/dev/null", "-w", "%{size_download}",
                                                self.curl_base + "big.bin"),
                                      self.timeout_bytes(size), "W1 direct curl", stdout=None)
        if int(out or 0) != size:
            raise BenchError(f"W1 direct: curl downloaded {out!r} bytes, expected {size}")
        direct = size / seconds / 1e6

        self.cold(self.big)
        mount = self.mount("w1")
        seconds, _, err, _ = self.run(["dd", f"if={mount.path('big.bin')}", "of=/dev/null", "bs=1M"],
                                      self.timeout_bytes(size), "W1 ftpfs dd")
        copied = next((line.split()[0] for line in err.splitlines() if "bytes" in line and "copied" in line), "?")
        if copied != str(size):
            raise BenchError(f"W1 ftpfs: dd read {copied} bytes, expected {size}:\n{err.strip()}")
        ftpfs = size / seconds / 1e6
        self.check_blocks(mount, mount.path("big.bin"), self.big, MiB, 8, "W1")
        mount.unmount()
        self.row("W1", f"sequential read {human_size(size)} (dd bs=1M)", "MB/s", ftpfs, direct, "curl", True,
                 {"ratio": 0.8, "rss_kib": RSS_LIMIT_KIB}, mount)

    # W2: cp of a local file onto the mount, including close; sha256 on the server's disk
    def workload_w2(self):
        size = self.args.write_size
        upload = os.path.join(self.root, "upload")
        r = self.repetition
        target = os.path.join(upload, f"w2-direct-{r}.bin")
        self.cold(self.write_src)
        seconds, _, _, _ = self.run(self.curl("-T", self.write_src, self.curl_base + f"upload/w2-direct-{r}.bin"),
                                    self.timeout_bytes(size), "W2 direct curl -T")
        self.verify_upload(target, "W2 direct")
        direct = size / seconds / 1e6
        os.unlink(target)

        target = os.path.join(upload, f"w2-ftpfs-{r}.bin")
        self.cold(self.write_src)
        mount = self.mount("w2")
        seconds, _, _, _ = self.run(["cp", self.write_src, mount.path(f"upload/w2-ftpfs-{r}.bin")],
                                    self.timeout_bytes(size), "W2 ftpfs cp")
        ftpfs = size / seconds / 1e6
        self.verify_upload(target, "W2 ftpfs")
        mount.unmount()
        if not self.args.keep:
            os.unlink(target)
        self.row("W2", f"cp {human_size(size)} onto the mount, incl. close", "MB/s", ftpfs, direct,
                 "curl -T", True, {"ratio": 0.8, "rss_kib": RSS_LIMIT_KIB}, mount, {"sha256_verified": True})

    def verify_upload(self, path, what):
        if not os.path.exists(path):
            raise BenchError(f"{what}: {path} is not on the server's disk after the copy finished")
        actual = sha256_file(path)
        if actual != self.write_sha:
            raise BenchError(f"{what}: WRONG DATA on the server: sha256 {actual} (size {os.path.getsize(path)}), "
                             f"expected {self.write_sha} (size {self.args.write_size})")

    # W3: ls -lR and find over the tree, cold (fresh mount) and warm (again)
    def workload_w3(self):
        a = self.args
        # direct, one connection: ftplib, one login, LIST per directory (the ratio's baseline)
        self.cold(self.tree)
        started = time.perf_counter()
        entries = self.ftplib_walk("tree")
        walk1 = time.perf_counter() - started
        if entries != a.tree_files + a.tree_dirs:
            raise BenchError(f"W3 direct LIST walk saw {entries} entries, expected {a.tree_files + a.tree_dirs}")
        # direct, curl: one process (login) per directory
        self.cold(self.tree)
        started = time.perf_counter()
        entries = self.curl_walk("tree/")
        walk_curl = time.perf_counter() - started
        if entries != a.tree_files + a.tree_dirs:
            raise BenchError(f"W3 direct curl walk saw {entries} entries, expected {a.tree_files + a.tree_dirs}")

        expected_find = a.tree_files + a.tree_dirs + 1
        for tool in ("ls -lR", "find"):
            self.cold(self.tree)
            mount = self.mount("w3-" + tool.split()[0])
            path = mount.path("tree")
            argv = ["ls", "-lR", path] if tool == "ls -lR" else ["find", path]
            env = dict(os.environ, LC_ALL="C")
            timeout = self.timeout_ops(a.tree_files)
            cold_s, out, _, _ = self.run(argv, timeout, f"W3 ftpfs {tool} (cold)", stdout=None, env=env)
            cold_n = self.count_tree_output(tool, out)
            warm_s, out, _, _ = self.run(argv, timeout, f"W3 ftpfs {tool} (warm)", stdout=None, env=env)
            warm_n = self.count_tree_output(tool, out)
            mount.unmount()
            want = a.tree_files if tool == "ls -lR" else expected_find
            if cold_n != want or warm_n != want:
                raise BenchError(f"W3 ftpfs {tool}: saw {cold_n} (cold) and {warm_n} (warm) entries, expected {want}")
            extra = {"direct_curl_per_dir_s": walk_curl}
            cold_label = f"{tool} {a.tree_files} files/{a.tree_dirs} dirs, cold"
            self.row("W3", cold_label, "s", cold_s, walk1, "LIST walk, 1 conn", False, {"ratio": 0.5}, mount, extra)
            self.row("W3", f"{tool}, warm (same mount again)", "s", warm_s, walk1, "LIST walk, 1 conn", False,
                     {"speedup_over": cold_label, "min": 3}, mount, extra)
            self.row("W3", f"{tool}, cold vs curl per directory", "s", cold_s, walk_curl, "curl/dir (info)",
                     False, None, mount, extra)

    @staticmethod
    def count_tree_output(tool, out):
        lines = out.decode(errors="replace").splitlines()
        if tool == "find":
            return len(lines)
        return sum(1 for line in lines if line.startswith("-"))  # regular files in ls -lR

    def ftplib_walk(self, top):
        count = 0
        with ftplib.FTP() as ftp:
            ftp.connect("127.0.0.1", self.port, timeout=30)
            ftp.login(FTP_USER, FTP_PASSWORD)
            pending = [top]
            while pending:
                directory = pending.pop()
                lines = []
                ftp.retrlines(f"LIST {directory}", lines.append)
                for name, is_directory in self.list_entries(lines):
                    count += 1
                    if is_directory:
                        pending.append(f"{directory}/{name}")
        return count

    @staticmethod
    def list_entries(lines):
        """(name, is a directory) for each entry of a Unix LIST, without . and .."""
        for line in lines:
            parts = line.split(None, 8)
            if len(parts) == 9 and parts[8] not in (".", ".."):
                yield parts[8], line.startswith("d")

    def curl_walk(self, top):
        count = 0
        pending = [top]
        while pending:
            directory = pending.pop()
            _, out, _, _ = self.run(self.curl(self.curl_base + directory), 120, "W3 curl LIST", stdout=None)
            for name, is_directory in self.list_entries(out.decode(errors="replace").splitlines()):
                count += 1
                if is_directory:
                    pending.append(f"{directory}{name}/")
        return count

    # W4: read many small files, one at a time and N in parallel
    def workload_w4(self):
        a = self.args
        n, p = len(self.small_names), a.parallel
        urls = os.path.join(self.run_dir, "w4-urls.txt")
        with open(urls, "w") as f:
            f.write("".join(f"{self.curl_base}small/{name}\n" for name in self.small_names))
        results = {}
        for jobs in sorted({1, p}):
            self.cold(self.small)
            seconds, counted, _, _ = self.run(
                ["xargs", "-d", "\\n", "-a", urls, "-n", "1", "-P", str(jobs), *self.curl()],
                self.timeout_ops(n), f"W4 direct curl -P{jobs}", count_stdout=True)
            if counted != self.small_total:
                raise BenchError(f"W4 direct -P{jobs}: read {counted} bytes, expected {self.small_total}")
            direct = n / seconds

            self.cold(self.small)
            mount = self.mount(f"w4-p{jobs}")
            paths = os.path.join(self.run_dir, f"w4-paths-{jobs}.txt")
            with open(paths, "w") as f:
                f.write("".join(mount.path(f"small/{name}") + "\n" for name in self.small_names))
            seconds, counted, _, _ = self.run(["xargs", "-d", "\\n", "-a", paths, "-n", "1", "-P", str(jobs), "cat"],
                                              self.timeout_ops(n), f"W4 ftpfs cat -P{jobs}", count_stdout=True)
            if counted != self.small_total:
                raise BenchError(f"W4 ftpfs -P{jobs}: read {counted} bytes through the mount, "
                                 f"expected {self.small_total}")
            self.check_small_files(mount)
            mount.unmount()
            results[jobs] = (n / seconds, direct, mount)
        ftpfs, direct, mount = results[1]
        self.row("W4", f"read {n} files of 4-64 KiB, one at a time", "files/s", ftpfs, direct, "curl per file",
                 True, None, mount)
        ftpfs, direct, mount = results[p]
        self.row("W4", f"read {n} files of 4-64 KiB, {p} in parallel", "files/s", ftpfs, direct,
                 f"curl per file, -P{p}", True, {"ratio": 1.0}, mount)

    def check_small_files(self, mount):
        rng = random.Random(self.args.seed + 11)
        for name in rng.sample(self.small_names, min(5, len(self.small_names))):
            _, out, _, _ = self.run(["sha256sum", mount.path(f"small/{name}")], self.args.timeout, "W4 data check",
                                    stdout=None)
            if out.split()[0].decode() != sha256_file(os.path.join(self.small, name)):
                raise BenchError(f"W4: WRONG DATA through ftpfs in small/{name}")

    # W5: random 4 KiB reads in the big file
    def workload_w5(self):
        a = self.args
        size, n = a.big_size, a.random_reads
        if size < READ_SIZE:
            raise BenchError("W5 needs --big-size of at least 4 KiB")
        rng = random.Random(a.seed + 5)
        offsets = [rng.randrange(0, size // READ_SIZE) * READ_SIZE for _ in range(n)]
        offsets_file = os.path.join(self.run_dir, "w5-offsets.txt")
        with open(offsets_file, "w") as f:
            f.write("\n".join(map(str, offsets)) + "\n")

        # direct: one curl (login, REST, RETR) per read
        self.cold(self.big)
        latencies = []
        wrong = 0
        with open(self.big, "rb") as reference:
            started = time.perf_counter()
            for offset in offsets:
                seconds, out, _, _ = self.run(
                    self.curl("-r", f"{offset}-{offset + READ_SIZE - 1}", self.curl_base + "big.bin"),
                    60, "W5 direct curl -r", stdout=None)
                latencies.append(seconds)
                if out != os.pread(reference.fileno(), READ_SIZE, offset):
                    wrong += 1
            direct_total = time.perf_counter() - started
        if wrong:
            raise BenchError(f"W5 direct: {wrong} of {n} curl range reads returned wrong data")
        direct = dict(iops=n / direct_total, p50=percentile(latencies, 50), p99=percentile(latencies, 99))

        # the page cache itself: the same reads on the server's file (warm)
        self._read_all(self.big)
        _, out, _, _ = self.run([PYTHON, os.path.join(HERE, "randread.py"), self.big, offsets_file,
                                 str(READ_SIZE), str(1 + REREAD_PASSES)], a.timeout, "W5 local page cache",
                                stdout=None)
        local = min(json.loads(out)["passes"][1:], key=lambda p: p["total_s"])  # the best: least disturbed

        # ftpfs: fresh mount, one fd, os.pread at each offset, then the same offsets again
        self.cold(self.big)
        mount = self.mount("w5")
        _, out, _, _ = self.run([PYTHON, os.path.join(HERE, "randread.py"), mount.path("big.bin"), offsets_file,
                                 str(READ_SIZE), str(1 + REREAD_PASSES), self.big], self.timeout_ops(n),
                                "W5 ftpfs pread", stdout=None)
        mount.unmount()
        result = json.loads(out)
        if result["mismatches"] or result["short_reads"]:
            raise BenchError(f"W5 ftpfs: WRONG DATA: {result['mismatches']} blocks differ from the server's file, "
                             f"{result['short_reads']} short reads")
        cold = result["passes"][0]
        warm = min(result["passes"][1:], key=lambda p: p["total_s"])
        extra_passes = [n / p["total_s"] for p in result["passes"][1:]]
        cold_lat, warm_lat = cold["latencies_s"], warm["latencies_s"]
        ftpfs_iops = n / cold["total_s"]
        extra = {"open_s": result["open_s"], "reread_iops_each_pass": extra_passes}
        self.row("W5", f"{n} random 4 KiB reads, cold: IOPS", "IOPS", ftpfs_iops, direct["iops"],
                 "curl -r (REST+RETR)", True, {"ratio": 0.8}, mount, extra)
        self.row("W5", "  cold: p50 latency", "ms", percentile(cold_lat, 50) * 1e3, direct["p50"] * 1e3,
                 "curl -r (REST+RETR)", False, None, mount)
        self.row("W5", "  cold: p99 latency", "ms", percentile(cold_lat, 99) * 1e3, direct["p99"] * 1e3,
                 "curl -r (REST+RETR)", False, None, mount)
        warm_iops = n / warm["total_s"]
        local_iops = len(offsets) / local["total_s"]
        self.row("W5", "  re-read same offsets: IOPS", "IOPS", warm_iops, local_iops, "local page cache", True,
                 {"ratio": 0.5, "note": "page cache"}, mount,
                 {"p50_ms": percentile(warm_lat, 50) * 1e3, "p99_ms": percentile(warm_lat, 99) * 1e3,
                  "local_p50_ms": percentile(local["latencies_s"], 50) * 1e3})

    # W6: create many 8 KiB files, verified on the server's disk
    def workload_w6(self):
        a = self.args
        names = sorted(os.listdir(self.create_src))
        n = len(names)
        r = self.repetition
        for directory in (f"create-direct-{r}", f"create-direct1-{r}", f"create-ftpfs-{r}"):
            os.mkdir(os.path.join(self.root, directory))
            shutil.chown(os.path.join(self.root, directory), FTP_USER, FTP_USER)
        # direct: one curl (login, STOR) per file
        self.cold(self.create_src)
        started = time.perf_counter()
        for name in names:
            self.run(self.curl("-T", os.path.join(self.create_src, name), f"{self.curl_base}create-direct-{r}/{name}"),
                     60, "W6 direct curl -T")
        direct = n / (time.perf_counter() - started)
        self.verify_created(f"create-direct-{r}", names, "W6 direct")
        # direct, one connection for all files: ftplib, one login, STOR per file. (Not one curl with
        # many -T: curl 7.88 reusing its FTP connection stalls 1 s before some data connections.)
        self.cold(self.create_src)
        contents = []
        for name in names:
            with open(os.path.join(self.create_src, name), "rb") as f:
                contents.append(f.read())
        started = time.perf_counter()
        try:
            with ftplib.FTP() as ftp:
                ftp.connect("127.0.0.1", self.port, timeout=30)
                ftp.login(FTP_USER, FTP_PASSWORD)
                for name, data in zip(names, contents):
                    ftp.storbinary(f"STOR create-direct1-{r}/{name}", io.BytesIO(data))
        except ftplib.all_errors as error:
            raise BenchError(f"W6 direct ftplib STOR: {error}")
        direct1 = n / (time.perf_counter() - started)
        self.verify_created(f"create-direct1-{r}", names, "W6 direct (one connection)")

        # ftpfs: open/write/close each file
        self.cold(self.create_src)
        mount = self.mount("w6")
        _, out, _, _ = self.run([PYTHON, os.path.join(HERE, "createfiles.py"), self.create_src,
                                 mount.path(f"create-ftpfs-{r}")], self.timeout_ops(n), "W6 ftpfs create", stdout=None)
        result = json.loads(out)
        self.verify_created(f"create-ftpfs-{r}", names, "W6 ftpfs")
        mount.unmount()
        ftpfs = n / result["total_s"]
        extra = {"p50_ms": percentile(result["latencies_s"], 50) * 1e3,
                 "p99_ms": percentile(result["latencies_s"], 99) * 1e3}
        self.row("W6", f"create {n} files of 8 KiB, verified", "files/s", ftpfs, direct, "curl per file", True,
                 {"ratio": 1.0}, mount, extra)
        self.row("W6", "  same, vs one connection", "files/s", ftpfs, direct1, "STOR, 1 conn (info)", True,
                 None, mount, extra)

    def verify_created(self, directory, names, what):
        missing, wrong = [], []
        for name in names:
            path = os.path.join(self.root, directory, name)
            if not os.path.exists(path):
                missing.append(name)
            elif sha256_file(path) != sha256_file(os.path.join(self.create_src, name)):
                wrong.append(name)
        if missing or wrong:
            time.sleep(2)
            late = [name for name in missing if os.path.exists(os.path.join(self.root, directory, name))]
            raise BenchError(f"{what}: {len(missing)} of {len(names)} files missing on the server's disk right "
                             f"after close ({len(late)} of them appeared 2 s later), {len(wrong)} with wrong "
                             f"content; e.g. {(missing + wrong)[:3]}")
        extra = set(os.listdir(os.path.join(self.root, directory))) - set(names)
        if extra:
            raise BenchError(f"{what}: unexpected files left on the server: {sorted(extra)[:5]}")

    # ===== report =======================================================================

    def header(self):
        a = self.args
        try:
            commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True,
                                    text=True, timeout=20).stdout.strip()
            dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--", "Sources", "Package.swift"],
                                   capture_output=True, text=True, timeout=20).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            commit, dirty = "?", ""
        return {
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
            "commit": commit + (" + uncommitted changes in Sources/" if dirty else "")
                      + (" (the checkout's; --ftpfs gave the binary)" if a.ftpfs else ""),
            "ftpfs": self.ftpfs, "ftpfs_version": getattr(self, "ftpfs_version", "?"),
            "ftpfs_options": "auto_unmount" + ("," + a.ftpfs_options if a.ftpfs_options else ""),
            "server": f"vsftpd on 127.0.0.1 (LIST only), account {FTP_USER} ({self.args.password_hash} password "
                      f"hash), a login takes {getattr(self, 'login_ms', float('nan')):.1f} ms",
            "server_cache": a.server_cache,
            "page_cache_dropped": self.drop_caches_works,
            "sizes": dict(big_size=a.big_size, write_size=a.write_size, tree_files=a.tree_files,
                          tree_dirs=a.tree_dirs, small_files=a.small_files, random_reads=a.random_reads,
                          create_files=a.create_files, parallel=a.parallel),
            "quick": a.quick, "workloads": sorted(self.selected), "seed": a.seed, "repeat": a.repeat,
            "load_average_before": self.load_before, "load_average_after": self.load_after,
            "machine": f"{os.uname().nodename}, {os.cpu_count()} CPUs, kernel {os.uname().release}",
        }

    def report(self):
        h = self.header()
        a = self.args
        s = h["sizes"]
        cache = ("page cache dropped, then the server's files read back in (the figures measure FTP and FUSE, "
                 "not the disk)" if a.server_cache == "warm" else "page cache dropped; the server reads from disk")
        if not self.drop_caches_works:
            cache = "page cache could NOT be dropped"
        lines = [
            "",
            f"ftpfs benchmark — {h['date']} — commit {h['commit']}",
            f"ftpfs:  {h['ftpfs']} ({h['ftpfs_version']}), -o {h['ftpfs_options']}",
            f"server: {h['server']}; before each measured run: {cache}",
            f"sizes:  big {human_size(s['big_size'])}, write {human_size(s['write_size'])}, "
            f"tree {s['tree_files']} files/{s['tree_dirs']} dirs, small {s['small_files']} × 4-64 KiB, "
            f"random {s['random_reads']} × 4 KiB, create {s['create_files']} × 8 KiB, parallel {s['parallel']}"
            + (" (--quick)" if a.quick else ""),
            f"machine: {h['machine']}; load average {h['load_average_before']} before, {h['load_average_after']} "
            f"after; total run time {time.time() - self.started:.0f} s"
            + (f"; each figure is the median of {a.repeat} repetitions" if a.repeat > 1 else ""),
            "ratio: > 1 means ftpfs is better (rates: ftpfs ÷ direct; times and latencies: direct ÷ ftpfs).",
            "direct: curl, one process (login) per transfer, unless the baseline column says otherwise.",
            "",
        ]
        table = [("workload", "ftpfs", "direct", "baseline (direct)", "ratio", "target", "met", "peak RSS",
                  "ftpfs CPU")]
        results = self.results()
        for row in results:
            met = "" if row["target_met"] is None else ("yes" if row["target_met"] else "MISSED")
            table.append((
                f"{row['workload']} {row['label']}",
                fmt(row["ftpfs"], row["unit"]), fmt(row["direct"], row["unit"]), row["baseline"],
                "-" if row["ratio"] is None else f"{row['ratio']:.2f}",
                row["target_text"], met,
                "-" if row["peak_rss_kib"] is None else f"{row['peak_rss_kib'] / 1024:.1f} MiB",
                "-" if row["ftpfs_cpu_s"] is None else f"{row['ftpfs_cpu_s']:.2f} s",
            ))
        widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
        right = {1, 2, 4, 7, 8}
        for index, r in enumerate(table):
            cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))]
            lines.append(" | ".join(cells).rstrip())
            if index == 0:
                lines.append("-+-".join("-" * w for w in widths))
        lines.append("")
        notes = {
            "W3": "W3: the ratio is against one FTP connection listing every directory (ftplib: one login, LIST "
                  "per directory); 'curl/dir' is one curl process per directory. warm = the same command again "
                  "on the same mount.",
            "W5": f"W5 re-read: the same offsets again on the same open file (best of {REREAD_PASSES} passes), "
                  "against os.pread on the server's own file in the page cache (likewise); 'page-cache speed' "
                  "is taken as ≥ 0.5 of that.",
            "W6": "W6 '1 conn': one FTP connection (ftplib: one login, STOR per file).",
        }
        lines += [text for workload, text in notes.items() if workload in self.selected]
        lines.append("peak RSS: VmHWM of the ftpfs process (a fresh one per mount) just before unmounting; "
                     "ftpfs CPU: its user+system time for the whole mount (all rows of one mount share it).")
        for workload, message in self.failures:
            lines.append(f"FAILED {workload}: {message}")
        for workload in sorted(self.selected):
            if not any(row["workload"] == workload for row in results):
                lines.append(f"{workload}: no result")
        for note in self.notes:
            lines.append(f"note: {note}")
        print("\n".join(lines), flush=True)
        if a.json:
            with open(a.json, "w") as f:
                json.dump({"meta": h, "results": results, "measurements": self.rows,
                           "failures": [dict(workload=w, error=m) for w, m in self.failures],
                           "notes": self.notes, "run_seconds": time.time() - self.started}, f, indent=2)
                f.write("\n")
            log(f"results written to {a.json}")


def evaluate_target(row, by_label):
    """(text for the table, met: True/False/None) of a merged row."""
    target = row.get("target")
    if not target:
        return "", None
    if "speedup_over" in target:
        cold = by_label.get(target["speedup_over"])
        minimum = target["min"]
        if not cold or not cold["ftpfs"] or not row["ftpfs"]:
            return f"cold/warm ≥ {minimum:g}", None
        speedup = cold["ftpfs"] / row["ftpfs"]
        return f"cold/warm ≥ {minimum:g} (is {speedup:.1f})", speedup >= minimum
    minimum = target["ratio"]
    text = f"≥ {minimum:g}"
    if minimum == 0.5 and not row["higher_is_better"]:
        text += " (within 2×)"
    if target.get("note"):
        text += f" ({target['note']})"
    met = row["ratio"] is not None and row["ratio"] >= minimum
    if "rss_kib" in target:
        text += f", RSS < {target['rss_kib'] // 1024} MiB"
        met = met and row["peak_rss_kib"] is not None and row["peak_rss_kib"] < target["rss_kib"]
    return text, (met if row["ratio"] is not None else None)


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def fmt(value, unit):
    if value is None:
        return "-"
    if unit in ("MB/s", "files/s", "IOPS"):
        text = f"{value:,.0f}" if value >= 100 else f"{value:.1f}"
    elif unit == "s":
        text = f"{value:.3f}" if value < 10 else f"{value:.1f}"
    elif unit == "ms":
        text = f"{value:.3f}" if value < 1 else f"{value:.2f}"
    else:
        text = f"{value:g}"
    return f"{text} {unit}"


class Mount:
    """One ftpfs process on a fresh mountpoint under the run directory."""

    def __init__(self, runner, name):
        self.runner = runner
        self.name = name
        self.mountpoint = os.path.join(runner.run_dir, f"mnt-{name}")
        self.log_path = os.path.join(runner.run_dir, f"ftpfs-{name}.log")
        self.process = None
        self.peak_rss_kib = None
        self.cpu_seconds = None
        self.exit_seconds = None  # from fusermount3 -u until ftpfs exited

    def path(self, relative):
        return os.path.join(self.mountpoint, relative)

    def start(self, timeout=30):
        r = self.runner
        os.mkdir(self.mountpoint)
        options = "auto_unmount" + ("," + r.args.ftpfs_options if r.args.ftpfs_options else "")
        argv = [r.ftpfs, "-f", "-o", options, r.url, self.mountpoint]
        env = dict(os.environ, FTPFS_PASSWORD=FTP_PASSWORD)
        with open(self.log_path, "wb") as out:
            self.process = r.spawn(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env)
        r.mounts.append(self)
        deadline = time.monotonic() + timeout
        while not is_mounted(self.mountpoint):
            if self.process.poll() is not None:
                self.unmount()
                raise BenchError(f"ftpfs exited ({self.process.returncode}) without mounting:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.unmount()
                raise BenchError(f"ftpfs did not mount within {timeout} s:\n{self.log_tail()}")
            time.sleep(0.02)

    def log_tail(self, lines=20):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def sample(self):
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
        r = self.runner
        if self not in r.mounts:
            return
        if self.process.poll() is None:
            self.sample()
        problems = []
        unmount_started = time.monotonic()
        deadline = unmount_started + 20
        while is_mounted(self.mountpoint) and time.monotonic() < deadline:
            try:
                _, _, error, status = r.run(["fusermount3", "-u", self.mountpoint], 30, "fusermount3 -u",
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
            r.kill_group(self.process, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                problems.append("SIGKILL")
        r.reap(self.process, 5)
        if is_mounted(self.mountpoint):
            try:
                r.run(["fusermount3", "-u", "-z", self.mountpoint], 30, "fusermount3 -u -z", check=False)
            except BenchError as error:
                problems.append(str(error))
            problems.append("lazy unmount")
        r.mounts.remove(self)
        if self.process.returncode not in (0, None):
            problems.append(f"ftpfs exited with status {self.process.returncode}")
        if problems:
            r.notes.append(f"mount {self.name}: " + "; ".join(p for p in problems if p)
                           + f" (log: {self.log_path})" + ("" if r.args.keep else " — rerun with --keep to see it"))
        try:
            os.rmdir(self.mountpoint)
        except OSError:
            pass


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="scripts/bench.sh",
        description="Benchmark ftpfs against direct FTP (curl) on a local vsftpd, in one run. Needs root.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Workloads: W1 sequential read, W2 cp onto the mount, W3 ls -lR/find cold+warm, W4 small files "
               "one at a time and in parallel, W5 random 4 KiB reads, W6 create small files.\n"
               "Sizes take K/M/G suffixes (powers of 1024). Exit status: 0 when every workload ran and its "
               "results checked out (targets missed do not count), 1 otherwise, 2 for bad arguments.")
    p.add_argument("--big-size", metavar="SIZE", type=parse_size, help="W1/W5 file size (1G; --quick 64M)")
    p.add_argument("--write-size", metavar="SIZE", type=parse_size, help="W2 file size (512M; --quick 32M)")
    p.add_argument("--tree-files", metavar="N", type=int, help="W3 files (10000; --quick 1000)")
    p.add_argument("--tree-dirs", metavar="N", type=int, help="W3 directories (100; --quick 10)")
    p.add_argument("--small-files", metavar="N", type=int, help="W4 files of 4-64 KiB (1000; --quick 100)")
    p.add_argument("--random-reads", metavar="N", type=int, help="W5 reads of 4 KiB (2000; --quick 200)")
    p.add_argument("--create-files", metavar="N", type=int, help="W6 files of 8 KiB (500; --quick 50)")
    p.add_argument("--parallel", metavar="N", type=int, help="W4 parallel readers (8)")
    p.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run well under a minute")
    p.add_argument("--only", metavar="W1,W5", default=",".join(WORKLOADS), help="workloads to run, e.g. W1,W5 (all)")
    p.add_argument("--ftpfs", metavar="PATH", help="ftpfs binary (default: build release and use that)")
    p.add_argument("--ftpfs-options", default="", metavar="OPTS", help="extra -o options for ftpfs, e.g. max_conns=8")
    p.add_argument("--repeat", metavar="N", type=int, default=1,
                   help="run every workload N times and report medians (1)")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (data, logs) under /tmp/ftpfs-bench")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    p.add_argument("--server-cache", choices=("warm", "cold"), default="warm",
                   help="warm (default): after dropping the page cache, read the server's files back so neither "
                        "side measures the disk; cold: leave them on disk")
    p.add_argument("--password-hash", choices=("sha512", "yescrypt"), default="sha512",
                   help="hash of the FTP account's password, which decides what a login costs: sha512 (default, "
                        "SHA-512 crypt, about 10 ms a login here) or yescrypt (Debian 12's default, about 50 ms)")
    p.add_argument("--server-log", action="store_true", help="vsftpd logs every command (slower; for debugging)")
    p.add_argument("--timeout", metavar="SECS", type=float, default=120,
                   help="a measured step that takes longer than SECS (plus 0.5 s a file, 1 s per 2 MB) is "
                        "killed as hung and its workload reported as failed (120)")
    p.add_argument("--seed", metavar="N", type=int, default=42, help="seed of the data set and offsets (42)")
    args = p.parse_args(argv)
    defaults = QUICK if args.quick else FULL
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.only = [w.strip().upper() for w in args.only.split(",") if w.strip()]
    unknown = [w for w in args.only if w not in WORKLOADS]
    if unknown or not args.only:
        p.error(f"--only: unknown workload(s) {unknown}; choose from {','.join(WORKLOADS)}")
    for key in ("tree_files", "tree_dirs", "small_files", "random_reads", "create_files", "parallel", "repeat"):
        if getattr(args, key) < 1:
            p.error(f"--{key.replace('_', '-')} must be at least 1")
    if "," in args.ftpfs_options and args.ftpfs_options.startswith("-o"):
        p.error("--ftpfs-options takes the options only, e.g. 'max_conns=8,readahead=8M'")
    return args


def main(argv):
    args = parse_args(argv)
    if os.geteuid() != 0:
        sys.exit("bench: run as root (it starts vsftpd with a local account and drops the page cache)")
    runner = Runner(args)

    def interrupt(signum, frame):
        log(f"{signal.Signals(signum).name}: stopping and cleaning up")
        raise Interrupted(signal.Signals(signum).name)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupt)
    status = 0
    try:
        runner.main()
    except Interrupted as error:
        status = 130
    except BenchError as error:
        log(f"error: {error}")
        runner.failures.append(("setup", str(error)))
        status = 1
    except Exception as error:  # a bug or an unexpected failure: still clean up, and say where
        import traceback
        traceback.print_exc()
        runner.failures.append(("setup", f"{type(error).__name__}: {error}"))
        status = 1
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, lambda *_: log("cleaning up, please wait"))
        try:
            runner.cleanup()
        finally:
            pass
    if status != 130 and runner.ftpfs is not None:
        runner.report()
    if status == 0 and runner.failures:
        status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
