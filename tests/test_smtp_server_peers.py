"""The SMTP server against real clients nobody here wrote: swaks (STARTTLS, AUTH, pipelining)
and Postfix's smtp-source (a bounded load run, every message counted).

Both are Debian packages installed by ``make test`` (PEER_PACKAGES in the Makefile).
"""

from __future__ import annotations

import pathlib
import shutil
import subprocess

import pytest

import mailprims as mp
from mailprims import tls

SWAKS = shutil.which("swaks")
SMTP_SOURCE = shutil.which("smtp-source") or (
    "/usr/sbin/smtp-source" if pathlib.Path("/usr/sbin/smtp-source").exists() else None
)


def check(username: str, password: str) -> bool:
    return (username, password) == ("alice", "wonderland")


@pytest.mark.skipif(SWAKS is None, reason="swaks is not installed (make peers)")
def test_swaks_starttls_auth_pipelining(tmp_path: pathlib.Path) -> None:
    assert SWAKS is not None
    cert, key = tls.write_self_signed_certificate(tmp_path)
    sink = mp.Sink()
    with mp.SmtpServer(
        handler=sink,
        hostname="localhost",
        tls_cert=str(cert),
        tls_key=str(key),
        authenticator=check,
    ) as server:
        result = subprocess.run(
            [
                SWAKS,
                "--server",
                f"127.0.0.1:{server.port}",
                "--tls",
                "--pipeline",
                "--auth",
                "PLAIN",
                "--auth-user",
                "alice",
                "--auth-password",
                "wonderland",
                "--from",
                "alice@example.org",
                "--to",
                "bob@example.org,carol@example.org",
                "--header",
                "Subject: from swaks",
                "--body",
                "swaks body\n.leading dot",
                "--timeout",
                "20",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert " -> STARTTLS" in result.stdout and "TLS started with cipher" in result.stdout
        assert "<~  235 2.7.0 Authentication successful" in result.stdout
        (got,) = sink.messages
        # wrong password: swaks reports the 535
        bad = subprocess.run(
            [
                SWAKS,
                "--server",
                f"127.0.0.1:{server.port}",
                "--tls",
                "--auth",
                "LOGIN",
                "--auth-user",
                "alice",
                "--auth-password",
                "nope",
                "--from",
                "alice@example.org",
                "--to",
                "bob@example.org",
                "--timeout",
                "20",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert bad.returncode != 0 and "535 5.7.8" in bad.stdout
    assert got.rcpt_tos == ["bob@example.org", "carol@example.org"]
    assert got.message is not None and got.message.subject == "from swaks"
    assert got.original_content is not None and b"\r\n.leading dot\r\n" in got.original_content
    session = got.session  # type: ignore[attr-defined]
    assert session.auth_user == "alice" and session.tls is not None


@pytest.mark.skipif(SWAKS is None, reason="swaks is not installed (make peers)")
def test_swaks_is_refused_relay_without_auth() -> None:
    assert SWAKS is not None
    with mp.SmtpServer(handler=mp.Sink(), hostname="localhost", domains=["example.org"]) as server:
        result = subprocess.run(
            [
                SWAKS,
                "--server",
                f"127.0.0.1:{server.port}",
                "--pipeline",
                "--from",
                "x@example.org",
                "--to",
                "victim@elsewhere.example",
                "--timeout",
                "20",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode != 0
    assert "550 5.7.1 <victim@elsewhere.example>: Relay access denied" in result.stdout


@pytest.mark.skipif(SMTP_SOURCE is None, reason="postfix's smtp-source is not installed")
def test_smtp_source_load_every_message_counted() -> None:
    assert SMTP_SOURCE is not None
    sink = mp.Sink(maxlen=0)  # count only
    messages, sessions = 400, 4
    with mp.SmtpServer(handler=sink, hostname="localhost") as server:
        result = subprocess.run(
            [
                SMTP_SOURCE,
                "-d",
                "-s",
                str(sessions),
                "-m",
                str(messages),
                "-l",
                "1024",
                "-f",
                "load@example.org",
                "-t",
                "sink@example.org",
                f"127.0.0.1:{server.port}",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
    assert sink.count == messages
