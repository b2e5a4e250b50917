#!/usr/bin/python3
"""Timed creation of many small files (a helper of Benchmarks/bench.py).

    createfiles.py SOURCE_DIR DEST_DIR

Reads every regular file of SOURCE_DIR into memory first, then, timed, creates each
one in DEST_DIR under the same name: open (O_CREAT|O_EXCL), write, close. The close
is where ftpfs must finish the upload, so it is inside the time. Prints one JSON
object on stdout. It runs as its own process so that a hung mount cannot hang the
benchmark driver.
"""
import json
import os
import sys
import time


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    source, dest = sys.argv[1], sys.argv[2]
    names = sorted(name for name in os.listdir(source) if os.path.isfile(os.path.join(source, name)))
    contents = []
    for name in names:
        with open(os.path.join(source, name), "rb") as f:
            contents.append(f.read())

    latencies = []
    started = time.perf_counter()
    for name, data in zip(names, contents):
        t = time.perf_counter()
        fd = os.open(os.path.join(dest, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
        finally:
            os.close(fd)
        latencies.append(time.perf_counter() - t)
    total = time.perf_counter() - started
    json.dump({"files": len(names), "total_s": total, "latencies_s": latencies}, sys.stdout)


if __name__ == "__main__":
    main()
