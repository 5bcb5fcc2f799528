"""The textbook's scenario end to end: Alice's client sends with SMTP to a server that delivers
into Bob's Maildir; Bob's POP3 client retrieves the message from the POP3 server."""

from __future__ import annotations

import pathlib
import time

from mailprims import MaildirStore, Pop3Client, Pop3Server, SmtpClient, SmtpServer, Users

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


def test_alice_to_bob_over_smtp_and_pop3(tmp_path: pathlib.Path) -> None:
    store = MaildirStore(tmp_path / "mail")
    users = Users(domains=["example.org"])
    users.add("alice", "alice password")
    users.add("bob", "bob password")
    smtp = SmtpServer(store=store, users=users, domains=["example.org"])
    pop = Pop3Server(store=store, users=users)
    with smtp, pop:
        with SmtpClient("127.0.0.1", smtp.port, tls="none") as alice:
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
            # parsed: the message, and the hop the SMTP server recorded
            parsed = c.retr(1)
            assert parsed.subject == "Hello Bob"
            assert len(parsed.received) == 1
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
