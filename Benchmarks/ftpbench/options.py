"""The command line, and the sizes of each profile.

Three profiles: full (the default), --quick (a smoke run: every workload, tiny sizes) and the
WAN profile used with --rtt, where round trips, not bytes, decide the time, so sizes are scaled
down to keep a run within minutes. Each size is declared by the module that uses it (SIZES in
dataset.py and in each workload) and becomes an option here: --big-size, --small-files, ...
"""
import argparse

from . import dataset
from .units import human_size, parse_bandwidth, parse_size
from .workloads import all_workloads

GENERAL_SIZES = {"parallel": dict(help="parallel readers (W4) and direct sessions of the W3 walk", full=8, quick=8,
                                  wan=8, kind="count")}


def declared_sizes():
    sizes = dict(dataset.SIZES)
    sizes.update(GENERAL_SIZES)
    for module in all_workloads():
        sizes.update(module.SIZES)
    return sizes


def shown(spec, profile):
    value = spec[profile]
    return human_size(value) if spec["kind"] == "size" else f"{value:,}"


def profile_value(spec, args):
    if args.rtt is not None:
        return min(spec["quick"], spec["wan"]) if args.quick else spec["wan"]
    return spec["quick"] if args.quick else spec["full"]


def parse_args(argv):
    workloads = all_workloads()
    names = [module.NAME for module in workloads]
    p = argparse.ArgumentParser(
        prog="scripts/bench.sh",
        description="Benchmark ftpfs against direct FTP clients on a local vsftpd, in one run. Needs root.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Workloads:\n" + "".join(f"  {m.NAME}  {m.TITLE}\n" for m in workloads) +
               "\nThe ratio's baseline ('direct') is one persistent ftplib session per connection (one login, "
               "then every transfer on the warm connection; N sessions for N in parallel); curl, one process "
               "and one login per transfer, is shown for information.\n"
               "Sizes take K/M/G suffixes (powers of 1024); each size's default is full / --quick / --rtt.\n"
               "Exit status: 0 when every workload ran and its results checked out (targets missed do not "
               "count), 1 otherwise, 2 for bad arguments.")
    for key, spec in declared_sizes().items():
        p.add_argument("--" + key.replace("_", "-"), metavar="SIZE" if spec["kind"] == "size" else "N",
                       type=parse_size if spec["kind"] == "size" else int,
                       help=f"{spec['help']} ({shown(spec, 'full')}; --quick {shown(spec, 'quick')}; "
                            f"--rtt {shown(spec, 'wan')})")
    p.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run of every workload in well under "
                                                        "a minute")
    p.add_argument("--rtt", metavar="MS", type=float,
                   help="WAN mode: clients reach vsftpd through a delay proxy adding MS of round-trip time "
                        "(0 = through the proxy without delay); sizes scale down")
    p.add_argument("--bandwidth", metavar="BITS", type=parse_bandwidth,
                   help="with --rtt: cap each direction of the proxy's link, bits per second (e.g. 1G, 100M)")
    p.add_argument("--window", metavar="SIZE", type=parse_size,
                   help="with --rtt: bytes a connection may have in flight each way, as a TCP window (6M, "
                        "Linux's default tcp_rmem maximum: at most 157 MB/s a connection at 40 ms)")
    p.add_argument("--only", metavar="W1,W5", default=",".join(names), help="workloads to run (all)")
    p.add_argument("--ftpfs", metavar="PATH", help="ftpfs binary (default: build release and use that)")
    p.add_argument("--ftpfs-options", default="", metavar="OPTS", help="extra -o options for ftpfs, e.g. max_conns=8")
    p.add_argument("--repeat", metavar="N", type=int, default=1,
                   help="run every workload N times and report medians (1)")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (data, logs) under /tmp/ftpfs-bench")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON (Benchmarks/compare.py reads it)")
    p.add_argument("--server-cache", choices=("warm", "cold"), default="warm",
                   help="warm (default): after dropping the page cache, read the server's files back so neither "
                        "side measures the disk; cold: leave them on disk")
    p.add_argument("--password-hash", choices=("sha512", "yescrypt"), default="sha512",
                   help="hash of the FTP account's password, which decides what a login costs: sha512 (default, "
                        "SHA-512 crypt, about 10 ms a login here) or yescrypt (Debian 12's default, about 50 ms)")
    p.add_argument("--server-log", action="store_true", help="vsftpd logs every command (slower; for debugging)")
    p.add_argument("--timeout", metavar="SECS", type=float, default=120,
                   help="a measured step that takes longer than SECS (plus an allowance per file and per byte) is "
                        "killed as hung and its workload reported as failed (120)")
    p.add_argument("--seed", metavar="N", type=int, default=42, help="seed of the data set and offsets (42)")
    args = p.parse_args(argv)
    for key, spec in declared_sizes().items():
        if getattr(args, key) is None:
            setattr(args, key, profile_value(spec, args))
        if getattr(args, key) < 1:
            p.error(f"--{key.replace('_', '-')} must be at least 1")
    args.only = [w.strip().upper() for w in args.only.split(",") if w.strip()]
    unknown = [w for w in args.only if w not in names]
    if unknown or not args.only:
        p.error(f"--only: unknown workload(s) {unknown}; choose from {','.join(names)}")
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    if args.rtt is not None and args.rtt < 0:
        p.error("--rtt must be 0 or more")
    if (args.bandwidth or args.window) and args.rtt is None:
        p.error("--bandwidth and --window go with --rtt")
    if "," in args.ftpfs_options and args.ftpfs_options.startswith("-o"):
        p.error("--ftpfs-options takes the options only, e.g. 'max_conns=8,readahead=8M'")
    return args
