"""The SMTP server delivering into the Maildir store: durable delivery read back by Python's
``mailbox.Maildir``, local-recipient checks (RFC 5321 §4.5.1, §3.6), AUTH against ``Users``,
disk errors (451, nothing half-written in ``new/``), and an ``smtp-source`` load run counted
message by message.
"""

from __future__ import annotations

import mailbox
import pathlib
import shutil
import smtplib
import subprocess

import pytest
from smtp_helpers import HOST, Raw

import mailprims as mp
from mailprims import tls

BODY = b"From: alice@example.org\r\nTo: bob@example.org\r\nSubject: stored\r\n\r\nline\r\n.dot\r\n"


@pytest.fixture
def users() -> mp.Users:
    u = mp.Users(domains=["example.org"])
    u.add("bob", "builder")
    u.add("alice", "wonderland")
    return u


def files(path: pathlib.Path) -> list[pathlib.Path]:
    return sorted(p for p in path.iterdir()) if path.exists() else []


class Capture:
    """Sees each message as the server delivers it (the hook runs before the store)."""

    def __init__(self) -> None:
        self.delivered: list[bytes] = []

    def handle_DATA(self, server: object, session: object, envelope: mp.Envelope) -> None:
        assert envelope.content is not None
        self.delivered.append(envelope.content)


def test_delivery_read_back_by_stdlib_mailbox(tmp_path: pathlib.Path, users: mp.Users) -> None:
    store = mp.MaildirStore(tmp_path / "mail")
    capture = Capture()
    with mp.SmtpServer(handler=capture, store=store, users=users, hostname=HOST) as server:
        with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
            # two addresses of one account: one copy
            assert (
                client.sendmail("alice@example.org", ["bob@example.org", "BOB@Example.org"], BODY)
                == {}
            )
    box = mailbox.Maildir(tmp_path / "mail" / "bob", create=False)
    (key,) = box.keys()
    stored = box.get_bytes(key)
    # byte for byte what the server delivered: its trace fields, then the client's data
    assert [stored] == capture.delivered
    assert stored.startswith(b"Return-Path: <alice@example.org>\r\nReceived: from ")
    assert stored.endswith(b"\r\n" + BODY)
    assert box[key]["Subject"] == "stored"
    assert files(tmp_path / "mail" / "bob" / "tmp") == []
    assert mp.Maildir(tmp_path / "mail" / "bob").get_bytes(key) == stored
    assert files(tmp_path / "mail" / "alice" / "new") == []


def test_store_without_users_file(tmp_path: pathlib.Path) -> None:
    # the store's existing Maildirs are the accounts
    store = mp.MaildirStore(tmp_path / "mail")
    store.mailbox("carol")
    with mp.SmtpServer(store=store, domains=["example.org"], hostname=HOST) as server:
        with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
            client.ehlo()
            client.mail("a@example.org")
            assert client.rcpt("Carol@example.org")[0] == 250
            assert client.rcpt("dave@example.org")[0] == 550
            assert client.rcpt("../etc@example.org")[0] == 501  # not an address
            assert client.rcpt("a/b@example.org")[0] == 550  # atext, but no path in a name
            assert client.rcpt("x@other.example")[0] == 550
            assert client.data(BODY)[0] == 250
    assert len(mailbox.Maildir(tmp_path / "mail" / "carol", create=False)) == 1


def test_unknown_local_user_and_postmaster(tmp_path: pathlib.Path, users: mp.Users) -> None:
    store = mp.MaildirStore(tmp_path / "mail")
    with mp.SmtpServer(store=store, users=users, hostname=HOST) as server:
        with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
            client.ehlo()
            client.mail("x@elsewhere.example")
            code, text = client.rcpt("nobody@example.org")
            assert (code, text) == (
                550,
                b"5.1.1 <nobody@example.org>: Recipient address rejected: User unknown",
            )
            assert client.rcpt("Postmaster")[0] == 250  # RFC 5321 §4.5.1
            assert client.rcpt("postmaster@example.org")[0] == 250
            code, text = client.rcpt("someone@elsewhere.example")
            assert code == 550 and text.startswith(b"5.7.1")  # RFC 5068: not a relay
            assert client.data(b"Subject: pm\r\n\r\nhi\r\n")[0] == 250
    assert len(mailbox.Maildir(tmp_path / "mail" / "postmaster", create=False)) == 1


def test_auth_against_users(tmp_path: pathlib.Path, users: mp.Users) -> None:
    cert, key = tls.write_self_signed_certificate(tmp_path)
    store = mp.MaildirStore(tmp_path / "mail")
    with mp.SmtpServer(
        store=store,
        users=users,
        hostname="localhost",
        tls_cert=str(cert),
        tls_key=str(key),
        submission=True,
    ) as server:
        import ssl

        with smtplib.SMTP("localhost", server.port, timeout=10) as client:
            client.starttls(context=ssl.create_default_context(cafile=str(cert)))
            with pytest.raises(smtplib.SMTPAuthenticationError):
                client.login("bob", "wrong")
            client.login("bob", "builder")
            client.sendmail("bob@example.org", ["alice@example.org"], BODY)
            # authenticated, but the store cannot carry mail elsewhere
            with pytest.raises(smtplib.SMTPRecipientsRefused):
                client.sendmail("bob@example.org", ["x@elsewhere.example"], BODY)
    assert len(mailbox.Maildir(tmp_path / "mail" / "alice", create=False)) == 1


def test_disk_error_is_451_and_nothing_half_written(
    tmp_path: pathlib.Path, users: mp.Users
) -> None:
    store = mp.MaildirStore(tmp_path / "mail")
    bob = store.mailbox("bob")
    tmp = tmp_path / "mail" / "bob" / "tmp"
    shutil.rmtree(tmp)
    tmp.write_text("not a directory")  # even root cannot create files in it
    with mp.SmtpServer(store=store, users=users, hostname=HOST) as server:
        with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
            with pytest.raises(smtplib.SMTPDataError) as err:
                client.sendmail("alice@example.org", ["bob@example.org"], BODY)
            assert err.value.smtp_code == 451
    assert files(tmp_path / "mail" / "bob" / "new") == []
    del bob


def test_disconnect_mid_data_leaves_nothing(tmp_path: pathlib.Path, users: mp.Users) -> None:
    store = mp.MaildirStore(tmp_path / "mail")
    with mp.SmtpServer(store=store, users=users, hostname=HOST) as server:
        with Raw(server.port) as raw:
            raw.reply()
            raw.sock.sendall(
                b"HELO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n"
            )
            for _ in range(4):
                raw.reply()
            raw.sock.sendall(b"Subject: cut\r\n\r\nhalf")
        server.stop()
    for sub in ("tmp", "new", "cur"):
        assert files(tmp_path / "mail" / "bob" / sub) == []


@pytest.mark.skipif(
    shutil.which("smtp-source") is None and not pathlib.Path("/usr/sbin/smtp-source").exists(),
    reason="postfix's smtp-source is not installed",
)
def test_smtp_source_load_every_message_in_the_maildir(
    tmp_path: pathlib.Path, users: mp.Users
) -> None:
    store = mp.MaildirStore(tmp_path / "mail")
    messages = 300
    with mp.SmtpServer(store=store, users=users, hostname=HOST) as server:
        result = subprocess.run(
            [
                shutil.which("smtp-source") or "/usr/sbin/smtp-source",
                "-d",
                "-s",
                "4",
                "-m",
                str(messages),
                "-l",
                "1024",
                "-f",
                "load@example.org",
                "-t",
                "bob@example.org",
                f"127.0.0.1:{server.port}",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
    box = mailbox.Maildir(tmp_path / "mail" / "bob", create=False)
    assert len(box) == messages
    assert files(tmp_path / "mail" / "bob" / "tmp") == []
