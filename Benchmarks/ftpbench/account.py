"""The benchmark's FTP account and PAM service, created when missing.

A system account of its own (shell /usr/sbin/nologin), so that the password hash, which decides
what a login costs, is the benchmark's choice (--password-hash) and tests running meanwhile
(which reset their own account `ftpfstest`) cannot change it. Nothing here assumes an earlier
run: on a machine that has never seen the project, the account, its group, its home and the PAM
file are all made here, before anything is chowned to the account.
"""
import grp
import os
import pwd
import shutil
import subprocess
import time

from .common import BenchError

FTP_USER = "ftpfsbench"
FTP_PASSWORD = "ftpfs-bench-pw-42"
# The test harness's PAM service (Tests/TestSupport/FTPTestServer+Vsftpd.swift): plain pam_unix
# without pam_shells, /etc/ftpusers or a delay after a wrong password.
PAM_SERVICE = "ftpfs-test"
PAM_CONTENT = """\
# PAM service of the vsftpd that ftpfs's tests and benchmark start (written by
# Tests/TestSupport or Benchmarks/ftpbench/account.py; safe to delete). Unlike /etc/pam.d/vsftpd
# it has no pam_shells and no /etc/ftpusers check, so the test account can keep
# /usr/sbin/nologin as its shell, and no delay after a wrong password.
auth     required  pam_unix.so nodelay
account  required  pam_unix.so
session  required  pam_unix.so
"""


def ensure_account(password_hash):
    """Creates the account (and its group) if missing, sets its password, writes the PAM file."""
    _create_user()
    home = pwd.getpwnam(FTP_USER).pw_dir
    if not os.path.isdir(home):
        os.makedirs(home, exist_ok=True)
        shutil.chown(home, FTP_USER)
    _set_password(password_hash)
    _write_pam_service()


def _create_user():
    try:
        pwd.getpwnam(FTP_USER)
        return
    except KeyError:
        pass
    argv = ["useradd", "--system", "--create-home", "--home-dir", f"/var/lib/{FTP_USER}",
            "--shell", "/usr/sbin/nologin", "--comment", "ftpfs benchmark FTP account"]
    try:
        grp.getgrnam(FTP_USER)
        argv += ["--gid", FTP_USER]  # a group left behind by an earlier account: useradd refuses to make it again
    except KeyError:
        pass
    result = subprocess.run(argv + [FTP_USER], capture_output=True, text=True, timeout=60)
    try:
        pwd.getpwnam(FTP_USER)
    except KeyError:
        raise BenchError(f"useradd {FTP_USER} failed: {result.stderr.strip()}")


def _set_password(password_hash):
    if password_hash == "sha512":
        # SHA-512 crypt, glibc's default 5000 rounds; the password goes through stdin only
        hashed = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=FTP_PASSWORD, capture_output=True,
                                text=True, timeout=60, check=True).stdout.strip()
        argv, line = ["chpasswd", "-e"], f"{FTP_USER}:{hashed}\n"
    else:  # what Debian 12's chpasswd (through PAM) makes by default
        argv, line = ["chpasswd"], f"{FTP_USER}:{FTP_PASSWORD}\n"
    for _ in range(20):  # chpasswd fails while someone else holds /etc/shadow's lock
        result = subprocess.run(argv, input=line, capture_output=True, text=True, timeout=60)
        if result.returncode == 0:
            return
        time.sleep(0.2)
    raise BenchError(f"chpasswd failed: {result.stderr.strip()}")


def _write_pam_service():
    path = f"/etc/pam.d/{PAM_SERVICE}"
    try:
        with open(path) as f:
            current = f.read()
    except FileNotFoundError:
        current = ""
    if "pam_unix.so nodelay" in current:  # the test harness's file is as good as ours
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temporary = f"{path}.tmp-{os.getpid()}"
    with open(temporary, "w") as f:
        f.write(PAM_CONTENT)
    os.chmod(temporary, 0o644)
    os.rename(temporary, path)
