"""The textbook's scenario end to end: Alice's client sends with SMTP to a server that delivers
into Bob's Maildir; Bob's POP3 client retrieves the message from the POP3 server.

Needs the SMTP client and server (with ``store=`` delivery); skipped until both are present.
"""

from __future__ import annotations

import pathlib
import time
from typing import Any

import pytest

import mailprims
from mailprims import MaildirStore, Pop3Client, Pop3Server, Users

MESSAGE = (
    b"From: Alice <alice@example.org>\r\n"
    b"To: Bob <bob@example.org>\r\n"
    b"Subject: Hello Bob\r\n"
    b"Message-ID: <seed-1@example.org>\r\n"
    b"\r\n"
    b"Hi Bob,\r\n"
    b".a line that SMTP and POP3 both dot-stuff\r\n"
    b"Alice\r\n"
)


def _smtp_server(store: MaildirStore, users: Users) -> Any:
    server_cls = getattr(mailprims, "SmtpServer", None)
    if server_cls is None or not hasattr(mailprims, "SmtpClient"):
        pytest.skip("needs mailprims.SmtpServer and mailprims.SmtpClient")
    try:
        return server_cls(store=store, users=users, domains=["example.org"])
    except NotImplementedError as e:
        pytest.skip(f"SmtpServer cannot deliver to a MaildirStore yet: {e}")


def test_alice_to_bob_over_smtp_and_pop3(tmp_path: pathlib.Path) -> None:
    store = MaildirStore(tmp_path / "mail")
    users = Users(domains=["example.org"])
    users.add("alice", "alice password")
    users.add("bob", "bob password")
    smtp = _smtp_server(store, users)
    pop = Pop3Server(store=store, users=users)
    with smtp, pop:
        client_cls: Any = mailprims.SmtpClient  # type: ignore[attr-defined]
        with client_cls("127.0.0.1", smtp.port, tls="none") as alice:
            alice.send(MESSAGE, sender="alice@example.org", recipients=["bob@example.org"])
        inbox = store.mailbox("bob")
        assert len(inbox) == 1

        def bob() -> Pop3Client:
            client = Pop3Client("127.0.0.1", pop.port, tls="none", allow_insecure_auth=True)
            client.login("bob", "bob password")
            return client

        with bob() as c:
            assert c.stat()[0] == 1
            got = c.retr_bytes(1)
        # byte-identical to what Alice sent, after the trace headers the server added
        assert got.endswith(MESSAGE)
        trace = got[: -len(MESSAGE)]
        assert trace.startswith(b"Return-Path: <alice@example.org>\r\n")
        assert b"\r\nReceived: from " in trace

        # a dropped session deletes nothing (RFC 1939 §6)
        c = bob()
        c.dele(1)
        c.close()
        deadline = time.monotonic() + 10
        while pop.active_connections and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(inbox) == 1

        # DELE and QUIT: gone
        with bob() as c:
            c.dele(1)
        assert len(inbox) == 0
