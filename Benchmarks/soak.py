#!/usr/bin/python3
"""A long walk over a mount (a helper of the benchmark's W9): every directory listed, every
file in it stat'ed and read whole.

    soak.py ROOT

Walks ROOT top-down (os.scandir: a listing each, then lstat, open, read, close of every file).
Prints one JSON object on stdout: directories, files, bytes read and the seconds it took. Runs
as its own process so that a hung mount cannot hang the benchmark driver.
"""
import json
import os
import sys
import time


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    started = time.perf_counter()
    directories = files = total = 0
    pending = [sys.argv[1]]
    while pending:
        directory = pending.pop()
        directories += 1
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
                    continue
                os.lstat(entry.path)
                with open(entry.path, "rb") as f:
                    while True:
                        chunk = f.read(1 << 20)
                        if not chunk:
                            break
                        total += len(chunk)
                files += 1
    print(json.dumps(dict(directories=directories, files=files, bytes=total,
                          seconds=time.perf_counter() - started)))


if __name__ == "__main__":
    main()
