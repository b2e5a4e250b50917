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
import calendar
import fnmatch
import hashlib
import logging
import os
import shutil
import signal
import sys
import time
import zlib

from pyftpdlib import __ver__ as PYFTPDLIB_VERSION
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.filesystems import AbstractedFS
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
        # Commands the quirks add: name -> proto_cmds entry; and ones they take away.
        self.extra_commands = {}
        self.removed_commands = []
        # Mixins for the handler's AbstractedFS (how listings are formatted).
        self.fs_mixins = []
        # Attributes set on the handler class.
        self.handler_attributes = {"wire_encoding": "utf8"}


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


def _command(help, arg=True):
    """A proto_cmds entry for a command these quirks add (paths are checked by the handler)."""
    return dict(perm=None, auth=True, arg=arg, help=help)


def _checked_path(handler, ftp_path):
    """The filesystem path of a client's path, or None (and a 550) when it is outside the root."""
    path = handler.fs.ftp2fs(ftp_path)
    if not handler.fs.validpath(path):
        handler.respond("550 %s is outside your root." % ftp_path)
        return None
    return path


class HashMixin:
    """HASH (draft-bryan-ftpext-hash) with OPTS HASH, as FileZilla Server and ProFTPD offer it."""

    algorithms = ("SHA-256", "SHA-1", "MD5", "CRC32")
    corrupt = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._extra_feats.append(
            "HASH " + ";".join(a + ("*" if a == "SHA-256" else "") for a in self.algorithms))
        self._hash_algorithm = "SHA-256"

    def ftp_OPTS(self, line):
        command, _, argument = line.partition(" ")
        if command.upper() != "HASH":
            return super().ftp_OPTS(line)
        if not argument:
            self.respond("200 " + self._hash_algorithm)
        elif argument.upper() in self.algorithms:
            self._hash_algorithm = argument.upper()
            self.respond("200 " + self._hash_algorithm)
        else:
            self.respond("501 Unknown algorithm, current selection not changed.")

    def ftp_HASH(self, line):
        path = _checked_path(self, line)
        if path is None:
            return
        if not self.fs.isfile(path):
            self.respond("550 %s: not a plain file." % line)
            return
        name = self._hash_algorithm
        digest = {"SHA-256": hashlib.sha256, "SHA-1": hashlib.sha1, "MD5": hashlib.md5}.get(name)
        crc = 0
        digester = digest() if digest else None
        with open(path, "rb") as file:
            for chunk in iter(lambda: file.read(1 << 20), b""):
                if digester:
                    digester.update(chunk)
                else:
                    crc = zlib.crc32(chunk, crc)
        value = digester.hexdigest() if digester else "%08x" % crc
        if self.corrupt:
            value = ("0" if value[0] != "0" else "1") + value[1:]
        size = os.path.getsize(path)
        self.respond("213 %s 0-%d %s %s" % (name, size, value, line))


@quirk("hash", "advertise and answer HASH (SHA-256, SHA-1, MD5, CRC32) with OPTS HASH")
def _hash(setup, value):
    setup.handler_mixins.append(HashMixin)
    setup.extra_commands["HASH"] = _command("Syntax: HASH <SP> file-name (hash of a file).")


class CorruptHashMixin(HashMixin):
    corrupt = True


@quirk("hash-corrupt", "like hash, but every digest is wrong (a corrupted upload)")
def _hash_corrupt(setup, value):
    setup.handler_mixins.append(CorruptHashMixin)
    setup.extra_commands["HASH"] = _command("Syntax: HASH <SP> file-name (hash of a file).")


class ExtensionHashMixin:
    """XSHA256, XSHA1, XMD5 and XCRC, as ProFTPD's mod_digest answers them ("250 <hex>")."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._extra_feats.extend(["XCRC", "XMD5", "XSHA1", "XSHA256"])

    def _extension_hash(self, line, digest):
        path = _checked_path(self, line)
        if path is None:
            return
        if not self.fs.isfile(path):
            self.respond("550 %s: not a plain file." % line)
            return
        crc = 0
        digester = digest() if digest else None
        with open(path, "rb") as file:
            for chunk in iter(lambda: file.read(1 << 20), b""):
                if digester:
                    digester.update(chunk)
                else:
                    crc = zlib.crc32(chunk, crc)
        self.respond("250 %s" % (digester.hexdigest() if digester else "%08X" % crc))

    def ftp_XSHA256(self, line):
        self._extension_hash(line, hashlib.sha256)

    def ftp_XSHA1(self, line):
        self._extension_hash(line, hashlib.sha1)

    def ftp_XMD5(self, line):
        self._extension_hash(line, hashlib.md5)

    def ftp_XCRC(self, line):
        self._extension_hash(line, None)


@quirk("xhash", "advertise and answer XSHA256/XSHA1/XMD5/XCRC (ProFTPD mod_digest style)")
def _xhash(setup, value):
    setup.handler_mixins.append(ExtensionHashMixin)
    for command in ("XSHA256", "XSHA1", "XMD5", "XCRC"):
        setup.extra_commands[command] = _command("Syntax: %s <SP> file-name." % command)


class SiteUtimeMixin:
    """SITE UTIME YYYYMMDDhhmm[ss] path (ProFTPD's mod_site_misc), the only way to set times."""

    def ftp_SITE_UTIME(self, line):
        stamp, _, name = line.partition(" ")
        path = _checked_path(self, name) if name else None
        if path is None:
            if not name:
                self.respond("501 Syntax: SITE UTIME YYYYMMDDhhmm[ss] path.")
            return
        try:
            when = calendar.timegm(time.strptime(stamp[:14].ljust(14, "0"), "%Y%m%d%H%M%S"))
            os.utime(path, (when, when))
        except (ValueError, OSError) as error:
            self.respond("550 %s." % error)
        else:
            self.respond("200 SITE UTIME command successful.")


@quirk("site-utime", "no MFMT; set times only with SITE UTIME (ProFTPD style)")
def _site_utime(setup, value):
    setup.handler_mixins.append(SiteUtimeMixin)
    setup.extra_commands["SITE UTIME"] = _command("Syntax: SITE UTIME <SP> YYYYMMDDhhmm[ss] <SP> path.")
    setup.removed_commands.append("MFMT")


class DOSListingMixin:
    """LIST output as IIS sends it in its default (MS-DOS) style:

        01-16-24  09:30AM       <DIR>          Documents
        11-03-23  11:05PM                 7045 report.txt
    """

    def format_list(self, basedir, listing, ignore_err=True):
        for basename in listing:
            path = os.path.join(basedir, basename)
            try:
                st = self.stat(path)  # IIS shows no links: what they point at
            except (OSError, ValueError):
                if ignore_err:
                    continue
                raise
            when = time.gmtime(st.st_mtime)
            stamp = time.strftime("%m-%d-%y  %I:%M%p", when)
            if os.path.isdir(path):
                line = "%s       <DIR>          %s\r\n" % (stamp, basename)
            else:
                line = "%s %20d %s\r\n" % (stamp, st.st_size, basename)
            yield line.encode(self.cmd_channel.wire_encoding, self.cmd_channel.unicode_errors)


@quirk("dos-list", "LIST in IIS's MS-DOS style (use with --no-mlsd)")
def _dos_list(setup, value):
    setup.fs_mixins.append(DOSListingMixin)


class WireEncodingMixin:
    """Speaks a legacy encoding on the wire (commands, replies, listings) while names on disk
    stay UTF-8, like a Windows server with GBK names seen from Linux; FEAT drops UTF8."""

    def decode(self, data):
        return data.decode(self.wire_encoding, self.unicode_errors)

    def push(self, text):
        import asynchat
        asynchat.async_chat.push(self, text.encode(self.wire_encoding, self.unicode_errors))

    def ftp_FEAT(self, line):
        pushed = []
        real_push = self.push
        self.push = lambda text: pushed.append(text)
        try:
            super().ftp_FEAT(line)
        finally:
            self.push = real_push
        for text in pushed:
            real_push(text.replace(" UTF8\r\n", ""))

    def ftp_OPTS(self, line):
        if line.upper().startswith("UTF8"):
            self.respond("502 UTF-8 is not supported here.")
            return
        return super().ftp_OPTS(line)


class WireEncodingFSMixin:
    """Re-encodes LIST, MLSD and MLST output (which pyftpdlib builds as UTF-8)."""

    def _reencode(self, lines):
        encoding = self.cmd_channel.wire_encoding
        for line in lines:
            yield line.decode("utf8").encode(encoding, self.cmd_channel.unicode_errors)

    def format_list(self, basedir, listing, ignore_err=True):
        lines = super().format_list(basedir, listing, ignore_err)
        if DOSListingMixin in type(self).__mro__:
            yield from lines  # already in the wire encoding
        else:
            yield from self._reencode(lines)

    def format_mlsx(self, basedir, listing, perms, facts, ignore_err=True):
        yield from self._reencode(super().format_mlsx(basedir, listing, perms, facts, ignore_err))


@quirk("encoding", "encoding=NAME: speak NAME (e.g. gbk) on the wire instead of UTF-8")
def _encoding(setup, value):
    if not value:
        raise SystemExit("ftp_server.py: --quirk encoding=NAME needs a codec name")
    "".encode(value)  # fails early on an unknown codec
    setup.handler_mixins.append(WireEncodingMixin)
    setup.fs_mixins.append(WireEncodingFSMixin)
    setup.handler_attributes["wire_encoding"] = value


class ListLimitFSMixin:
    """Sends at most `listing_limit` entries per LIST/MLSD, as Pure-FTPd does (10000 by default)."""

    def _limited(self, lines):
        for count, line in enumerate(lines):
            if count == self.cmd_channel.listing_limit:
                self.cmd_channel.listing_truncated = True
                return
            yield line

    def format_list(self, basedir, listing, ignore_err=True):
        return self._limited(super().format_list(basedir, listing, ignore_err))

    def format_mlsx(self, basedir, listing, perms, facts, ignore_err=True):
        return self._limited(super().format_mlsx(basedir, listing, perms, facts, ignore_err))


class ListLimitMixin:
    listing_truncated = False

    def respond(self, resp, *args, **kwargs):
        if resp.startswith("226") and self.listing_truncated:
            self.listing_truncated = False
            self.push("226-Output truncated to %d matches\r\n" % self.listing_limit)
        return super().respond(resp, *args, **kwargs)


@quirk("list-limit", "list-limit=N: LIST/MLSD send at most N entries and say "
                     "'226-Output truncated to N matches' (Pure-FTPd)")
def _list_limit(setup, value):
    try:
        limit = int(value)
    except (TypeError, ValueError):
        raise SystemExit("ftp_server.py: --quirk list-limit=N needs a number")
    setup.fs_mixins.insert(0, ListLimitFSMixin)
    setup.handler_mixins.append(ListLimitMixin)
    setup.handler_attributes["listing_limit"] = limit


class NoListOptionsMixin:
    """LIST takes its argument as a path only: `LIST -a` is "550 -a: No such file"."""

    def pre_process_command(self, line, cmd, arg):
        if cmd == "LIST" and arg and arg.startswith("-"):
            self.logline("<- %s" % line)
            self.respond("550 %s: No such file or directory." % arg)
            return
        return super().pre_process_command(line, cmd, arg)


@quirk("no-list-options", "LIST -a (any LIST option) answers 550")
def _no_list_options(setup, value):
    setup.handler_mixins.append(NoListOptionsMixin)


class DropControlMixin:
    """Closes every control connection (and its transfer) `drop_after` seconds after it opened,
    like a server or middlebox that keeps dropping sessions."""

    def on_connect(self):
        super().on_connect()
        self.ioloop.call_later(self.drop_after, self._drop, _errback=self.handle_error)

    def _drop(self):
        if not self._closed:
            self.log("dropping the control connection (quirk drop-control-every)")
            self.close()


@quirk("drop-control-every", "drop-control-every=SECONDS: close each control connection "
                             "(and any transfer) that many seconds after it opened")
def _drop_control(setup, value):
    setup.handler_mixins.append(DropControlMixin)
    setup.handler_attributes["drop_after"] = float(value or 2)


class IdleDropMixin:
    """Drops a session that sent no command for `idle_limit` seconds (and has no transfer open)
    with "421 Control connection timed out.", as vsftpd's idle_session_timeout does."""

    def on_connect(self):
        super().on_connect()
        self._last_command = time.monotonic()
        self._idle_check = self.ioloop.call_every(0.2, self._check_idle, _errback=self.handle_error)

    def found_terminator(self):
        self._last_command = time.monotonic()
        return super().found_terminator()

    def _check_idle(self):
        if self._closed:
            self._idle_check.cancel()
            return
        if self.data_channel is None and time.monotonic() - self._last_command >= self.idle_limit:
            self._idle_check.cancel()
            self.respond("421 Control connection timed out.")
            self.close_when_done()


@quirk("idle-timeout", "idle-timeout=SECONDS: drop sessions idle that long with "
                       "'421 Control connection timed out.'")
def _idle_timeout(setup, value):
    setup.handler_mixins.append(IdleDropMixin)
    setup.handler_attributes["idle_limit"] = float(value or 2)


def _dtp_handler_with(setup, mixin):
    """Adds a mixin to the handler's data-transfer class (built once per setup)."""
    bases = setup.handler_attributes.get("_dtp_mixins", [])
    bases.append(mixin)
    setup.handler_attributes["_dtp_mixins"] = bases


class DropDataOnceDTPMixin:
    """The first download's data connection is cut after `drop_data_after` bytes."""

    dropped = [False]

    def send(self, data):
        sent = super().send(data)
        if (not self.receive and not self.dropped[0]
                and self.get_transmitted_bytes() >= self.cmd_channel.drop_data_after):
            self.dropped[0] = True
            self.cmd_channel.log("cutting the data connection (quirk drop-data-once)")
            self.handle_close()
        return sent


@quirk("drop-data-once", "drop-data-once=BYTES: cut the first download's data connection "
                         "after BYTES (426)")
def _drop_data_once(setup, value):
    _dtp_handler_with(setup, DropDataOnceDTPMixin)
    setup.handler_attributes["drop_data_after"] = int(value or 1000000)
    setup.handler_attributes["use_sendfile"] = False  # sendfile would bypass send()


class AbortExtraReplyDTPMixin:
    """A download the client stops early gets two replies, 426 then a stale 226, as some
    servers send after ABOR."""

    def close(self):
        stopped_early = not self._closed and not self.receive and not self.transfer_finished
        super().close()
        if stopped_early:
            self.cmd_channel.respond("226 Abort successful (a second, stale reply).")


@quirk("abort-extra-reply", "after a download the client aborts, send 426 and then a stale 226")
def _abort_extra_reply(setup, value):
    _dtp_handler_with(setup, AbortExtraReplyDTPMixin)


class StorQuotaDTPMixin:
    """An upload that makes its file reach `stor_quota` bytes is cut off there: the data
    connection is closed and the client told '552 Disk quota exceeded', as ProFTPD's
    mod_quotatab does mid-transfer. APPE to continue fails the same way."""

    def handle_read(self):
        super().handle_read()
        if (self.receive and not self._closed and self.file_obj is not None
                and not self.file_obj.closed and self.file_obj.tell() >= self.cmd_channel.stor_quota):
            self.cmd_channel.log("cutting the upload at the quota (quirk stor-quota)")
            self.transfer_finished = False
            self._resp = ("552 Transfer aborted. Disk quota exceeded.", logging.getLogger("pyftpdlib").info)
            self.close()

    handle_read_event = handle_read  # pyftpdlib binds the name to its own handle_read


@quirk("stor-quota", "stor-quota=BYTES: cut an upload off with 552 once its file reaches BYTES")
def _stor_quota(setup, value):
    _dtp_handler_with(setup, StorQuotaDTPMixin)
    setup.handler_attributes["stor_quota"] = int(value or 1000000)


class Stor552AtEndDTPMixin:
    """Every upload is received in full, then refused with 552 instead of 226 when the client
    closes the data connection (a quota checked, or a disk that filled, at the end)."""

    def handle_close(self):
        if self.receive and not self._closed:
            self.cmd_channel.log("refusing the finished upload (quirk stor-552-at-end)")
            self.transfer_finished = False
            self._resp = ("552 Disk quota exceeded; upload discarded.", logging.getLogger("pyftpdlib").info)
            self.close()
        else:
            super().handle_close()


@quirk("stor-552-at-end", "receive every upload in full, then answer 552 instead of 226")
def _stor_552_at_end(setup, value):
    _dtp_handler_with(setup, Stor552AtEndDTPMixin)


class DropUploadOnceDTPMixin:
    """The first upload's data connection is cut after `drop_upload_after` bytes (426)."""

    dropped = [False]

    def handle_read(self):
        super().handle_read()
        if (self.receive and not self._closed and not self.dropped[0]
                and self.get_transmitted_bytes() >= self.cmd_channel.drop_upload_after):
            self.dropped[0] = True
            self.cmd_channel.log("cutting the upload's data connection (quirk drop-upload-once)")
            self.transfer_finished = False
            self._resp = ("426 Connection closed; transfer aborted.", logging.getLogger("pyftpdlib").info)
            self.close()

    handle_read_event = handle_read  # pyftpdlib binds the name to its own handle_read


@quirk("drop-upload-once", "drop-upload-once=BYTES: cut the first upload's data connection "
                           "after BYTES (426)")
def _drop_upload_once(setup, value):
    _dtp_handler_with(setup, DropUploadOnceDTPMixin)
    setup.handler_attributes["drop_upload_after"] = int(value or 1000000)


@quirk("without", "without=CMD[,CMD...]: the server does not know these commands (500), "
                  "e.g. without=EPSV,EPRT for a PASV/PORT-only server")
def _without(setup, value):
    for command in (value or "").split(","):
        if command.strip():
            setup.removed_commands.append(command.strip().upper())


class SiteSymlinkMixin:
    """SITE SYMLINK target link, as ProFTPD's mod_site_misc offers it."""

    def ftp_SITE_SYMLINK(self, line):
        target, _, link = line.partition(" ")
        path = _checked_path(self, link) if link else None
        if path is None:
            if not link:
                self.respond("501 Syntax: SITE SYMLINK <target> <link>.")
            return
        try:
            os.symlink(target, path)
        except OSError as error:
            self.respond("550 %s." % error.strerror)
        else:
            self.respond("200 SITE SYMLINK command successful.")


@quirk("site-symlink", "accept SITE SYMLINK target link")
def _site_symlink(setup, value):
    setup.handler_mixins.append(SiteSymlinkMixin)
    setup.extra_commands["SITE SYMLINK"] = _command("Syntax: SITE SYMLINK <SP> target <SP> link.")


class SiteCopyMixin:
    """SITE CPFR / SITE CPTO, as ProFTPD's mod_copy offers them: the server copies a file."""

    def ftp_SITE_CPFR(self, line):
        path = _checked_path(self, line)
        if path is None:
            return
        if not self.fs.isfile(path):
            self.respond("550 %s: No such file or directory." % line)
            return
        self._copy_from = path
        self.respond("350 File or directory exists, ready for destination name.")

    def ftp_SITE_CPTO(self, line):
        source = getattr(self, "_copy_from", None)
        self._copy_from = None
        if source is None:
            self.respond("503 Bad sequence of commands.")
            return
        path = _checked_path(self, line)
        if path is None:
            return
        try:
            shutil.copyfile(source, path)
        except OSError as error:
            self.respond("550 %s." % error.strerror)
        else:
            self.respond("250 Copy successful.")


@quirk("site-copy", "accept SITE CPFR/SITE CPTO server-side copies")
def _site_copy(setup, value):
    setup.handler_mixins.append(SiteCopyMixin)
    setup.extra_commands["SITE CPFR"] = _command("Syntax: SITE CPFR <SP> source.")
    setup.extra_commands["SITE CPTO"] = _command("Syntax: SITE CPTO <SP> destination.")


class RntoNoOverwriteMixin:
    """RNTO refuses an existing target, as IIS and FileZilla Server do."""

    def ftp_RNTO(self, path):
        if self._rnfr and self.fs.lexists(path):
            self._rnfr = None
            self.respond("550 Cannot create a file when that file already exists.")
            return
        return super().ftp_RNTO(path)


@quirk("rnto-no-overwrite", "RNTO onto an existing name fails with 550 (IIS-style)")
def _rnto_no_overwrite(setup, value):
    setup.handler_mixins.append(RntoNoOverwriteMixin)


class ListDelayMixin:
    """Answers each LIST, NLST and MLSD `list_delay` seconds late, without holding up other
    sessions, and logs how many listings are waiting at each new one ("listings waiting: N"):
    a client that lists on several connections at once shows N > 1."""

    waiting = [0]  # shared by every session

    def _delay_listing(self, listing, path):
        ListDelayMixin.waiting[0] += 1
        self.log("listings waiting: %d" % ListDelayMixin.waiting[0])

        def answer():
            ListDelayMixin.waiting[0] -= 1
            if not self._closed:
                listing(path)

        self.ioloop.call_later(self.list_delay, answer, _errback=self.handle_error)

    def ftp_LIST(self, path):
        self._delay_listing(super().ftp_LIST, path)

    def ftp_NLST(self, path):
        self._delay_listing(super().ftp_NLST, path)

    def ftp_MLSD(self, path):
        self._delay_listing(super().ftp_MLSD, path)


@quirk("list-delay", "list-delay=SECONDS: answer every listing that late (other sessions go on "
                     "meanwhile) and log 'listings waiting: N' as each arrives")
def _list_delay(setup, value):
    setup.handler_mixins.append(ListDelayMixin)
    setup.handler_attributes["list_delay"] = float(value or 0.2)


# --- Quirks of the write path's fault matrix ------------------------------

class RefuseMixin:
    """Answers chosen commands with a chosen reply (``refusals``: (VERB, code, glob)), e.g. an
    RNFR refused with 502 or a DELE with 550. A refused transfer command also drops the data
    connection the client may already have opened."""

    TRANSFERS = ("STOR", "APPE", "STOU", "RETR", "LIST", "NLST", "MLSD")

    def pre_process_command(self, line, cmd, arg):
        verb = cmd.upper()
        if verb == "SITE" and arg:
            verb = "SITE " + arg.split(" ")[0].upper()
        for refused, code, pattern in self.refusals:
            if verb == refused and (pattern is None or fnmatch.fnmatch(os.path.basename(arg or ""), pattern)):
                self.logline("<- %s" % line)
                if verb in self.TRANSFERS:
                    self._shutdown_connecting_dtp()
                    if self.data_channel is not None:
                        self.data_channel.close()
                        self.data_channel = None
                    self._restart_position = 0
                if verb == "RNTO":
                    self._rnfr = None
                self.log("refusing %s with %d (quirk refuse)" % (verb, code))
                self.respond("%d %s refused (quirk)." % (code, verb))
                return
        return super().pre_process_command(line, cmd, arg)


@quirk("refuse", "refuse=VERB:CODE[:GLOB]: answer VERB (e.g. RNFR, DELE, STOR, 'SITE CHMOD') with CODE, "
                 "for names matching GLOB only when given (repeatable)")
def _refuse(setup, value):
    parts = (value or "").split(":")
    if len(parts) < 2 or not parts[1].isdigit():
        raise SystemExit("ftp_server.py: --quirk refuse=VERB:CODE[:GLOB]")
    refusals = setup.handler_attributes.setdefault("refusals", [])
    if not refusals:
        setup.handler_mixins.insert(0, RefuseMixin)
    refusals.append((parts[0].upper(), int(parts[1]), parts[2] if len(parts) > 2 else None))


class WithholdVerdictDTPMixin:
    """The first upload is received in full, but its final reply never comes (the client must
    time out and find out for itself what arrived)."""

    withheld = [False]

    def close(self):
        if self.receive and not self._closed and not self.withheld[0]:
            self.withheld[0] = True
            self.cmd_channel.log("withholding the final reply (quirk withhold-226)")
            self._resp = None
        super().close()


@quirk("withhold-226", "receive the first upload, then never send its final reply")
def _withhold_226(setup, value):
    _dtp_handler_with(setup, WithholdVerdictDTPMixin)


class DropControlAfterUploadDTPMixin:
    """The first upload is received in full, then its control connection is closed instead of
    answered: the client cannot know the upload's fate from it."""

    dropped = [False]

    def close(self):
        if self.receive and not self._closed and not self.dropped[0]:
            self.dropped[0] = True
            self._resp = None
            super().close()
            self.cmd_channel.log("dropping the control connection after the upload (quirk drop-control-after-stor)")
            self.cmd_channel.close()
            return
        super().close()


@quirk("drop-control-after-stor", "receive the first upload, then close its control connection "
                                  "instead of answering")
def _drop_control_after_stor(setup, value):
    _dtp_handler_with(setup, DropControlAfterUploadDTPMixin)


class DropControlOnceDTPMixin:
    """The control connection of the first upload is closed once `drop_control_after` bytes of
    it arrived (the data connection with it), as a server restart or a NAT timeout does."""

    dropped = [False]

    def handle_read(self):
        super().handle_read()
        if (self.receive and not self._closed and not self.dropped[0]
                and self.get_transmitted_bytes() >= self.cmd_channel.drop_control_after):
            self.dropped[0] = True
            self.cmd_channel.log("dropping the control connection mid-upload (quirk drop-control-once)")
            self._resp = None
            self.cmd_channel.close()

    handle_read_event = handle_read


@quirk("drop-control-once", "drop-control-once=BYTES: close the first upload's control (and data) "
                            "connection once BYTES of it arrived")
def _drop_control_once(setup, value):
    _dtp_handler_with(setup, DropControlOnceDTPMixin)
    setup.handler_attributes["drop_control_after"] = int(value or 1000000)


class DelayedWriteFile:
    """A file whose writes land `delay` seconds after they are made, in order, and which
    closes once they all did, even after the transfer that made them is gone: a server whose
    disk lags behind its network."""

    def __init__(self, real, ioloop, delay):
        self._real = real
        self._ioloop = ioloop
        self._delay = delay
        self._pending = 0
        self._close_wanted = False
        self.name = real.name

    @property
    def closed(self):
        return self._close_wanted or self._real.closed

    @property
    def pending(self):
        return self._pending > 0

    def write(self, data):
        self._pending += 1
        self._ioloop.call_later(self._delay, self._land, bytes(data))
        return len(data)

    def _land(self, data):
        self._real.write(data)
        self._real.flush()
        self._pending -= 1
        if self._pending == 0 and self._close_wanted:
            self._real.close()

    def close(self):
        self._close_wanted = True
        if self._pending == 0:
            self._real.close()

    def __getattr__(self, name):
        return getattr(self._real, name)


class DelayWritesDTPMixin:
    """Uploads are written to disk `write_delay` seconds after they arrive, and a transfer's
    final reply waits until they all landed (as a server whose disk lags would answer): only
    what arrived on a connection that then dropped lands after its client moved on."""

    def close(self):
        file = self.file_obj
        if isinstance(file, DelayedWriteFile) and file.pending and not self.cmd_channel._closed:
            if not getattr(self, "_close_waiting", False):
                self._close_waiting = True
                self.ioloop.call_later(0.02, self._close_when_written)
            return
        super().close()

    def _close_when_written(self):
        self._close_waiting = False
        self.close()

    @property
    def file_obj(self):
        return self.__dict__.get("_delayed_file_obj")

    @file_obj.setter
    def file_obj(self, value):
        if value is not None and any(c in getattr(value, "mode", "") for c in "wa+"):
            value = DelayedWriteFile(value, self.ioloop, self.cmd_channel.write_delay)
        self.__dict__["_delayed_file_obj"] = value

    def _use_sendfile(self):
        return False


@quirk("delay-writes", "delay-writes=SECONDS: write uploaded bytes to disk that late (they still land "
                       "after their connection is gone)")
def _delay_writes(setup, value):
    _dtp_handler_with(setup, DelayWritesDTPMixin)
    setup.handler_attributes["write_delay"] = float(value or 0.5)


class SizeLiesFSMixin:
    """SIZE and listings say files are `size_lie` bytes bigger than they are; RETR sends what
    there is."""

    def _bigger(self, st):
        import stat as stat_module
        if not stat_module.S_ISREG(st.st_mode):
            return st
        fields = list(st)
        fields[6] += self.cmd_channel.size_lie
        return os.stat_result(fields)

    def stat(self, path):
        return self._bigger(super().stat(path))

    def lstat(self, path):
        return self._bigger(super().lstat(path))

    def getsize(self, path):
        size = super().getsize(path)
        return size + self.cmd_channel.size_lie if self.isfile(path) else size


@quirk("size-lies", "size-lies=BYTES: SIZE, LIST and MLSD say every file is BYTES bigger than RETR sends")
def _size_lies(setup, value):
    setup.fs_mixins.append(SizeLiesFSMixin)
    setup.handler_attributes["size_lie"] = int(value or 1000)


class DropBoxMixin:
    """An upload-only directory (`dropbox`): the login may enter it and store files there, but
    listing it, and asking about or reading, renaming or deleting what is in it, answers 550."""

    LOOKS = ("LIST", "NLST", "MLSD", "MLST", "SIZE", "MDTM", "RETR", "RNFR", "RNTO", "DELE", "HASH",
             "XSHA256", "XSHA1", "XMD5", "XCRC", "MFMT", "STAT", "SITE CHMOD", "APPE")

    def _in_dropbox(self, arg, cmd):
        if cmd in ("LIST", "NLST", "MLSD") and (not arg or arg.startswith("-")):
            target = self.fs.cwd
        else:
            target = self.fs.ftpnorm(arg or "")
        box = self.dropbox.rstrip("/")
        return target == box or target.startswith(box + "/")

    def pre_process_command(self, line, cmd, arg):
        verb = cmd.upper()
        if verb == "SITE" and arg:
            verb = "SITE " + arg.split(" ")[0].upper()
            arg = line[len(verb) + 1:].split(" ", 1)[-1]
        if verb in self.LOOKS and self.authenticated and self._in_dropbox(arg, verb):
            self.logline("<- %s" % line)
            self._shutdown_connecting_dtp()
            if self.data_channel is not None:
                self.data_channel.close()
                self.data_channel = None
            if verb == "RNTO":
                self._rnfr = None
            self.respond("550 Permission denied (upload-only directory).")
            return
        return super().pre_process_command(line, cmd, arg)


@quirk("dropbox", "dropbox=/DIR: an upload-only directory: CWD and STOR work there, LIST, SIZE, RETR, "
                  "RNFR, DELE, ... answer 550")
def _dropbox(setup, value):
    if not value or not value.startswith("/"):
        raise SystemExit("ftp_server.py: --quirk dropbox=/DIR")
    setup.handler_mixins.insert(0, DropBoxMixin)
    setup.handler_attributes["dropbox"] = value

# -- Hostile listings and cut TLS streams (hardening tests) --------------------

class HostileEntriesFSMixin:
    """LIST and MLSD of a directory named `hostile` send, before its real entries, entries no
    client may show: a path for a name, NUL and CR in names, names of 256 and 1100 bytes (the
    kernel's own limit for a FUSE name is 1024), bytes that are not UTF-8, `..` as a file, a link
    whose target holds NUL, and a line that is no entry at all; and after them, a second
    `good.txt`."""

    def _hostile(self, basedir):
        return os.path.basename(os.path.normpath(basedir)) == "hostile"

    def format_list(self, basedir, listing, ignore_err=True):
        if self._hostile(basedir):
            stamp = time.strftime("%b %d %H:%M", time.gmtime())
            for kind, name in [("-", b"a/b"), ("-", b"nul\x00byte"), ("-", b"carriage\rreturn"),
                               ("-", b"x" * 256), ("-", b"y" * 1100), ("-", b"bad\xff\xfeutf8"),
                               ("-", b".."), ("l", b"bad-link -> tar\x00get")]:
                mode = "lrwxrwxrwx" if kind == "l" else "-rw-r--r--"
                yield ("%s   1 owner    group          99 %s " % (mode, stamp)).encode() + name + b"\r\n"
            yield b"this line is no listing entry\r\n"
        yield from super().format_list(basedir, listing, ignore_err)
        if self._hostile(basedir):
            yield ("-rw-r--r--   1 owner    group          99 %s good.txt\r\n" % stamp).encode()

    def format_mlsx(self, basedir, listing, perms, facts, ignore_err=True):
        if self._hostile(basedir):
            modify = time.strftime("%Y%m%d%H%M%S", time.gmtime())
            for facts_text, name in [("type=file;size=99", b"a/b"), ("type=file;size=99", b"nul\x00byte"),
                                     ("type=file;size=99", b"carriage\rreturn"),
                                     ("type=file;size=99", b"x" * 256), ("type=file;size=99", b"y" * 1100),
                                     ("type=file;size=99", b"bad\xff\xfeutf8"), ("type=file;size=99", b".."),
                                     ("type=OS.unix=slink:tar\x00get", b"bad-link")]:
                yield ("%s;modify=%s; " % (facts_text, modify)).encode() + name + b"\r\n"
            yield b"this line is no listing entry\r\n"
        yield from super().format_mlsx(basedir, listing, perms, facts, ignore_err)
        if self._hostile(basedir):
            yield ("type=file;size=99;modify=%s; good.txt\r\n" % modify).encode()


@quirk("hostile-entries", "LIST/MLSD of any directory named 'hostile' also send unsafe and "
                          "unparsable entries before the real ones, and good.txt again after them")
def _hostile_entries(setup, value):
    setup.fs_mixins.append(HostileEntriesFSMixin)


class CutTLSDataDTPMixin:
    """A download's data connection ends once `cut_tls_data_after` bytes of it were sent, with a
    bare TCP FIN, without TLS close_notify, while the control connection says 226: what a client
    sees when someone on the path cuts the stream. Taking that FIN for the end of the file
    would silently serve a truncated file."""

    def send(self, data):
        if not self.receive and self.file_obj is not None:
            remaining = self.cmd_channel.cut_tls_data_after - self.get_transmitted_bytes()
            if remaining <= 0:
                self.cmd_channel.log("cutting the TLS data connection without close_notify (quirk tls-cut-data)")
                self._error = True  # TLS_DTPHandler.close() then skips SSL_shutdown: no close_notify
                self.transfer_finished = True
                self._resp = ("226 Transfer complete.", logging.getLogger("pyftpdlib").debug)
                self.close()
                return 0
            data = data[:remaining]
        return super().send(data)


@quirk("tls-cut-data", "tls-cut-data=BYTES: end every download's data connection after BYTES of it "
                       "with a TCP FIN but no TLS close_notify, and answer 226 (use with --tls-cert)")
def _tls_cut_data(setup, value):
    _dtp_handler_with(setup, CutTLSDataDTPMixin)
    setup.handler_attributes["cut_tls_data_after"] = int(value or 100000)
    setup.handler_attributes["use_sendfile"] = False


class StrayReplyMixin:
    """After `stray_after` (a verb), the next command first gets a reply that nothing asked
    for, then its own, as buggy servers and middleboxes do: a client that takes the first for
    the answer is out of step from then on."""

    def pre_process_command(self, line, cmd, arg):
        if getattr(self, "_stray_pending", False):
            self._stray_pending = False
            self.log("sending a stray reply (quirk stray-reply)")
            self.respond("226 Stray reply nobody asked for.")
        if cmd.upper() == self.stray_after:
            self._stray_pending = True
        return super().pre_process_command(line, cmd, arg)


@quirk("stray-reply", "stray-reply=VERB: after VERB, answer the next command with an extra '226' first")
def _stray_reply(setup, value):
    setup.handler_mixins.append(StrayReplyMixin)
    setup.handler_attributes["stray_after"] = (value or "MDTM").upper()


class EndlessWaitGreetingMixin:
    """Greets with "120 Service ready in 1 minute." every 0.2 s, for ever, never with 220 (but
    for the first connection, which the test harness uses to see that the server is up)."""

    connections = [0]

    def handle(self):
        EndlessWaitGreetingMixin.connections[0] += 1
        if EndlessWaitGreetingMixin.connections[0] == 1:
            return super().handle()
        self._say_wait()

    def _say_wait(self):
        if not self._closed:
            self.push("120 Service ready in 1 minute.\r\n")
            self.ioloop.call_later(0.2, self._say_wait, _errback=self.handle_error)


@quirk("endless-120", "greet with '120 Service ready in 1 minute.' every 0.2 s and never with 220 "
                       "(from the second connection on)")
def _endless_120(setup, value):
    setup.handler_mixins.append(EndlessWaitGreetingMixin)


class TrickleReplyMixin:
    """Sends the reply to `trickle_verb` one byte at a time, `trickle_interval` seconds apart:
    a server that keeps a client waiting without ever being silent for long."""

    def pre_process_command(self, line, cmd, arg):
        self._trickling = cmd.upper() == self.trickle_verb
        return super().pre_process_command(line, cmd, arg)

    def push(self, data):
        if not getattr(self, "_trickling", False) and not getattr(self, "_trickle_queue", ""):
            return super().push(data)
        if not getattr(self, "_trickle_queue", ""):
            self.log("trickling the reply (quirk trickle-reply)")
            self.ioloop.call_later(self.trickle_interval, self._push_one, _errback=self.handle_error)
        self._trickle_queue = getattr(self, "_trickle_queue", "") + data

    def _push_one(self):
        if self._closed or not self._trickle_queue:
            return
        char, self._trickle_queue = self._trickle_queue[0], self._trickle_queue[1:]
        super().push(char)
        if self._trickle_queue:
            self.ioloop.call_later(self.trickle_interval, self._push_one, _errback=self.handle_error)


@quirk("trickle-reply", "trickle-reply=VERB:SECONDS: send the reply to VERB a byte every SECONDS")
def _trickle_reply(setup, value):
    verb, _, interval = (value or "MLST:1").partition(":")
    setup.handler_mixins.insert(0, TrickleReplyMixin)
    setup.handler_attributes["trickle_verb"] = verb.upper()
    setup.handler_attributes["trickle_interval"] = float(interval or 1)


class TrickleDataDTPMixin:
    """Downloads go out a byte every `trickle_data_interval` seconds."""

    def writable(self):
        if time.monotonic() < getattr(self, "_next_send", 0):
            return False
        return super().writable()

    def send(self, data):
        interval = self.cmd_channel.trickle_data_interval
        self._next_send = time.monotonic() + interval
        self.ioloop.call_later(interval, lambda: None)  # wakes the loop to send the next byte
        return super().send(data[:1])


@quirk("trickle-data", "trickle-data=SECONDS: send downloads a byte every SECONDS")
def _trickle_data(setup, value):
    _dtp_handler_with(setup, TrickleDataDTPMixin)
    setup.handler_attributes["trickle_data_interval"] = float(value or 1)
    setup.handler_attributes["use_sendfile"] = False


class NoPipeliningMixin:
    """Reads one command per receive and throws away whatever came with it, as some servers and
    middleboxes do: a client that sends commands back to back waits for replies that never
    come."""

    def recv(self, buffer_size):
        data = super().recv(buffer_size)
        end = data.find(b"\r\n")
        if 0 <= end < len(data) - 2:
            self.log("dropping %d bytes sent after a command (quirk no-pipelining)" % (len(data) - end - 2))
            data = data[:end + 2]
        return data


@quirk("no-pipelining", "drop whatever arrives after the first command of a receive (commands sent "
                        "back to back are lost)")
def _no_pipelining(setup, value):
    setup.handler_mixins.append(NoPipeliningMixin)


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
    parser.add_argument("--tls-cert", metavar="FILE",
                        help="FTPS: offer AUTH TLS with this PEM certificate "
                             "(pyftpdlib's TLS_FTPHandler, needs python3-openssl)")
    parser.add_argument("--tls-key", metavar="FILE",
                        help="the certificate's private key (default: in --tls-cert)")
    parser.add_argument("--tls-implicit", action="store_true",
                        help="implicit FTPS: TLS from the first byte, no AUTH")
    parser.add_argument("--tls-required", action="store_true",
                        help="refuse USER/PASS before AUTH TLS and data "
                             "connections before PROT P")
    args = parser.parse_args(argv)
    if not args.user and not args.anonymous:
        parser.error("give at least one --user or --anonymous")
    if (args.tls_implicit or args.tls_required or args.tls_key) and not args.tls_cert:
        parser.error("--tls-implicit, --tls-required and --tls-key need --tls-cert")
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


class ImplicitTLSMixin:
    """Implicit FTPS: the TLS handshake starts at once and the greeting follows it."""

    def handle(self):
        self.secure_connection(self.ssl_context)

    def handle_ssl_established(self):
        if not getattr(self, "_implicit_greeted", False):
            self._implicit_greeted = True
            self._pbsz = self._prot = True  # RFC 4217 clients still send PBSZ/PROT
            super().handle()


def make_handler(args, setup):
    base = FTPHandler
    if args.tls_cert:
        from pyftpdlib.handlers import TLS_FTPHandler  # needs python3-openssl
        base = TLS_FTPHandler
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
        "proto_cmds": dict(base.proto_cmds),
        # pyftpdlib waits 3 s before answering a wrong password; tests of
        # failed logins need not.
        "auth_failed_timeout": 0,
    }
    attributes["proto_cmds"].update(setup.extra_commands)
    for command in setup.removed_commands:
        attributes["proto_cmds"].pop(command, None)
    if args.no_mlsd:
        # Not in proto_cmds: FEAT omits MLST, MLST/MLSD get "500 not
        # understood" and OPTS MLST is refused.
        for command in ("MLSD", "MLST"):
            attributes["proto_cmds"].pop(command, None)
    if args.passive_ports:
        first, _, last = args.passive_ports.partition("-")
        attributes["passive_ports"] = list(range(int(first), int(last) + 1))
    if args.tls_cert:
        attributes.update(certfile=args.tls_cert, keyfile=args.tls_key or args.tls_cert,
                          tls_control_required=args.tls_required,
                          tls_data_required=args.tls_required, ssl_context=None)
        if args.tls_implicit:
            setup.handler_mixins.insert(0, ImplicitTLSMixin)
    dtp_mixins = setup.handler_attributes.pop("_dtp_mixins", [])
    attributes.update(setup.handler_attributes)
    if dtp_mixins:
        attributes["dtp_handler"] = type("TestDTPHandler", tuple(dtp_mixins) + (base.dtp_handler,), {})
    if setup.fs_mixins:
        attributes["abstracted_fs"] = type("TestFS", tuple(setup.fs_mixins) + (AbstractedFS,), {})
    bases = tuple(setup.handler_mixins) + (base,)
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
