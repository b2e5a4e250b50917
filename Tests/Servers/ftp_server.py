#!/usr/bin/python3
"""A pyftpdlib FTP server for ftpfs's tests, with optional misbehaviours.

Run it with Debian's interpreter and Debian's python3-pyftpdlib:

    /usr/bin/python3 Tests/Servers/ftp_server.py --root DIR --user NAME:PASSWORD --port 0

Once it listens it prints one line "PORT <n>" on stdout (and flushes), so a
caller that passed --port 0 learns the port the kernel picked.

Quirks (--quirk NAME or --quirk NAME=VALUE, repeatable) make the server
misbehave on purpose. Each quirk is a small mixin class (or a server
attribute) registered in QUIRKS below; add new ones the same way.
"""

import argparse
import logging
import os
import signal
import sys

from pyftpdlib import __ver__ as PYFTPDLIB_VERSION
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer

FULL_PERMISSIONS = "elradfmwMT"


# --------------------------------------------------------------------------
# Quirks
# --------------------------------------------------------------------------

class Setup:
    """What the quirks change: handler mixins and server class attributes."""

    def __init__(self):
        self.handler_mixins = []
        self.server_attributes = {}


QUIRKS = {}  # name -> (help, apply(setup, value))


def quirk(name, help):
    def register(apply):
        QUIRKS[name] = (help, apply)
        return apply
    return register


class Stor552Mixin:
    """Every upload is refused with 552 before any data is transferred."""

    def _refuse_upload(self):
        # Drop a data connection the client may already have opened
        # (PASV/EPSV + connect happen before STOR), so nothing is written.
        self._shutdown_connecting_dtp()
        if self.data_channel is not None:
            self.data_channel.close()
            self.data_channel = None
        self._restart_position = 0
        self.respond("552 Quota exceeded.")

    def ftp_STOR(self, file, mode="w"):  # APPE calls ftp_STOR(mode="a")
        self._refuse_upload()

    def ftp_STOU(self, line):
        self._refuse_upload()


@quirk("stor-552", "STOR/APPE/STOU answer '552 Quota exceeded.' and "
                   "transfer nothing; no file is created")
def _stor_552(setup, value):
    setup.handler_mixins.append(Stor552Mixin)


@quirk("max-conns", "max-conns=N: at most N control connections per client "
                    "IP; the next one gets '421 Too many connections'")
def _max_conns(setup, value):
    try:
        limit = int(value)
        if limit < 1:
            raise ValueError
    except (TypeError, ValueError):
        raise SystemExit("ftp_server.py: --quirk max-conns=N needs N >= 1")
    setup.server_attributes["max_cons_per_ip"] = limit


# --------------------------------------------------------------------------
# Server
# --------------------------------------------------------------------------

def parse_args(argv):
    quirk_help = "\n".join("  %-12s %s" % (name, help)
                           for name, (help, _) in sorted(QUIRKS.items()))
    parser = argparse.ArgumentParser(
        description="pyftpdlib FTP server for ftpfs tests",
        epilog="quirks:\n" + quirk_help,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (127.0.0.1 or ::1)")
    parser.add_argument("--port", type=int, default=0,
                        help="port to listen on; 0 picks a free one")
    parser.add_argument("--root", required=True,
                        help="directory served to every user")
    parser.add_argument("--user", action="append", default=[],
                        metavar="NAME:PASSWORD",
                        help="a user with full permissions (repeatable)")
    parser.add_argument("--anonymous", action="store_true",
                        help="allow read-only anonymous logins")
    parser.add_argument("--passive-ports", metavar="A-B",
                        help="range of ports for passive data connections")
    parser.add_argument("--log", metavar="FILE",
                        help="log every command and reply to FILE")
    parser.add_argument("--no-mlsd", action="store_true",
                        help="neither advertise nor accept MLST/MLSD")
    parser.add_argument("--quirk", action="append", default=[],
                        metavar="NAME[=VALUE]",
                        help="misbehave on purpose (repeatable, see below)")
    args = parser.parse_args(argv)
    if not args.user and not args.anonymous:
        parser.error("give at least one --user or --anonymous")
    return args


def configure_logging(log_file):
    logger = logging.getLogger("pyftpdlib")
    formatter = logging.Formatter("[%(levelname)1.1s %(asctime)s] %(message)s")
    errors = logging.StreamHandler(sys.stderr)
    errors.setFormatter(formatter)
    if log_file:
        # DEBUG makes pyftpdlib log each command ("<- LIST") and reply
        # ("-> 226 ..."), with PASS masked.
        logger.setLevel(logging.DEBUG)
        full = logging.FileHandler(log_file, encoding="utf-8")
        full.setFormatter(formatter)
        logger.addHandler(full)
        errors.setLevel(logging.WARNING)
    else:
        logger.setLevel(logging.INFO)
    logger.addHandler(errors)


def make_handler(args, setup):
    authorizer = DummyAuthorizer()
    for spec in args.user:
        name, sep, password = spec.partition(":")
        if not sep or not name:
            raise SystemExit("ftp_server.py: --user wants NAME:PASSWORD, got %r"
                             % spec)
        authorizer.add_user(name, password, args.root, perm=FULL_PERMISSIONS)
    if args.anonymous:
        authorizer.add_anonymous(args.root)  # read-only: "elr"

    attributes = {
        "authorizer": authorizer,
        "banner": "ftpfs test server (pyftpdlib %s) ready." % PYFTPDLIB_VERSION,
        "proto_cmds": dict(FTPHandler.proto_cmds),
        # pyftpdlib waits 3 s before answering a wrong password; tests of
        # failed logins need not.
        "auth_failed_timeout": 0,
    }
    if args.no_mlsd:
        # Not in proto_cmds: FEAT omits MLST, MLST/MLSD get "500 not
        # understood" and OPTS MLST is refused.
        for command in ("MLSD", "MLST"):
            attributes["proto_cmds"].pop(command, None)
    if args.passive_ports:
        first, _, last = args.passive_ports.partition("-")
        attributes["passive_ports"] = list(range(int(first), int(last) + 1))
    bases = tuple(setup.handler_mixins) + (FTPHandler,)
    return type("TestFTPHandler", bases, attributes)


def main(argv):
    args = parse_args(argv)
    setup = Setup()
    for spec in args.quirk:
        name, _, value = spec.partition("=")
        if name not in QUIRKS:
            raise SystemExit("ftp_server.py: unknown quirk %r (known: %s)"
                             % (name, ", ".join(sorted(QUIRKS))))
        QUIRKS[name][1](setup, value or None)

    configure_logging(args.log)
    handler = make_handler(args, setup)
    server_class = type("TestFTPServer", (FTPServer,), setup.server_attributes)
    server = server_class((args.host, args.port), handler)

    # SIGTERM -> SystemExit, which serve_forever turns into a clean shutdown.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    print("PORT %d" % server.address[1], flush=True)
    server.serve_forever(handle_exit=True)


if __name__ == "__main__":
    main(sys.argv[1:])
