#!/usr/bin/python3
"""Timed reads of many whole files (a helper of the benchmark's W4).

    readfiles.py LIST_FILE JOBS

Reads every file named in LIST_FILE (one path a line) to its end: open, read, close, with JOBS
threads taking the next file each (1 = one at a time, in order). Prints one JSON object on
stdout: the bytes read and the seconds it took. Reading in one process, instead of a `cat` per
file, keeps a process start per file out of the figure: the direct client does not pay one
either. It runs as its own process so that a hung mount cannot hang the benchmark driver.
"""
import json
import os
import sys
import threading
import time

BUFFER = 1 << 20


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        paths = [line.rstrip("\n") for line in f if line.strip()]
    jobs = int(sys.argv[2])
    next_index = iter(range(len(paths)))
    lock = threading.Lock()
    totals = []

    def worker():
        buffer = bytearray(BUFFER)
        total = 0
        while True:
            with lock:
                index = next(next_index, None)
            if index is None:
                break
            fd = os.open(paths[index], os.O_RDONLY)
            try:
                while n := os.readv(fd, [buffer]):
                    total += n
            finally:
                os.close(fd)
        totals.append(total)

    threads = [threading.Thread(target=worker) for _ in range(jobs)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    json.dump({"files": len(paths), "bytes": sum(totals), "total_s": time.perf_counter() - started}, sys.stdout)


if __name__ == "__main__":
    main()
