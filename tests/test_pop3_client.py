"""The POP3 client against a real Dovecot (RFC 1939, RFC 2449, RFC 2595, RFC 5034), plus the
failure modes that need no server: refused connections, silent servers, cancellation."""

from __future__ import annotations

import asyncio
import itertools
import pathlib
import poplib
import socket
import threading
from collections.abc import Iterator

import pytest
from _dovecot import Dovecot, available, write_messages
from _net import free_port

import mailprims
from mailprims import AsyncPop3Client, Pop3Client, Pop3Error

USERS = {f"user{i}": f"secret {i}" for i in range(24)}
_next_user = itertools.count()


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    if not available():
        pytest.skip("Dovecot (Debian packages dovecot-core, dovecot-pop3d) is not installed")
    with Dovecot(USERS) as server:
        yield server


class Box:
    """A fresh Dovecot account and its Maildir."""

    def __init__(self, server: Dovecot) -> None:
        self.server = server
        self.user = f"user{next(_next_user)}"
        self.password = USERS[self.user]
        self.path = server.maildir(self.user)

    def deliver(self, *messages: bytes) -> None:
        start = len(self.files())
        write_messages(self.path, messages, start=start)
        self.server.hand_over()

    def files(self) -> list[pathlib.Path]:
        return sorted(p for sub in ("new", "cur") for p in (self.path / sub).iterdir())

    def client(self, **options: object) -> Pop3Client:
        options.setdefault("cafile", self.server.cert)
        options.setdefault("timeout", 30)
        return Pop3Client("127.0.0.1", self.server.port, **options)  # type: ignore[arg-type]


@pytest.fixture
def box(dovecot: Dovecot) -> Box:
    return Box(dovecot)


def crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


FIRST = b"From: alice@example.org\nTo: bob@example.org\nSubject: first\n\nHello Bob.\n.hidden dot\n"
SECOND = b"From: carol@example.org\r\nSubject: second\r\n\r\n" + b"line\r\n" * 50


def test_session_against_dovecot(box: Box) -> None:
    box.deliver(FIRST, SECOND)
    with box.client() as c:
        # tls="auto" took Dovecot's STLS offer, verified against the test certificate
        assert c.tls_version in ("TLSv1.2", "TLSv1.3")
        assert c.welcome is not None and c.welcome.startswith("Dovecot")
        caps = c.capabilities()
        assert "UIDL" in caps and "TOP" in caps and "STLS" not in caps
        c.login(box.user, box.password)
        assert c.authenticated
        # RFC 1939 §5: sizes are of the CRLF form, whatever the Maildir stores
        sizes = [len(crlf(FIRST)), len(SECOND)]
        assert c.stat() == (2, sum(sizes))
        assert c.list() == {1: sizes[0], 2: sizes[1]}
        assert c.list(2) == sizes[1]
        uids = c.uidl()
        assert sorted(uids) == [1, 2] and uids[1] != uids[2]
        assert c.uidl(1) == uids[1]
        # dot-stuffing undone, CRLF line ends
        assert c.retr_bytes(1) == crlf(FIRST)
        msg = c.retr(2)
        assert msg.subject == "second"
        top = c.top_bytes(2, 3)
        assert top == b"From: carol@example.org\r\nSubject: second\r\n\r\n" + b"line\r\n" * 3
        assert c.top(1, 0).subject == "first"
        assert "deleted" in c.dele(1).lower()
        with pytest.raises(Pop3Error) as err:
            c.retr(1)
        assert err.value.text
        # RSET undoes (Dovecot also forgets what was retrieved), DELE again, QUIT commits
        c.rset()
        assert c.stat()[0] == 2
        c.retr_bytes(2)
        c.dele(1)
    # leaving the block normally sent QUIT: message 1 is gone, message 2 seen (cur/, S flag)
    files = box.files()
    assert len(files) == 1
    assert files[0].parent.name == "cur" and files[0].name.endswith(":2,S")
    assert files[0].read_bytes() == SECOND


def test_uidl_is_stable_across_sessions(box: Box) -> None:
    box.deliver(FIRST, SECOND)
    with box.client() as c:
        c.login(box.user, box.password)
        first = c.uidl()
    with box.client() as c:
        c.login(box.user, box.password)
        assert c.uidl() == first


def test_auth_mechanisms(box: Box) -> None:
    box.deliver(FIRST)
    # RFC 5034 AUTH PLAIN
    with box.client() as c:
        c.login(box.user, box.password, mechanism="plain")
        assert c.stat()[0] == 1
    # RFC 1939 USER/PASS
    with box.client() as c:
        c.login(box.user, box.password, mechanism="user")
        assert c.stat()[0] == 1
    # RFC 1939 §7 APOP: works without TLS since the secret is never sent
    with box.client(tls="none") as c:
        assert c.tls_version is None
        assert c.apop_timestamp is not None and c.apop_timestamp.startswith("<")
        c.apop(box.user, box.password)
        assert c.stat()[0] == 1
    with box.client(tls="none") as c:
        with pytest.raises(Pop3Error) as err:
            c.apop(box.user, "wrong")
        assert err.value.code == "AUTH"


def test_wrong_password_is_a_pop3_error_with_auth_code(box: Box) -> None:
    with box.client() as c:
        with pytest.raises(Pop3Error) as err:
            c.login(box.user, "not the password")
        # RFC 3206 §5: AUTH response code
        assert err.value.code == "AUTH"
        assert "Authentication failed" in (err.value.text or "")


def test_passwords_are_not_sent_in_clear(box: Box) -> None:
    with box.client(tls="none") as c:
        with pytest.raises(mailprims.ConfigError, match="unencrypted"):
            c.login(box.user, box.password)
    with box.client(tls="none", allow_insecure_auth=True) as c:
        c.login(box.user, box.password)


def test_implicit_tls_and_verification(box: Box, dovecot: Dovecot) -> None:
    box.deliver(FIRST)
    with Pop3Client(
        "127.0.0.1", dovecot.pop3s_port, tls="implicit", cafile=dovecot.cert, timeout=30
    ) as c:
        assert c.tls_version is not None
        c.login(box.user, box.password)
        assert c.retr_bytes(1) == crlf(FIRST)
    # verification is on by default: a self-signed certificate is refused
    with pytest.raises(mailprims.TlsError):
        Pop3Client("127.0.0.1", dovecot.pop3s_port, tls="implicit", timeout=30).connect()
    with pytest.raises(mailprims.TlsError):
        Pop3Client("127.0.0.1", dovecot.port, tls="starttls", timeout=30).connect()
    # a name the certificate does not carry is refused too
    with pytest.raises(mailprims.TlsError):
        Pop3Client(
            "127.0.0.1",
            dovecot.port,
            tls="starttls",
            cafile=dovecot.cert,
            tls_hostname="mail.example.org",
            timeout=30,
        ).connect()
    with box.client(tls="starttls") as c:
        assert c.tls_version is not None


def test_long_lines_that_poplib_rejects(box: Box) -> None:
    # poplib's _MAXLINE is 2048: a 10,000-octet line (legal in a message) breaks it
    body = b"x" * 10_000
    message = b"Subject: long line\r\n\r\n" + body + b"\r\n"
    box.deliver(message)
    pop = poplib.POP3("127.0.0.1", box.server.port, timeout=30)
    try:
        pop.user(box.user)
        pop.pass_(box.password)
        with pytest.raises(poplib.error_proto, match="line too long"):
            pop.retr(1)
    finally:
        pop.close()
    with box.client() as c:
        c.login(box.user, box.password)
        assert c.retr_bytes(1) == message


def test_fetch_all_and_delete_only_at_quit(box: Box) -> None:
    messages = [b"Subject: %d\r\n\r\n" % i + b"body %d\r\n" % i * i for i in range(1, 31)]
    box.deliver(*messages)
    # fetch and mark deleted, but close without QUIT: RFC 1939 §6, nothing is deleted
    c = box.client()
    c.login(box.user, box.password)
    fetched = c.fetch_all_bytes(delete=True)
    assert fetched == messages
    assert c.stat() == (0, 0)
    c.close()
    assert not c.connected
    assert len(box.files()) == 30
    # an exception inside the with block also closes without QUIT
    with pytest.raises(RuntimeError):
        with box.client() as c:
            c.login(box.user, box.password)
            c.fetch_all(delete=True)
            raise RuntimeError("processing failed")
    assert len(box.files()) == 30
    # a normal exit sends QUIT
    with box.client() as c:
        c.login(box.user, box.password)
        parsed = c.fetch_all(delete=True)
        assert [m.subject for m in parsed] == [str(i) for i in range(1, 31)]
    assert box.files() == []


def test_new_messages_by_uidl(box: Box) -> None:
    box.deliver(FIRST, SECOND)
    seen: set[str] = set()
    with box.client() as c:
        c.login(box.user, box.password)
        got = list(c.new_messages(seen))
        assert [m.subject for _, m in got] == ["first", "second"]
        seen.update(uid for uid, _ in got)
    box.deliver(b"Subject: third\r\n\r\nnew\r\n")
    with box.client() as c:
        c.login(box.user, box.password)
        assert [m.subject for _, m in c.new_messages(seen)] == ["third"]


def test_maildrop_lock_in_use(box: Box) -> None:
    box.deliver(FIRST)
    with box.client() as first:
        first.login(box.user, box.password)
        with box.client() as second:
            with pytest.raises(Pop3Error) as err:
                second.login(box.user, box.password)
            # RFC 3206 §4
            assert err.value.code == "IN-USE"


def test_async_client(box: Box, dovecot: Dovecot) -> None:
    box.deliver(FIRST, SECOND)

    async def main() -> None:
        async with AsyncPop3Client(
            "127.0.0.1", dovecot.port, tls="starttls", cafile=dovecot.cert, timeout=30
        ) as c:
            await c.login(box.user, box.password)
            assert await c.stat() == (2, len(crlf(FIRST)) + len(SECOND))
            assert sorted(await c.uidl()) == [1, 2]
            assert await c.retr_bytes(1) == crlf(FIRST)
            assert (await c.top(2, 0)).subject == "second"
            assert [m.subject for m in await c.fetch_all()] == ["first", "second"]
            got = [uid async for uid, _ in c.new_messages({(await c.uidl(1))})]
            assert len(got) == 1
            await c.dele(2)
            await c.noop()

    asyncio.run(main())
    assert len(box.files()) == 1


# ---- failure modes without Dovecot ---------------------------------------------------


def test_connection_refused() -> None:
    port = free_port()
    with pytest.raises(mailprims.MailConnectionError) as err:
        Pop3Client("127.0.0.1", port, tls="none", timeout=5).connect()
    assert isinstance(err.value, ConnectionError)


def _silent_server() -> tuple[socket.socket, int, threading.Event]:
    """Accepts connections and never says anything."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    done = threading.Event()

    def run() -> None:
        conns = []
        listener.settimeout(0.1)
        while not done.is_set():
            try:
                conns.append(listener.accept()[0])
            except OSError:
                pass
        for c in conns:
            c.close()
        listener.close()

    threading.Thread(target=run, daemon=True).start()
    return listener, port, done


def test_timeouts() -> None:
    _, port, done = _silent_server()
    try:
        with pytest.raises(mailprims.MailTimeoutError) as err:
            Pop3Client("127.0.0.1", port, tls="none", timeout=0.3).connect()
        assert isinstance(err.value, TimeoutError)

        async def cancelled() -> None:
            client = AsyncPop3Client("127.0.0.1", port, tls="none", timeout=None)
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(client.connect(), 0.3)
            assert not client.connected

        asyncio.run(cancelled())
    finally:
        done.set()


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="tls must be"):
        Pop3Client("127.0.0.1", tls="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timeout"):
        Pop3Client("127.0.0.1", timeout=-1)
    c = Pop3Client("127.0.0.1", 1, tls="none")
    with pytest.raises(ValueError, match="start at 1"):
        c.retr(0)
    with pytest.raises(TypeError):
        c.retr("1")  # type: ignore[arg-type]
    # no connection yet
    with pytest.raises(mailprims.MailConnectionError):
        c.stat()


def test_server_matches_dovecot_on_the_same_maildir(box: Box) -> None:
    # Octet counts and message bytes of mailprims' server cross-checked with Dovecot's on one
    # Maildir: LF and CRLF line ends, dots to stuff, a bare CR, no final newline.
    messages = [
        FIRST,
        SECOND,
        b"Subject: dots\n\n.\n..\n.x\nend\n",
        b"Subject: bare CR\r\n\r\nx\ry\r\n",
        b"Subject: no final newline\n\nlast line",
    ]
    box.deliver(*messages)
    with box.client() as c:
        c.login(box.user, box.password)
        dovecot_sizes = c.list()
        dovecot_bytes = c.fetch_all_bytes()
        c.rset()
    store = mailprims.MaildirStore(box.path.parent)
    users = mailprims.Users()
    users.add(box.user, box.password)
    with mailprims.Pop3Server(store=store, users=users) as server:
        with Pop3Client("127.0.0.1", server.port, tls="none", allow_insecure_auth=True) as c:
            c.login(box.user, box.password)
            assert c.list() == dovecot_sizes
            assert c.fetch_all_bytes() == dovecot_bytes
    # RFC 1939 §11: each size is that of the message as sent, before the terminating dot line
    # (Dovecot and mailprims both end a message without a final newline with CRLF)
    assert [len(b) for b in dovecot_bytes[:4]] == [dovecot_sizes[i] for i in range(1, 5)]
