"""main(): arguments, signals, the run, the report, the exit status."""
import os
import signal
import sys
import traceback

from .common import BenchError, Interrupted, log
from .options import parse_args
from .report import report
from .runner import Bench

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def main(argv):
    args = parse_args(argv)
    if os.geteuid() != 0:
        sys.exit("bench: run as root (it starts vsftpd with a local account and drops the page cache)")
    bench = Bench(args)

    def interrupt(signum, frame):
        log(f"{signal.Signals(signum).name}: stopping and cleaning up")
        raise Interrupted(signal.Signals(signum).name)

    for sig in SIGNALS:
        signal.signal(sig, interrupt)
    status = 0
    try:
        bench.main()
    except Interrupted:
        status = 130
    except BenchError as error:
        log(f"error: {error}")
        bench.results.failures.append(("setup", str(error)))
        status = 1
    except Exception as error:  # a bug or an unexpected failure: still clean up, and say where
        traceback.print_exc()
        bench.results.failures.append(("setup", f"{type(error).__name__}: {error}"))
        status = 1
    finally:
        for sig in SIGNALS:
            signal.signal(sig, lambda *_: log("cleaning up, please wait"))
        bench.cleanup()
    if status != 130 and bench.ftpfs is not None:
        report(bench)
    if status == 0 and bench.results.failures:
        status = 1
    return status
