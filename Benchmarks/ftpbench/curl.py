"""curl, one process and one login per transfer: the old baseline, kept as an information column
(it is what a script calling an FTP tool once per file gets)."""
import os

from .account import FTP_PASSWORD, FTP_USER
from .direct import list_entries


class Curl:
    def __init__(self, processes, run_dir, endpoint):
        self.processes = processes
        self.base = endpoint.url()
        # netrc, so the password is not in any argv
        self.netrc = os.path.join(run_dir, "netrc")
        if not os.path.exists(self.netrc):
            with open(os.open(self.netrc, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
                f.write(f"machine {endpoint.host} login {FTP_USER} password {FTP_PASSWORD}\n")

    def argv(self, *extra):
        return ["curl", "-sS", "--netrc-file", self.netrc, *extra]

    def url(self, path):
        return self.base + path

    def walk(self, top, timeout):
        """LIST of top and every directory below it, one curl (login) each. Returns the entries seen."""
        count = 0
        pending = [top.rstrip("/") + "/"]
        while pending:
            directory = pending.pop()
            _, out, _, _ = self.processes.run(self.argv(self.url(directory)), timeout, "curl LIST", stdout=None)
            for name, is_directory in list_entries(out.decode(errors="replace").splitlines()):
                count += 1
                if is_directory:
                    pending.append(f"{directory}{name}/")
        return count
