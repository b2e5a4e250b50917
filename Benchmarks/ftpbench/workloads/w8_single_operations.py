"""W8: single operations on an otherwise idle mount, each in milliseconds and (with --rtt) in round
trips, with the FTP commands each side sent, next to the same operation done by the direct client
on a warm session, the same command on the local disk (what starting the program costs), and the
fewest round trips FTP allows (ftp_minimum.py).

Each round works in a directory of its own, ops/<round>/, so every operation finds the state it
is meant to measure: a directory not yet listed (cold/, cold2/, list/) or one whose listing ftpfs
holds (w-*/, each operation its own, so one operation's change does not make the next re-list).
The warm-up looks names up with stat only: reading a directory (ls) soon after its parent was
read would look like a walk to ftpfs and make it list the cold directories ahead.

Rounds: `op_repeat` timed rounds on one mount (untraced), then one round on a second mount with
-o log_level=debug, where the commands of each operation are counted (trace.py) while timings
are not taken; `op_repeat` rounds of the direct client on one session; as many rounds locally.
"""
import os
import shutil
import time
from typing import Callable, NamedTuple

from ..common import BenchError
from ..trace import CommandTrace
from ..units import KiB, median

NAME = "W8"
TITLE = "single operations (stat, cat, ls -l, mkdir, rm, mv, touch, cp, echo >>): ms, round trips, commands"
SIZES = {"op_repeat": dict(help="W8 rounds of each operation", full=5, quick=2, wan=5, kind="count"),
         "list_entries": dict(help="W8 entries of the directory ls -l lists", full=1000, quick=200, wan=1000,
                              kind="count")}
NOTES = ["vsftpd sends a transfer's 226 only once the client has closed the data connection, a round trip "
         "after the last byte: a client that waits for the 226 before it returns the data pays 3 round trips for a "
         "RETR whose data was all there after 2 (EPSV, RETR)."]
FILE_SIZE = 1 * KiB
APPENDED = b"line\n"
NEWLINE = b"\n"
WARM_DIRS = ("w-cat", "w-mkdir", "w-rm", "w-mv", "w-touch", "w-cp", "w-append")


class Operation(NamedTuple):
    key: str                                  # ftp_minimum.MINIMUM's key
    label: str
    argv: Callable[[str, str], list]          # (round dir, local 1 KiB file) -> the command
    direct: Callable[..., object]             # (session, server-relative round dir) -> does it over FTP
    check: Callable[[str, bytes], str]        # (server round dir, the command's stdout) -> problem or ""


def _expect(condition, problem):
    return "" if condition else problem


def operations(entries):
    return [
        Operation("stat_cold", "stat, file in a directory not yet listed",
                  lambda d, src: ["stat", "-c", "%s", f"{d}/cold/f1k.txt"],
                  lambda s, d: stat_size(s, f"{d}/cold/f1k.txt"),
                  lambda d, out: _expect(out.strip() == str(FILE_SIZE).encode(), f"stat said {out!r}")),
        Operation("cat_warm", "cat 1 KiB, directory listed",
                  lambda d, src: ["cat", f"{d}/w-cat/f1k.txt"],
                  lambda s, d: s.retr_bytes(f"{d}/w-cat/f1k.txt"),
                  lambda d, out: _expect(len(out) == FILE_SIZE, f"cat read {len(out)} bytes")),
        Operation("cat_cold", "cat 1 KiB, directory not yet listed",
                  lambda d, src: ["cat", f"{d}/cold2/f1k.txt"],
                  lambda s, d: s.retr_bytes(f"{d}/cold2/f1k.txt"),
                  lambda d, out: _expect(len(out) == FILE_SIZE, f"cat read {len(out)} bytes")),
        Operation("ls_1000", f"ls -l of {entries} entries, not yet listed",
                  lambda d, src: ["ls", "-l", f"{d}/list"],
                  lambda s, d: ls_l(s, f"{d}/list"),
                  lambda d, out: _expect(out.count(NEWLINE) == entries + 1, f"ls -l printed {out.count(NEWLINE)} "
                                                                            f"lines")),
        Operation("mkdir", "mkdir",
                  lambda d, src: ["mkdir", f"{d}/w-mkdir/new"],
                  lambda s, d: s.mkd(f"{d}/w-mkdir/new"),
                  lambda d, out: _expect(os.path.isdir(f"{d}/w-mkdir/new"), "no directory on the server")),
        Operation("rm", "rm",
                  lambda d, src: ["rm", f"{d}/w-rm/victim"],
                  lambda s, d: s.delete(f"{d}/w-rm/victim"),
                  lambda d, out: _expect(not os.path.exists(f"{d}/w-rm/victim"), "still on the server")),
        Operation("mv", "mv (same directory)",
                  lambda d, src: ["mv", f"{d}/w-mv/before", f"{d}/w-mv/after"],
                  lambda s, d: s.rename(f"{d}/w-mv/before", f"{d}/w-mv/after"),
                  lambda d, out: _expect(os.path.exists(f"{d}/w-mv/after") and not os.path.exists(f"{d}/w-mv/before"),
                                         "not renamed on the server")),
        Operation("touch_new", "touch of a new file",
                  lambda d, src: ["touch", f"{d}/w-touch/new"],
                  lambda s, d: s.stor(f"{d}/w-touch/new", b""),
                  lambda d, out: _expect(os.path.isfile(f"{d}/w-touch/new"), "no file on the server")),
        Operation("cp_1k", "cp 1 KiB onto the mount",
                  lambda d, src: ["cp", src, f"{d}/w-cp/copy"],
                  lambda s, d: s.stor(f"{d}/w-cp/copy", bytes(FILE_SIZE)),
                  lambda d, out: _expect(_size(f"{d}/w-cp/copy") == FILE_SIZE, "wrong size on the server")),
        Operation("append", "echo >> an existing file",
                  lambda d, src: ["sh", "-c", f'echo line >> "$1"', "sh", f"{d}/w-append/log.txt"],
                  lambda s, d: s.stor(f"{d}/w-append/log.txt", APPENDED, command="APPE"),
                  lambda d, out: _expect(_size(f"{d}/w-append/log.txt") == FILE_SIZE + len(APPENDED),
                                         "wrong size on the server")),
    ]


def stat_size(session, path):
    """What `stat -c %s` prints, from STAT path: vsftpd sends the file's LIST line on the control
    connection (one round trip, no data connection); it has no MLST."""
    reply = session.sendcmd(f"STAT {path}")
    lines = [line for line in reply.splitlines() if not line.startswith("213")]
    return lines[0].split()[4].encode() + NEWLINE if lines else b""


def ls_l(session, path):
    """What `ls -l` prints: a `total` line, then one line an entry (LIST)."""
    return b"total\n" + b"".join(line.encode() + NEWLINE for line in session.list_lines(path))


def _size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return -1


def make_round(directory, entries):
    """The files one round needs (on the server's disk, or locally for the local floor)."""
    content = b"x" * FILE_SIZE
    for sub in ("cold", "cold2", "list") + WARM_DIRS:
        os.makedirs(os.path.join(directory, sub))
    for name in ("cold/f1k.txt", "cold2/f1k.txt", "w-cat/f1k.txt", "w-rm/victim", "w-mv/before",
                 "w-append/log.txt"):
        with open(os.path.join(directory, name), "wb") as f:
            f.write(content)
    for sub in ("w-mkdir", "w-touch", "w-cp"):  # a name to look up, so the warm-up lists the directory
        open(os.path.join(directory, sub, "keep"), "wb").close()
    for i in range(entries):
        open(os.path.join(directory, "list", f"entry-{i:05d}"), "wb").close()


def warm_up_paths(directory):
    """What the warm-up stats: the cold directories themselves (their parent gets listed, they do not)
    and one name in each warm directory (so each gets listed)."""
    paths = [f"{directory}/{sub}" for sub in ("cold", "cold2", "list")]
    names = {"w-cat": "f1k.txt", "w-rm": "victim", "w-mv": "before", "w-append": "log.txt"}
    return paths + [f"{directory}/{sub}/{names.get(sub, 'keep')}" for sub in WARM_DIRS]


def round_names(op_repeat, repetition):
    """The directories under ops/ of one repetition's rounds: timed, traced, direct."""
    prefix = f"r{repetition}-"
    return ([f"{prefix}t{i}" for i in range(1, op_repeat + 1)], f"{prefix}trace",
            [f"{prefix}d{i}" for i in range(1, op_repeat + 1)])


def prepare(bench):
    a = bench.args
    for repetition in range(1, a.repeat + 1):
        timed, traced, direct = round_names(a.op_repeat, repetition)
        for name in timed + [traced] + direct:
            make_round(bench.data.server_path(f"ops/{name}"), a.list_entries)
    source = bench.data.local_path("ops-1k.bin")
    with open(source, "wb") as f:
        f.write(os.urandom(FILE_SIZE))
    return source


def run(bench, source):
    a = bench.args
    timed_rounds, traced_round_name, direct_round_names = round_names(a.op_repeat, bench.repetition)
    ops = operations(a.list_entries)
    rtt_s = (bench.rtt_ms or 0) / 1000
    gap = 0.1 + 3 * rtt_s  # idle time before each operation, so the mount is quiet when it starts
    timed = {op.key: [] for op in ops}

    mount = bench.mount("w8")
    for name in timed_rounds:
        for op, seconds in ftpfs_round(bench, mount, f"ops/{name}", source, ops, gap):
            timed[op.key].append(seconds * 1e3)
    mount.unmount()

    traced = bench.mount("w8-trace", trace=True)
    sequences = traced_round(bench, traced, f"ops/{traced_round_name}", source, ops, quiet=0.15 + 3 * rtt_s)
    traced.unmount()

    direct = direct_rounds(bench, ops, direct_round_names)
    local = local_rounds(bench, ops, source, a.op_repeat)
    for op in ops:
        sequence = sequences[op.key]
        bench.results.row(NAME, op.label, "ms", median(timed[op.key]), median(direct[op.key]["ms"]),
                          "ftplib, warm session", False, None, mount, None,
                          {"operation": op.key, "ftpfs_ms_all": timed[op.key], "ftpfs_commands": len(sequence),
                           "ftpfs_sequence": sequence, "direct_commands": len(direct[op.key]["sequence"]),
                           "direct_sequence": direct[op.key]["sequence"], "local_ms": median(local[op.key]),
                           "rtt_ms": bench.rtt_ms, "trace_peak_rss_kib": traced.peak_rss_kib})


def run_op(bench, op, directory, source, what):
    seconds, out, _, _ = bench.processes.run(op.argv(directory, source), bench.timeout_ops(1), what, stdout=None)
    return seconds, out


def warm_up(bench, mount, directory):
    bench.processes.run(["stat", *warm_up_paths(mount.path(directory))], bench.timeout_ops(10), "W8 warm-up")


def ftpfs_round(bench, mount, directory, source, ops, gap):
    """Each operation timed once on the mount; the results checked on the server's disk."""
    warm_up(bench, mount, directory)
    out = []
    for op in ops:
        time.sleep(gap)
        seconds, stdout = run_op(bench, op, mount.path(directory), source, f"W8 ftpfs {op.key}")
        check(bench, op, directory, stdout, "ftpfs")
        out.append((op, seconds))
    return out


def traced_round(bench, mount, directory, source, ops, quiet):
    """Each operation once on a mount with -o log_level=debug: the commands it sent, in order."""
    trace = CommandTrace(mount.log_path)
    warm_up(bench, mount, directory)
    sequences = {}
    for op in ops:
        trace.settle(quiet)
        mark = trace.mark()
        _, stdout = run_op(bench, op, mount.path(directory), source, f"W8 ftpfs traced {op.key}")
        trace.settle(quiet)
        sequences[op.key] = trace.commands_since(mark)
        check(bench, op, directory, stdout, "ftpfs traced")
    return sequences


def direct_rounds(bench, ops, names):
    """Each operation by the direct client on one warm session, in directories of its own."""
    results = {op.key: {"ms": [], "sequence": []} for op in ops}
    with bench.session() as session:
        for name in names:
            directory = f"ops/{name}"
            for op in ops:
                session.reset_counts()
                started = time.perf_counter()
                out = op.direct(session, directory)
                results[op.key]["ms"].append((time.perf_counter() - started) * 1e3)
                results[op.key]["sequence"] = list(session.sent)
                check(bench, op, directory, out if isinstance(out, bytes) else b"", "direct")
    return results


def local_rounds(bench, ops, source, rounds):
    """The same commands on the local disk: what starting them costs, with no FTP at all."""
    results = {op.key: [] for op in ops}
    for i in range(1, rounds + 1):
        directory = bench.data.local_path(f"ops-{i}")
        make_round(directory, bench.args.list_entries)
        for op in ops:
            time.sleep(0.01)
            seconds, _ = run_op(bench, op, directory, source, f"W8 local {op.key}")
            results[op.key].append(seconds * 1e3)
        shutil.rmtree(directory)
    return results


LATE_LIMIT = 2.0  # seconds a change may take to reach the server's disk after the command returned


def check(bench, op, directory, stdout, side):
    """The operation's result, on the server's disk. A change that arrives after the command
    returned (ftpfs finishing an upload in the background) is noted, not failed, unless it takes
    longer than LATE_LIMIT."""
    server_dir = bench.data.server_path(directory)
    started = time.monotonic()
    while problem := op.check(server_dir, stdout):
        if time.monotonic() - started > LATE_LIMIT:
            raise BenchError(f"W8 {side} {op.label}: {problem}")
        time.sleep(0.01)
    late = time.monotonic() - started
    if late > 0.005:
        bench.notes.append(f"W8 {side} {op.label}: the server had the result only {late * 1e3:.0f} ms after the "
                           f"command returned")
