"""The FTP commands ftpfs sent, read from its debug log (-o log_level=debug).

ControlConnection.send logs every command as `... ftpfs debug: > VERB args` (the password
masked) and every reply line as `< ...`. An operation's commands are the `>` lines written
between a mark taken before it and the moment the log has been quiet for a while after it.
"""
import os
import re
import time

COMMAND = re.compile(r" debug: > ([A-Za-z]+)")


class CommandTrace:
    def __init__(self, log_path):
        self.log_path = log_path

    def mark(self):
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def settle(self, quiet, limit=10.0):
        """Waits until the log has not grown for `quiet` seconds (work ftpfs does after the operation
        returned, e.g. a listing fetched ahead, counts with it), at most `limit` seconds."""
        deadline = time.monotonic() + limit
        size, since = self.mark(), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(quiet / 4)
            now_size = self.mark()
            if now_size != size:
                size, since = now_size, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return

    def commands_since(self, mark):
        """The verbs of the commands logged after mark, in order."""
        with open(self.log_path, "rb") as f:
            f.seek(mark)
            text = f.read().decode(errors="replace")
        return [match.group(1).upper() for match in COMMAND.finditer(text)]
