"""Run a real Dovecot POP3 server (Debian's dovecot-pop3d) in the foreground for tests and
benchmarks: a configuration under a temporary directory, an unprivileged port on 127.0.0.1, a
passwd-file of users with plain-text passwords (so APOP works), Maildirs the caller writes, and
a self-signed certificate for STLS and POP3S.

Dovecot 2.3 refuses mail access as root (UID 0), so when the tests run as root the mail
processes run as ``nobody`` and the Maildirs are handed to that user before each session.
Run as an ordinary user, everything runs as that user ("rootless installation").
"""

from __future__ import annotations

import grp
import os
import pathlib
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable

from _net import free_port

from mailprims import tls

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"


def available() -> bool:
    """Whether Dovecot with its POP3 server is installed."""
    return os.path.exists(DOVECOT) and os.path.exists("/usr/lib/dovecot/pop3")


class Dovecot:
    """A Dovecot instance serving POP3 (``port``) and POP3S (``pop3s_port``), and with
    ``imap=True`` IMAP too (``imap_port``, hierarchy separator ``/`` as mailprims' IMAP
    server has it, over the same Maildirs under ``root / "mail"``)."""

    def __init__(self, users: dict[str, str], *, imap: bool = False) -> None:
        self.users = users
        self.imap = imap
        self.root = pathlib.Path(tempfile.mkdtemp(prefix="mailprims-dovecot-"))
        # Dovecot's unprivileged processes must be able to reach the files.
        self.root.chmod(0o755)
        self.cert, self.key = tls.write_self_signed_certificate(self.root)
        self.cert.chmod(0o644)
        self.port = free_port()
        self.pop3s_port = free_port()
        self.imap_port = free_port() if imap else 0
        #: IMAP over TLS from the first byte (the IMAP client's implicit-TLS tests).
        self.imaps_port = free_port() if imap else 0
        self.log = self.root / "dovecot.log"
        self.process: subprocess.Popen[bytes] | None = None
        if os.geteuid() == 0:
            self.mail_uid = self.mail_gid = 65534  # nobody
            self.service_user = None
        else:
            self.mail_uid, self.mail_gid = os.getuid(), os.getgid()
            self.service_user = pwd.getpwuid(os.getuid()).pw_name
            self.service_group = grp.getgrgid(os.getgid()).gr_name
        for user in users:
            self.maildir(user)

    def maildir(self, user: str) -> pathlib.Path:
        """``user``'s Maildir (created with its ``new``, ``cur`` and ``tmp``)."""
        path = self.root / "mail" / user
        for sub in ("new", "cur", "tmp"):
            (path / sub).mkdir(parents=True, exist_ok=True)
        return path

    def hand_over(self) -> None:
        """Give the Maildirs to the mail user (after the test wrote messages as root)."""
        if os.geteuid() != 0:
            return
        for dirpath, _dirnames, filenames in os.walk(self.root / "mail"):
            os.chown(dirpath, self.mail_uid, self.mail_gid)
            for name in filenames:
                os.chown(os.path.join(dirpath, name), self.mail_uid, self.mail_gid)

    def _config(self) -> str:
        r = self.root
        lines = [
            f"base_dir = {r}/run",
            f"state_dir = {r}/state",
            f"log_path = {r}/dovecot.log",
            "protocols = pop3 imap" if self.imap else "protocols = pop3",
            "listen = 127.0.0.1",
            "ssl = yes",
            f"ssl_cert = <{self.cert}",
            f"ssl_key = <{self.key}",
            "disable_plaintext_auth = no",
            "auth_mechanisms = plain apop",
            # No delay on failed logins: tests check the refusal, not the penalty (and no
            # growing per-IP penalty either: the anvil listener below is closed).
            "auth_failure_delay = 0",
            f"mail_location = maildir:{r}/mail/%u",
            "first_valid_uid = 1",
            # Like mailprims: one session per maildrop, seen flags on RETR.
            "pop3_lock_session = yes",
            "passdb {",
            "  driver = passwd-file",
            f"  args = scheme=PLAIN username_format=%u {r}/passwd",
            "}",
            "userdb {",
            "  driver = passwd-file",
            f"  args = username_format=%u {r}/passwd",
            "}",
            "service pop3-login {",
            f"  inet_listener pop3 {{\n    port = {self.port}\n  }}",
            f"  inet_listener pop3s {{\n    port = {self.pop3s_port}\n    ssl = yes\n  }}",
            "}",
            "service imap-login {\n  inet_listener imap {\n"
            f"    port = {self.imap_port}\n  }}\n"
            f"  inet_listener imaps {{\n    port = {self.imaps_port}\n    ssl = yes\n  }}\n}}",
            "service anvil {",
            "  unix_listener anvil-auth-penalty {\n    mode = 0\n  }",
            "  chroot =" if self.service_user is not None else "",
            "}",
        ]
        if self.imap:
            lines += [
                "namespace inbox {\n  inbox = yes\n  separator = /\n}",
                "mailbox_idle_check_interval = 1 secs",
                # The benchmark holds a few dozen logged-in sessions (default: 10 per user
                # and address).
                "protocol imap {\n  mail_max_userip_connections = 100\n}",
            ]
        if self.service_user is not None:
            lines += [
                f"default_internal_user = {self.service_user}",
                f"default_internal_group = {self.service_group}",
                f"default_login_user = {self.service_user}",
                "service pop3-login {\n  chroot =\n}",
                "service imap-login {\n  chroot =\n}",
            ]
        return "\n".join(lines) + "\n"

    def start(self) -> Dovecot:
        (self.root / "run").mkdir(exist_ok=True)
        (self.root / "state").mkdir(exist_ok=True)
        passwd = "".join(
            f"{user}:{{PLAIN}}{password}:{self.mail_uid}:{self.mail_gid}::"
            f"{self.root}/mail/{user}::nodelay=y\n"
            for user, password in self.users.items()
        )
        (self.root / "passwd").write_text(passwd)
        conf = self.root / "dovecot.conf"
        conf.write_text(self._config())
        self.hand_over()
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"dovecot exited: {err}\n{self.read_log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                    if s.recv(100).startswith(b"+OK"):
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"dovecot did not start listening\n{self.read_log()}")

    def read_log(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
            if self.process.stderr:
                self.process.stderr.close()
            self.process = None
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Dovecot:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def write_messages(maildir: pathlib.Path, messages: Iterable[bytes], *, start: int = 0) -> None:
    """Deliver ``messages`` into ``maildir/new`` in order (names sort by delivery time)."""
    for i, data in enumerate(messages, start):
        name = f"{1_700_000_000 + i}.M{i}P1.test"
        tmp = maildir / "tmp" / name
        tmp.write_bytes(data)
        tmp.rename(maildir / "new" / name)
