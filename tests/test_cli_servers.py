"""The command line's mail system: ``mailprims serve`` in a subprocess on free loopback
ports, ``send`` and ``fetch`` against it, ``users``, and the error cases (exact exit
statuses and one-line messages, never a traceback). Every subprocess is ended in a
``finally``."""

from __future__ import annotations

import imaplib
import os
import pty
import queue
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from _net import free_port

import mailprims as mp

PASSWORDS = {"alice": "alice pw 1", "bob": "bob pw 2"}


def mailprims(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "mailprims", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


def make_users(path: Path) -> None:
    for name, password in PASSWORDS.items():
        done = mailprims(
            "users", "add", "--file", str(path), name, "--password-env", "PW", env={"PW": password}
        )
        assert done.returncode == 0, done.stderr


class Serve:
    """``mailprims serve`` running in a subprocess; its log lines as they come."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mailprims",
                "serve",
                "--smtp-port",
                "0",
                "--pop3-port",
                "0",
                "--imap-port",
                "0",
                *args,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.log: list[str] = []
        assert self.process.stderr is not None
        stream = self.process.stderr
        threading.Thread(
            target=lambda: [self.lines.put(line) for line in stream], daemon=True
        ).start()
        started = self.wait_for("serving")
        ports = re.search(
            r"SMTP on 127\.0\.0\.1:(\d+), POP3 on 127\.0\.0\.1:(\d+), IMAP on 127\.0\.0\.1:(\d+)",
            started,
        )
        assert ports, started
        self.smtp_port, self.pop3_port, self.imap_port = (int(p) for p in ports.groups())

    def wait_for(self, text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                if self.process.poll() is not None and self.lines.empty():
                    break
                continue
            self.log.append(line)
            if text in line:
                return line
        raise AssertionError(f"no {text!r} in the log: {self.log}")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.process.send_signal(sig)
        status = self.process.wait(timeout=60)
        self.wait_for("stopped")
        return status

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


@contextmanager
def serving(*args: str) -> Iterator[Serve]:
    server = Serve(*args)
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def system(tmp_path: Path) -> Iterator[tuple[Path, Serve]]:
    users = tmp_path / "users"
    make_users(users)
    with serving("--maildir", str(tmp_path / "mail"), "--users", str(users)) as server:
        yield tmp_path, server


def send(port: int, *args: str) -> subprocess.CompletedProcess[str]:
    return mailprims("send", "--server", f"127.0.0.1:{port}", "--from", "alice@example.org", *args)


def fetch(port: int, *args: str, user: str = "bob") -> subprocess.CompletedProcess[str]:
    return mailprims(
        "fetch",
        "--server",
        f"127.0.0.1:{port}",
        "--user",
        user,
        "--password-env",
        "PW",
        "--allow-insecure-auth",
        *args,
        env={"PW": PASSWORDS[user]},
    )


def test_users_add_list_remove(tmp_path: Path) -> None:
    path = tmp_path / "users"
    make_users(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert PASSWORDS["alice"] not in path.read_text()  # Argon2id hashes only
    assert mp.Users.load(path).verify("alice", PASSWORDS["alice"])
    assert mailprims("users", "list", "--file", str(path)).stdout == "alice\nbob\n"
    again = mailprims(
        "users", "add", "--file", str(path), "alice", "--password-env", "PW", env={"PW": "x"}
    )
    assert (again.returncode, again.stderr) == (
        1,
        f"mailprims users: error: alice is already in {path}\n",
    )
    gone = mailprims("users", "remove", "--file", str(path), "carol")
    assert (gone.returncode, gone.stderr) == (
        1,
        f"mailprims users: error: no user carol in {path}\n",
    )
    removed = mailprims("users", "remove", "--file", str(path), "alice")
    assert (removed.returncode, removed.stdout) == (0, f"removed alice from {path}\n")
    assert mailprims("users", "list", "--file", str(path)).stdout == "bob\n"


def test_users_add_needs_a_password_source(tmp_path: Path) -> None:
    # No terminal (stdin is /dev/null) and no --password-env: nothing to read a password from.
    done = mailprims("users", "add", "--file", str(tmp_path / "users"), "carol")
    assert (done.returncode, done.stderr) == (
        1,
        "mailprims users: error: no terminal to ask for the password on: give --password-env VAR\n",
    )
    unset = mailprims(
        "users",
        "add",
        "--file",
        str(tmp_path / "users"),
        "carol",
        "--password-env",
        "MAILPRIMS_TEST_UNSET",
    )
    assert unset.stderr == (
        "mailprims users: error: the environment variable MAILPRIMS_TEST_UNSET is not set\n"
    )
    assert not (tmp_path / "users").exists()


def test_send_and_fetch_through_serve(system: tuple[Path, Serve]) -> None:
    root, server = system
    attachment = root / "report.csv"
    attachment.write_bytes(b"month,total\nMarch,42\n")
    sent = send(
        server.smtp_port,
        "--to",
        "bob@example.org",
        "--subject",
        "Rapport de mars",
        "--body",
        "Voilà le rapport.",
        "--attach",
        str(attachment),
    )
    assert sent.returncode == 0, sent.stderr
    queue_id = re.fullmatch(
        rf"sent to bob@example.org via 127\.0\.0\.1:{server.smtp_port}: "
        r"250 2\.0\.0 OK: queued as (\w+)\n",
        sent.stdout,
    )
    assert queue_id, sent.stdout
    logged = server.wait_for("smtp delivered")
    assert re.search(
        rf"smtp delivered id={queue_id[1]} from=<alice@example.org> "
        r"to=<bob@example.org> size=\d+ peer=127\.0\.0\.1$",
        logged.rstrip(),
    )

    # The same Maildir over IMAP (imaplib), without changing it for POP3.
    with imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=30) as imap:
        imap.login("bob", PASSWORDS["bob"])
        imap.select("INBOX", readonly=True)
        typ, data = imap.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert typ == "OK" and data[0] is not None
        assert data[0][1] == b"Subject: Rapport de mars\r\n\r\n"
    server.wait_for("imap login user=bob via=LOGIN")

    listing = fetch(server.pop3_port)
    assert listing.returncode == 0, listing.stderr
    assert re.match(
        r"\s+1\s+\d+  alice@example.org\s+Rapport de mars\n1 message, \d+ octets\n$", listing.stdout
    ), listing.stdout

    out = root / "inbox"
    fetched = fetch(server.pop3_port, "--output", str(out), "--delete")
    assert fetched.returncode == 0, fetched.stderr
    assert re.fullmatch(
        rf"fetched 1 message \(\d+ octets\) into {out} \(\.eml files\); "
        r"deleted 1 on the server\n",
        fetched.stdout,
    ), fetched.stdout
    (eml,) = out.glob("*.eml")
    msg = mp.Message.parse_file(eml)
    assert msg.subject == "Rapport de mars"
    assert msg.text is not None and msg.text.startswith("Voilà le rapport.")
    assert [(p.filename, p.payload) for p in msg.attachments] == [
        ("report.csv", attachment.read_bytes())
    ]
    assert msg.received[0].by_host is not None
    for event in ("pop3 login user=bob", "pop3 retrieved", "pop3 deleted"):
        server.wait_for(event)
    # deleted at QUIT: nothing left
    assert fetch(server.pop3_port).stdout == "0 messages, 0 octets\n"


def test_serve_reloads_the_users_file_and_stops_on_sigint(system: tuple[Path, Serve]) -> None:
    root, server = system
    refused = send(server.smtp_port, "--to", "carol@example.org", "--body", "hi")
    assert refused.returncode == 1
    assert refused.stderr.startswith(
        "mailprims send: error: all recipients were refused: carol@example.org: 550 5.1.1"
    )
    added = mailprims(
        "users",
        "add",
        "--file",
        str(root / "users"),
        "carol",
        "--password-env",
        "PW",
        env={"PW": "carol pw"},
    )
    assert added.returncode == 0
    server.wait_for("reloaded")
    assert send(server.smtp_port, "--to", "carol@example.org", "--body", "hi").returncode == 0
    assert server.stop(signal.SIGINT) == 0


def test_serve_with_tls(tmp_path: Path) -> None:
    users = tmp_path / "users"
    make_users(users)
    cert, key = mp.tls.write_self_signed_certificate(tmp_path)
    with serving(
        "--maildir",
        str(tmp_path / "mail"),
        "--users",
        str(users),
        "--tls-cert",
        str(cert),
        "--tls-key",
        str(key),
    ) as server:
        assert "(STARTTLS/STLS)" in server.log[-1]
        sent = mailprims(
            "send",
            "--server",
            f"127.0.0.1:{server.smtp_port}",
            "--from",
            "alice@example.org",
            "--to",
            "bob@example.org",
            "--cafile",
            str(cert),
            "--tls",
            "starttls",
            "--user",
            "alice",
            "--password-env",
            "PW",
            "--body",
            "over TLS",
            "-v",
            env={"PW": PASSWORDS["alice"]},
        )
        assert sent.returncode == 0, sent.stderr
        # --verbose: the dialogue on stderr, credentials redacted
        assert "C: STARTTLS" in sent.stderr and "C: AUTH PLAIN ********" in sent.stderr
        assert PASSWORDS["alice"] not in sent.stderr
        assert (
            server.wait_for("smtp delivered")
            .rstrip()
            .endswith(
                "user=alice size="
                + server.log[-1].rsplit("size=", 1)[1].split()[0]
                + " peer=127.0.0.1 tls"
            )
        )
        fetched = mailprims(
            "fetch",
            "--server",
            f"127.0.0.1:{server.pop3_port}",
            "--user",
            "bob",
            "--password-env",
            "PW",
            "--cafile",
            str(cert),
            "--tls",
            "starttls",
            env={"PW": PASSWORDS["bob"]},
        )
        assert fetched.returncode == 0, fetched.stderr
        assert "1 message," in fetched.stdout
        assert server.wait_for("pop3 login").rstrip().endswith("tls")
        assert server.stop() == 0


def test_serve_port_in_use(tmp_path: Path) -> None:
    users = tmp_path / "users"
    make_users(users)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = mailprims(
            "serve",
            "--maildir",
            str(tmp_path / "mail"),
            "--users",
            str(users),
            "--smtp-port",
            str(port),
            "--pop3-port",
            "0",
        )
    assert (done.returncode, done.stderr) == (
        1,
        f"mailprims serve: error: cannot listen on 127.0.0.1:{port} for SMTP: the port is in use\n",
    )


def test_serve_bad_certificates(tmp_path: Path) -> None:
    users = tmp_path / "users"
    make_users(users)
    base = [
        "serve",
        "--maildir",
        str(tmp_path / "mail"),
        "--users",
        str(users),
        "--smtp-port",
        "0",
        "--pop3-port",
        "0",
    ]
    missing = tmp_path / "missing.pem"
    cert, key = mp.tls.write_self_signed_certificate(tmp_path)
    done = mailprims(*base, "--tls-cert", str(missing), "--tls-key", str(key))
    assert (done.returncode, done.stderr) == (
        1,
        f"mailprims serve: error: cannot read the TLS certificate {missing}: "
        "No such file or directory\n",
    )
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    done = mailprims(*base, "--tls-cert", str(garbage), "--tls-key", str(key))
    assert (done.returncode, done.stderr) == (
        1,
        f"mailprims serve: error: cannot serve TLS with {garbage} and {key}: "
        "no certificate found in PEM data\n",
    )
    other = tmp_path / "other"
    other.mkdir()
    _, other_key = mp.tls.write_self_signed_certificate(other)
    done = mailprims(*base, "--tls-cert", str(cert), "--tls-key", str(other_key))
    assert done.returncode == 1
    assert done.stderr.startswith(
        f"mailprims serve: error: cannot serve TLS with {cert} and {other_key}: "
    )
    assert done.stderr.count("\n") == 1
    alone = mailprims(*base, "--tls-cert", str(cert))
    assert (alone.returncode, alone.stderr) == (
        2,
        "mailprims serve: error: --tls-cert and --tls-key go together\n",
    )


def test_serve_bad_users_file(tmp_path: Path) -> None:
    base = ["serve", "--maildir", str(tmp_path / "mail"), "--smtp-port", "0", "--pop3-port", "0"]
    bad = tmp_path / "users"
    bad.write_text("# accounts\nalice:not-a-hash\n")
    done = mailprims(*base, "--users", str(bad))
    assert done.returncode == 1
    assert done.stderr.startswith(
        f"mailprims serve: error: bad users file {bad}:2: bad password hash"
    )
    assert done.stderr.count("\n") == 1
    missing = tmp_path / "nobody"
    done = mailprims(*base, "--users", str(missing))
    assert (done.returncode, done.stderr) == (
        1,
        f"mailprims serve: error: no users file {missing} (make one with: "
        f"mailprims users add --file {missing} NAME)\n",
    )


def test_client_errors(tmp_path: Path) -> None:
    closed_port = free_port()
    done = send(closed_port, "--to", "bob@example.org")
    assert done.returncode == 1
    assert done.stderr.startswith(
        f"mailprims send: error: cannot connect to 127.0.0.1:{closed_port}"
    )
    assert done.stderr.count("\n") == 1
    done = mailprims("fetch", "--user", "bob", "--delete")
    assert (done.returncode, done.stderr) == (
        2,
        "mailprims fetch: error: --delete needs --output: the messages would be lost\n",
    )
    done = mailprims("send", "--server", "mail.example.org:smtp", "--from", "a@x", "--to", "b@y")
    assert (done.returncode, done.stderr) == (
        2,
        "mailprims send: error: bad server address 'mail.example.org:smtp': "
        "use HOST or HOST:PORT\n",
    )


def test_fetch_shows_progress_on_a_terminal(system: tuple[Path, Serve]) -> None:
    root, server = system
    for n in range(3):
        assert (
            send(server.smtp_port, "--to", "bob@example.org", "--subject", f"n{n}").returncode == 0
        )
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mailprims",
                "fetch",
                "--server",
                f"127.0.0.1:{server.pop3_port}",
                "--user",
                "bob",
                "--password-env",
                "PW",
                "--allow-insecure-auth",
                "--output",
                str(root / "out"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=terminal,
            env={**os.environ, "PW": PASSWORDS["bob"]},
        )
        os.close(terminal)
        terminal = -1
        seen = b""
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                ready, _, _ = select.select([controller], [], [], 0.5)
                if ready:
                    try:
                        chunk = os.read(controller, 4096)
                    except OSError:  # the terminal closed: the process is done
                        break
                    if not chunk:
                        break
                    seen += chunk
                elif process.poll() is not None:
                    break
            assert process.wait(timeout=60) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)
            if process.stdout is not None:
                process.stdout.close()
    finally:
        os.close(controller)
        if terminal >= 0:
            os.close(terminal)
    assert b"\rfetching: 3/3 (100%)" in seen, seen
    assert seen.endswith(b"\r\x1b[K")  # the line is erased at the end
    # not on a pipe
    assert fetch(server.pop3_port, "--output", str(root / "out2")).stderr == ""
