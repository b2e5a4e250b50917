#!/usr/bin/python3
"""ftpfs benchmark: ftpfs against direct FTP clients on the same vsftpd, in one run.

Run it through scripts/bench.sh (as root); `scripts/bench.sh --help` lists every option.
The code is the package ftpbench/ beside this file (its __init__.py maps it); this is only
the entry point. Only the Python standard library; Debian's /usr/bin/python3.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ftpbench.cli import main  # noqa: E402  (after the path is set)

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
