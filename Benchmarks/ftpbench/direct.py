"""The direct baseline: what a good FTP client does without ftpfs.

One login per connection, then every transfer on the warm connection (RETR, STOR, LIST), as
ftplib and lftp do; N connections, each logged in before the clock starts, for N parallel
workers. Transfers move through a 1 MiB buffer (recv_into, sendfile), so the client is never
the bottleneck. It sends one command at a time and waits for its reply, as ftplib does: what
pipelining could save shows in W8's "FTP minimum" column.
"""
import ftplib
import queue
import threading
import time

from .account import FTP_PASSWORD, FTP_USER
from .common import BenchError
from .units import MiB

BUFFER_SIZE = 1 * MiB
ABORTED_OK = ("225", "226", "426", "450", "451")  # replies to a RETR we stopped reading early


class DirectSession(ftplib.FTP):
    """One logged-in FTP connection in binary mode; counts the commands it sends."""

    def __init__(self, endpoint, timeout=60):
        super().__init__()
        self.commands = 0
        self.sent = []  # the verbs, when a caller wants the sequence (W8)
        try:
            self.connect(endpoint.host, endpoint.port, timeout=timeout)
            self.login(FTP_USER, FTP_PASSWORD)
            self.voidcmd("TYPE I")
        except ftplib.all_errors as error:
            self.close()
            raise BenchError(f"direct client: cannot log in to {endpoint.host}:{endpoint.port} as {FTP_USER}: "
                             f"{error}")
        self._buffer = bytearray(BUFFER_SIZE)
        self.reset_counts()

    def putcmd(self, line):
        self.commands += 1
        self.sent.append(line.split(" ", 1)[0].upper())
        super().putcmd(line)

    def reset_counts(self):
        self.commands = 0
        self.sent = []

    def retr(self, path, rest=None, limit=None, sink=None):
        """RETR path (from offset rest), reading at most limit bytes (then closing the data connection
        early, as a client reading a range does). sink(memoryview) sees the bytes. Returns the count."""
        view = memoryview(self._buffer)
        total = 0
        with self.transfercmd(f"RETR {path}", rest) as conn:
            while limit is None or total < limit:
                want = BUFFER_SIZE if limit is None else min(BUFFER_SIZE, limit - total)
                n = conn.recv_into(view[:want])
                if n == 0:
                    break
                if sink is not None:
                    sink(view[:n])
                total += n
        if limit is not None and total == limit:
            try:
                self.getresp()
            except ftplib.error_temp as error:
                if not str(error).startswith(ABORTED_OK):
                    raise
        else:
            self.voidresp()
        return total

    def retr_bytes(self, path, rest=None, limit=None):
        chunks = []
        self.retr(path, rest, limit, lambda view: chunks.append(bytes(view)))
        return b"".join(chunks)

    def stor(self, path, data=None, file=None, command="STOR"):
        """STOR (or APPE) of bytes, or of an open file (sent with sendfile)."""
        with self.transfercmd(f"{command} {path}") as conn:
            if file is not None:
                conn.sendfile(file)
            elif data:
                conn.sendall(data)
        self.voidresp()

    def list_lines(self, path):
        """LIST path, read whole, as text lines."""
        chunks = []
        self.retr_like(f"LIST {path}", chunks.append)
        return b"".join(chunks).decode(errors="replace").splitlines()

    def retr_like(self, command, append):
        view = memoryview(self._buffer)
        with self.transfercmd(command) as conn:
            while n := conn.recv_into(view):
                append(bytes(view[:n]))
        self.voidresp()


def list_entries(lines):
    """(name, is a directory) for each entry of a Unix LIST, without . and .."""
    for line in lines:
        parts = line.split(None, 8)
        if len(parts) == 9 and parts[8] not in (".", ".."):
            yield parts[8], line.startswith("d")


class Sessions:
    """N logged-in sessions (logins happen here, before any clock starts) that work through a list of
    items in parallel: each thread takes the next item, so a slow item does not hold the others."""

    def __init__(self, endpoint, count):
        self.sessions = []
        try:
            for _ in range(count):
                self.sessions.append(DirectSession(endpoint))
        except BaseException:
            self.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        for session in self.sessions:
            try:
                session.quit()
            except (ftplib.all_errors, AttributeError):
                session.close()

    def map(self, function, items):
        """function(session, item) for every item; returns (results in item order, seconds)."""
        results = [None] * len(items)
        work = queue.SimpleQueue()
        for index in range(len(items)):
            work.put(index)
        errors = []

        def worker(session):
            while not errors:
                try:
                    index = work.get_nowait()
                except queue.Empty:
                    return
                try:
                    results[index] = function(session, items[index])
                except Exception as error:  # reported once all threads are done
                    errors.append(error)

        seconds = self._run(worker)
        if errors:
            raise BenchError(f"direct client: {errors[0]}")
        return results, seconds

    def walk(self, top):
        """LIST of top and every directory below it, spread over the sessions. Returns (entries, seconds)."""
        pending = queue.Queue()
        pending.put(top)
        counted = [0]
        lock = threading.Lock()
        errors = []

        def worker(session):
            while True:
                directory = pending.get()
                if directory is None:
                    pending.put(None)  # wake the next thread up to stop too
                    return
                try:
                    entries = list(list_entries(session.list_lines(directory)))
                    with lock:
                        counted[0] += len(entries)
                    for name, is_directory in entries:
                        if is_directory:
                            pending.put(f"{directory}/{name}")
                except Exception as error:
                    errors.append(error)
                finally:
                    pending.task_done()

        def stopper():
            pending.join()
            pending.put(None)

        seconds = self._run(worker, stopper)
        if errors:
            raise BenchError(f"direct LIST walk: {errors[0]}")
        return counted[0], seconds

    def _run(self, worker, *others):
        threads = [threading.Thread(target=worker, args=(session,), daemon=True) for session in self.sessions]
        threads += [threading.Thread(target=other, daemon=True) for other in others]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.perf_counter() - started


def login_seconds(endpoint, times=5):
    """The median cost of a login here (connect, greeting, USER, PASS, TYPE I)."""
    measured = []
    for _ in range(times):
        started = time.perf_counter()
        DirectSession(endpoint).close()
        measured.append(time.perf_counter() - started)
    return sorted(measured)[len(measured) // 2]
