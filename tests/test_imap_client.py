"""mailprims.ImapClient and AsyncImapClient against mailprims' own ImapServer (IMAP4rev2 and
UTF-8 enabled: paths Dovecot 2.3 cannot exercise), and against misbehaving servers written
here (garbage, silence, BYE in the middle) for the typed errors Python sees. Dovecot, imaplib
and IMAPClient are the peers of ``test_imap_client_dovecot.py``; the scripted hostile cases
at the protocol level are in ``tests/imap_client_scripted.rs``."""

from __future__ import annotations

import asyncio
import datetime
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import mailprims as mp
from mailprims.imap import Search

PASSWORD = "s3cret pw"


def note(i: int, subject: str | None = None) -> bytes:
    return (
        f"From: Ann <ann@example.org>\r\nTo: bob@example.net\r\n"
        f"Subject: {subject or f'note {i}'}\r\nDate: Mon, 01 Jan 2024 10:00:00 +0000\r\n"
        f"Message-ID: <n{i}@example.org>\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\nBody {i}.\r\n"
    ).encode()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[mp.ImapServer]:
    users = mp.Users()
    users.add("alice", PASSWORD)
    store = mp.MaildirStore(tmp_path / "mail")
    with mp.ImapServer(
        store=store, users=users, auth_failure_delay=0.0, check_interval=0.2, shutdown_grace=5.0
    ) as server:
        yield server


def connect(server: mp.ImapServer, **options: object) -> mp.ImapClient:
    options.setdefault("tls", "none")
    options.setdefault("allow_insecure_auth", True)
    options.setdefault("timeout", 30)
    c = mp.ImapClient("127.0.0.1", server.port, **options)  # type: ignore[arg-type]
    c.login("alice", PASSWORD)
    return c


def test_against_mailprims_server_with_imap4rev2(server: mp.ImapServer) -> None:
    with connect(server, transcript=True) as c:
        assert "IMAP4REV2" in c.enabled
        specials = {b.special_use: b.name for b in c.list() if b.special_use}
        assert specials["\\Sent"] == "Sent" and specials["\\Trash"] == "Trash"
        c.create("Reisen/Köln")
        appended = [c.append("INBOX", note(i)) for i in range(3)]
        umlaut = c.append("INBOX", note(3, "Grüße aus Köln"), flags=["\\Flagged"])
        assert all(a is not None for a in appended) and umlaut is not None
        st = c.select("INBOX")
        assert st.exists == 4 and st.uid_validity == umlaut.uid_validity
        # UTF-8 enabled: strings go out as UTF-8, without CHARSET.
        assert c.search(Search.subject("Köln")) == [umlaut.uid]
        assert not any("CHARSET" in line for d, line in c.transcript if d == "C")
        assert c.search(Search.flagged()) == [umlaut.uid]
        got = dict(c.fetch_messages(c.search()))
        assert got[umlaut.uid].subject == "Grüße aus Köln"
        assert bytes(got[appended[0].uid]) == note(0)  # type: ignore[union-attr]
        moved = c.move(umlaut.uid, "Reisen/Köln")
        assert moved is not None and moved.source == [umlaut.uid]
        assert c.status("Reisen/Köln").messages == 1
        r = c.fetch(appended[1].uid, ["BODYSTRUCTURE", "ENVELOPE"])  # type: ignore[union-attr]
        one = next(iter(r.values()))
        assert one.body_structure is not None and one.body_structure.mime_type == "text/plain"
        assert one.envelope is not None and one.envelope.from_[0].email == "ann@example.org"


def test_idle_sees_another_session_append(server: mp.ImapServer) -> None:
    with connect(server) as c, connect(server) as other:
        c.select("INBOX")
        timer = threading.Timer(0.5, lambda: other.append("INBOX", note(1)))
        timer.start()
        try:
            events = []
            for event in c.idle(timeout=20):
                events.append(event)
                if event.kind == "exists":
                    break
        finally:
            timer.join()
        assert events[-1].number == 1
        assert c.search() == [1]


def test_async_client_against_mailprims_server(server: mp.ImapServer) -> None:
    async def main() -> None:
        async with mp.AsyncImapClient(
            "127.0.0.1", server.port, tls="none", allow_insecure_auth=True, timeout=30
        ) as c:
            await c.login("alice", PASSWORD)
            for i in range(5):
                await c.append("INBOX", note(i))
            await c.select("INBOX")
            uids = await c.search()
            assert len(uids) == 5
            subjects = [m.subject async for _, m in c.fetch_messages(uids)]
            assert subjects == [f"note {i}" for i in range(5)]
            raw = [data async for _, data in c.fetch_messages_bytes(uids[:2])]
            assert raw == [note(0), note(1)]
            await c.add_flags(uids[0], "\\Deleted")
            assert await c.expunge() == [1]
            assert (await c.status("INBOX")).messages == 4

    asyncio.run(main())


def test_search_builder_keys() -> None:
    key = (Search.unseen() & ~Search.from_("x")) | Search.since(datetime.date(2024, 2, 1))
    assert key._key == (
        "OR",
        ("AND", [("UNSEEN",), ("NOT", ("FROM", "x"))]),
        ("SINCE", (2024, 2, 1)),
    )
    assert Search.uid([3, 4])._key == ("UID", [3, 4])


# ---- misbehaving servers --------------------------------------------------------------------


def serve_once(handler: Callable[[socket.socket], None]) -> tuple[int, threading.Thread]:
    """A one-connection server on loopback running ``handler`` on the accepted socket."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(10)

    def run() -> None:
        with listener:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(10)
                handler(conn)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return listener.getsockname()[1], thread


def test_garbage_greeting_is_a_protocol_error() -> None:
    port, thread = serve_once(lambda s: s.sendall(b"\x00\xffgarbage, not IMAP\r\n"))
    with pytest.raises(mp.ProtocolError):
        mp.ImapClient("127.0.0.1", port, tls="none", timeout=5).connect()
    thread.join(10)


def test_silent_server_times_out() -> None:
    stop = threading.Event()
    port, thread = serve_once(lambda s: stop.wait(10))
    c = mp.ImapClient("127.0.0.1", port, tls="none", timeout=0.5)
    with pytest.raises(mp.MailTimeoutError) as e:
        c.connect()
    assert isinstance(e.value, TimeoutError)
    stop.set()
    thread.join(10)


def test_bye_in_the_middle_is_an_imap_error() -> None:
    def handler(s: socket.socket) -> None:
        s.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hello\r\n")
        s.recv(1000)
        s.sendall(b"* BYE [UNAVAILABLE] shutting down\r\n")

    port, thread = serve_once(handler)
    c = mp.ImapClient("127.0.0.1", port, tls="none", allow_insecure_auth=True, timeout=5)
    with pytest.raises(mp.ImapError) as e:
        c.login("alice", PASSWORD)
    assert (e.value.status, e.value.code) == ("BYE", "UNAVAILABLE")
    assert e.value.text == "shutting down"
    assert not c.connected
    thread.join(10)


def test_get_flags_keeps_news_the_server_interleaves() -> None:
    # RFC 9051 §7.5.2: EXISTS, EXPUNGE and another session's FETCH (no UID) may come among
    # the answers; they are news for noop(), not flags of the messages asked for.
    commands: list[bytes] = []

    def handler(s: socket.socket) -> None:
        lines = s.makefile("rb")
        s.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hello\r\n")
        while line := lines.readline(1000):
            tag, _, command = line.rstrip(b"\r\n").partition(b" ")
            commands.append(command)
            if command.startswith((b"LOGIN", b"AUTHENTICATE")):
                s.sendall(tag + b" OK [CAPABILITY IMAP4rev1] in\r\n")
            elif command == b"CAPABILITY":
                s.sendall(b"* CAPABILITY IMAP4rev1\r\n" + tag + b" OK done\r\n")
            elif command == b"SELECT INBOX":
                s.sendall(
                    b"* 3 EXISTS\r\n* OK [UIDVALIDITY 1] v\r\n* OK [UIDNEXT 9] n\r\n"
                    + tag
                    + b" OK [READ-WRITE] selected\r\n"
                )
            elif command == b"UID FETCH 1:* (UID FLAGS)":
                s.sendall(
                    b"* 1 FETCH (UID 2 FLAGS (\\Seen $Work))\r\n* 4 EXISTS\r\n"
                    b"* 2 FETCH (UID 7 FLAGS ())\r\n* 2 EXPUNGE\r\n"
                    b"* 1 FETCH (FLAGS (\\Deleted))\r\n"
                    b"* 2 FETCH (UID 8 FLAGS (\\Seen $Work))\r\n" + tag + b" OK done\r\n"
                )
            elif command == b"LOGOUT":
                s.sendall(b"* BYE bye\r\n" + tag + b" OK bye\r\n")
                return
            else:
                s.sendall(tag + b" OK " + command.split(b" ")[0] + b" done\r\n")

    port, thread = serve_once(handler)
    with mp.ImapClient("127.0.0.1", port, tls="none", allow_insecure_auth=True, timeout=5) as c:
        c.login("alice", PASSWORD)
        c.select()
        flags = c.get_flags("1:*")
        assert flags == {2: ("\\Seen", "$Work"), 7: (), 8: ("\\Seen", "$Work")}
        assert flags[2] is flags[8]
        events = c.noop()
        assert [(e.kind, e.number) for e in events] == [("exists", 4), ("expunge", 2), ("fetch", 1)]
        assert events[2].flags == ["\\Deleted"] and events[2].uid is None
    thread.join(10)
    assert b"UID FETCH 1:* (UID FLAGS)" in commands
