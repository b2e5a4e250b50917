"""This machine: the page cache, the mount table, the load average."""
import os
import shutil
import subprocess

from .common import PYTHON, helper, read_all


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


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


class PageCache:
    """Makes every measured run start cold the same way for ftpfs and the direct client."""

    def __init__(self, processes, run_dir, server_cache, ftpfs):
        self.processes = processes
        self.run_dir = run_dir
        self.server_cache = server_cache  # "warm": the server's files are read back after the drop
        self.ftpfs = ftpfs
        self.drop_works = True
        self.notes = []
        self._program_files = None

    def drop(self):
        """sync this file system, then drop the page cache (and dentries/inodes)."""
        self.processes.run(["sync", "-f", self.run_dir], 300, "sync")
        if not self.drop_works:
            return
        try:
            with open("/proc/sys/vm/drop_caches", "w") as f:
                f.write("3\n")
        except OSError as error:
            self.drop_works = False
            self.notes.append(f"could not drop the page cache ({error}): cold figures may be warm")

    def cold(self, *server_paths):
        """Before a measured run: drop the page cache (so ftpfs and the direct client start cold),
        then read back what must not count: the server's files (--server-cache warm) and the
        programs both sides run, with their libraries (else the first ls or curl after the drop
        would time this machine's disk)."""
        self.drop()
        if self.server_cache == "warm":
            for path in server_paths:
                if os.path.isdir(path):
                    for directory, _, files in os.walk(path):
                        for name in files:
                            read_all(os.path.join(directory, name))
                else:
                    read_all(path)
        for path in self.program_files():
            try:
                read_all(path)
            except OSError:
                pass

    def program_files(self):
        if self._program_files is None:
            files = set()
            programs = [self.ftpfs, PYTHON] + [shutil.which(name) for name in
                                               ("curl", "ls", "find", "dd", "cp", "cat", "xargs", "sha256sum",
                                                "sync", "fusermount3", "stat", "mkdir", "rm", "mv", "touch", "sh")]
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
            files.update(helper(name) for name in ("randread.py", "createfiles.py", "readfiles.py"))
            self._program_files = sorted(files)
        return self._program_files
