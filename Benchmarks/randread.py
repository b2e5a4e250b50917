#!/usr/bin/python3
"""Timed random reads on one open file descriptor (a helper of Benchmarks/bench.py).

    randread.py FILE OFFSETS_FILE SIZE PASSES [REFERENCE]

Opens FILE once, then PASSES times reads SIZE bytes with os.preadv at each offset
listed in OFFSETS_FILE (one per line, in that order), timing every read. Pass 1 on a
fresh ftpfs mount is the cold read; later passes show the page cache. With REFERENCE
(the same file on the server's disk), every block of the first and the last pass is
compared with it after the timing is done. Prints one JSON object on stdout.
It runs as its own process so that a hung mount cannot hang the benchmark driver.
"""
import json
import os
import sys
import time


def main():
    if len(sys.argv) not in (5, 6):
        sys.exit(__doc__)
    path, offsets_path, size, passes = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    reference = sys.argv[5] if len(sys.argv) == 6 else None
    with open(offsets_path) as f:
        offsets = [int(line) for line in f if line.strip()]

    # Read into preallocated, already touched buffers: the timing should not include the
    # allocator or page faults of the reader (they cost as much as a page-cache hit).
    count = len(offsets)
    first = bytearray(b"\x01") * (count * size)
    later = bytearray(b"\x01") * (count * size) if passes > 1 else first
    views = {id(buf): [[memoryview(buf)[i * size:(i + 1) * size]] for i in range(count)] for buf in (first, later)}

    started = time.perf_counter()
    fd = os.open(path, os.O_RDONLY)
    open_seconds = time.perf_counter() - started
    results = []
    short_reads = 0
    for number in range(passes):
        target = views[id(first if number == 0 else later)]
        latencies = [0.0] * count
        lengths = [0] * count
        pass_started = time.perf_counter()
        for index, offset in enumerate(offsets):
            t = time.perf_counter()
            lengths[index] = os.preadv(fd, target[index], offset)
            latencies[index] = time.perf_counter() - t
        total = time.perf_counter() - pass_started
        short_reads += sum(1 for length in lengths if length != size)
        results.append({"total_s": total, "latencies_s": latencies})
    os.close(fd)

    mismatches = None
    if reference is not None:
        mismatches = 0
        with open(reference, "rb") as f:
            ref_fd = f.fileno()
            for index, offset in enumerate(offsets):
                expected = os.pread(ref_fd, size, offset)
                if first[index * size:(index + 1) * size] != expected:
                    mismatches += 1
                if passes > 1 and later[index * size:(index + 1) * size] != expected:
                    mismatches += 1
    json.dump({"open_s": open_seconds, "passes": results, "short_reads": short_reads,
               "mismatches": mismatches}, sys.stdout)


if __name__ == "__main__":
    main()
