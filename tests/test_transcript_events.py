"""Client transcripts (``transcript=True``, what smtplib/poplib ``set_debuglevel`` print)
against servers nobody here wrote, aiosmtpd and Dovecot; and the servers' event log
(``on_event``) as smtplib and poplib drive them."""

from __future__ import annotations

import asyncio
import logging
import poplib
import smtplib
from collections.abc import Iterator

import pytest
from _dovecot import Dovecot, available, write_messages
from _net import free_port
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

import mailprims as mp

MESSAGE = (
    b"From: alice@example.org\r\nTo: bob@example.org\r\nSubject: dots\r\n\r\n"
    b"Hello Bob.\r\n.a line that starts with a dot\r\n..two\r\nBye\r\n"
)


class Keep:
    def __init__(self) -> None:
        self.envelopes: list[object] = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.envelopes.append(envelope)
        return "250 2.0.0 kept"


@pytest.fixture
def aiosmtpd_server() -> Iterator[tuple[Controller, Keep]]:
    handler = Keep()

    def authenticate(server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        ok = auth_data.login == b"alice" and auth_data.password == b"12345pass"
        return AuthResult(success=ok)

    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=authenticate,
        auth_require_tls=False,
        server_hostname="mx.example.net",
    )
    controller.start()
    try:
        yield controller, handler
    finally:
        controller.stop()


def test_smtp_transcript_against_aiosmtpd(aiosmtpd_server: tuple[Controller, Keep]) -> None:
    controller, handler = aiosmtpd_server
    client = mp.SmtpClient(
        "127.0.0.1",
        controller.port,
        tls="none",
        username="alice",
        password="12345pass",
        allow_insecure_auth=True,
        chunking=False,
        transcript=True,
    )
    with client:
        client.send(MESSAGE)
    lines = client.transcript
    assert lines[0][0] == "S" and lines[0][1].startswith("220 mx.example.net Python SMTP")
    # AUTH PLAIN's response (RFC 4616: the password in Base64) is never recorded.
    assert ("C", "AUTH PLAIN ********") in lines
    assert not any("12345pass" in t or "MTIzNDVwYXNz" in t for _, t in lines)
    # MAIL, RCPT, DATA (RFC 5321 §3.3), one at a time: aiosmtpd does not offer PIPELINING.
    assert "pipelining" not in client.extensions
    mail = lines.index(("C", f"MAIL FROM:<alice@example.org> SIZE={len(MESSAGE)}"))
    assert lines[mail + 1 : mail + 6] == [
        ("S", "250 OK"),
        ("C", "RCPT TO:<bob@example.org>"),
        ("S", "250 OK"),
        ("C", "DATA"),
        ("S", "354 End data with <CR><LF>.<CR><LF>"),
    ]
    # The data lines are the wire form: dot-stuffed (RFC 5321 §4.5.2), ending with ".";
    # unstuffed, they are exactly what aiosmtpd received.
    start = mail + 6
    end = lines.index(("C", "."), start)
    data = [text for _, text in lines[start:end]]
    assert "..a line that starts with a dot" in data
    unstuffed = [t[1:] if t.startswith(".") else t for t in data]
    (envelope,) = handler.envelopes
    assert ("\r\n".join(unstuffed) + "\r\n").encode() == envelope.original_content  # type: ignore[attr-defined]
    assert lines[end + 1] == ("S", "250 2.0.0 kept")
    assert lines[-2:] == [("C", "QUIT"), ("S", "221 Bye")]
    client.clear_transcript()
    assert client.transcript == []


def test_no_transcript_unless_asked(aiosmtpd_server: tuple[Controller, Keep]) -> None:
    controller, _ = aiosmtpd_server
    with mp.SmtpClient("127.0.0.1", controller.port, tls="none") as client:
        client.send(MESSAGE)
    assert client.transcript == []


def test_async_smtp_transcript(aiosmtpd_server: tuple[Controller, Keep]) -> None:
    controller, _ = aiosmtpd_server

    async def main() -> list[tuple[str, str]]:
        client = mp.AsyncSmtpClient("127.0.0.1", controller.port, tls="none", transcript=True)
        async with client:
            await client.send(MESSAGE)
        return client.transcript

    lines = asyncio.run(main())
    # the same recording on the async path: DATA (aiosmtpd has no CHUNKING), stuffed lines
    assert ("C", "DATA") in lines and ("C", "...two") in lines
    assert lines[-1] == ("S", "221 Bye")


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    if not available():
        pytest.skip("Dovecot (Debian packages dovecot-core, dovecot-pop3d) is not installed")
    with Dovecot({"alice": "12345pass"}) as server:
        yield server


def test_pop3_transcript_against_dovecot(dovecot: Dovecot) -> None:
    write_messages(dovecot.maildir("alice"), [MESSAGE])
    dovecot.hand_over()
    client = mp.Pop3Client("127.0.0.1", dovecot.port, cafile=dovecot.cert, transcript=True)
    with client:
        client.login("alice", "12345pass", mechanism="user")
        retrieved = client.retr_bytes(1)
        size = client.list(1)
    lines = client.transcript
    assert lines[0][0] == "S" and lines[0][1].startswith("+OK")
    assert ("C", "STLS") in lines  # offered by Dovecot, used by default (RFC 2595)
    assert ("C", "USER alice") in lines and ("C", "PASS ********") in lines
    assert not any("12345pass" in text for _, text in lines)
    start = lines.index(("C", "RETR 1"))
    assert lines[start + 1][1].startswith("+OK")
    end = lines.index(("S", "."), start + 2)
    data = [text for _, text in lines[start + 2 : end]]
    # As Dovecot sent it: dot-stuffed (RFC 1939 §3); unstuffed, the message retrieved.
    assert "..a line that starts with a dot" in data and "...two" in data
    unstuffed = "\r\n".join(t[1:] if t.startswith(".") else t for t in data) + "\r\n"
    assert unstuffed.encode() == retrieved
    assert size == len(retrieved)
    assert lines[-2:] == [("C", "QUIT"), ("S", lines[-1][1])] and lines[-1][1].startswith("+OK")


def test_server_events_with_smtplib_and_poplib(tmp_path, caplog) -> None:  # type: ignore[no-untyped-def]
    store = mp.MaildirStore(tmp_path / "mail")
    users = mp.Users()
    users.add("bob", "bob pw")
    events: list[mp.ServerEvent] = []

    def failing(event: mp.ServerEvent) -> None:
        events.append(event)
        if event.kind == "login_failed":
            raise RuntimeError("a broken log callback")

    with (
        mp.SmtpServer(store=store, users=users, on_event=events.append) as smtp,
        mp.Pop3Server(store=store, users=users, on_event=failing, auth_failure_delay=0) as pop3,
    ):
        with smtplib.SMTP("127.0.0.1", smtp.port) as client:
            client.sendmail("alice@example.org", ["bob@example.org"], MESSAGE)
        pop = poplib.POP3("127.0.0.1", pop3.port, timeout=10)
        pop.user("bob")
        with pytest.raises(poplib.error_proto):
            pop.pass_("wrong")
        pop.user("bob")
        pop.pass_("bob pw")
        pop.retr(1)
        pop.dele(1)
        pop.quit()
        with caplog.at_level(logging.ERROR, logger="mailprims.events"):
            smtp.flush_events()
            pop3.flush_events()
    kinds = [(e.kind, e.user) for e in events]
    assert kinds == [
        ("delivered", None),
        ("login_failed", "bob"),
        ("login", "bob"),
        ("retrieved", "bob"),
        ("deleted", "bob"),
    ]
    delivered, _, login, retrieved, deleted = events
    assert (delivered.sender, delivered.recipients, delivered.size) == (
        "alice@example.org",
        ("bob@example.org",),
        len(MESSAGE),
    )
    assert delivered.id and delivered.peer[0] == "127.0.0.1" and not delivered.tls
    assert login.mechanism == "USER"
    assert retrieved.id == deleted.id and retrieved.size == deleted.size > len(MESSAGE)
    assert str(delivered).startswith(f"delivered id={delivered.id} from=<alice@example.org> ")
    # the callback's exception was logged, the session went on
    assert "on_event callback failed" in caplog.text and "broken log callback" in caplog.text
    assert smtp.events_dropped == pop3.events_dropped == 0


def test_on_event_must_be_callable() -> None:
    with pytest.raises(TypeError, match="on_event must be callable"):
        mp.SmtpServer(handler=mp.Sink(), on_event="log")  # type: ignore[arg-type]
