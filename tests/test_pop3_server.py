"""The POP3 server (RFC 1939, RFC 2449, RFC 2595, RFC 3206, RFC 5034) against the stdlib's
poplib, raw sockets for what poplib cannot send, and mailprims' own client."""

from __future__ import annotations

import asyncio
import hashlib
import mailbox
import pathlib
import poplib
import re
import socket
import ssl
import time
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mailprims
from mailprims import MaildirStore, Pop3Client, Pop3Server, Users, tls


def sized(size: int, subject: str, *, lf: bool) -> bytes:
    """A message whose CRLF form is exactly ``size`` octets (stored with LF if ``lf``)."""
    eol = b"\n" if lf else b"\r\n"
    head = b"From: bob@example.org" + eol + b"Subject: " + subject.encode() + eol + eol
    crlf_len = len(head.replace(b"\n", b"\r\n")) if lf else len(head)
    body = b"x" * (size - crlf_len - 2) + eol
    data = head + body
    assert len(data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")) == size
    return data


class Setup:
    def __init__(self, root: pathlib.Path, **options: object) -> None:
        self.store = MaildirStore(root / "mail")
        self.users = Users()
        self.users.add("alice", "12345pass", apop_secret="tanstaaf")
        self.users.add("bob", "bobpass")
        options.setdefault("auth_failure_delay", 0.05)
        self.server = Pop3Server(store=self.store, users=self.users, **options)  # type: ignore[arg-type]
        self.inbox = self.store.mailbox("alice")
        self.first = sized(120, "first", lf=True)
        self.second = sized(500, "second", lf=False)
        self.keys = [self.inbox.add(self.first), self.inbox.add(self.second)]

    def pop(self) -> poplib.POP3:
        return poplib.POP3("127.0.0.1", self.server.port, timeout=30)


@pytest.fixture(scope="module")
def hypothesis_setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    s = Setup(tmp_path_factory.mktemp("pop3"))
    s.inbox = s.store.mailbox("bob")
    with s.server:
        yield s


@pytest.fixture
def setup(tmp_path: pathlib.Path) -> Iterator[Setup]:
    s = Setup(tmp_path)
    with s.server:
        yield s


def test_seed_chapter_session_with_poplib(setup: Setup) -> None:
    # The textbook's example session, reply for reply (its greeting gains an APOP timestamp).
    pop = setup.pop()
    welcome = pop.getwelcome()
    assert welcome.startswith(b"+OK POP3 server ready <") and welcome.endswith(b">")
    assert pop.user("alice") == b"+OK"
    assert pop.pass_("12345pass") == b"+OK alice's maildrop has 2 messages (620 octets)"
    assert pop.stat() == (2, 620)
    assert pop.list() == (b"+OK 2 messages (620 octets)", [b"1 120", b"2 500"], 14)
    resp, lines, _ = pop.retr(1)
    assert resp == b"+OK 120 octets"
    # sent in CRLF form although stored with LF, exactly the announced size
    assert b"\r\n".join(lines) + b"\r\n" == setup.first.replace(b"\n", b"\r\n")
    assert pop.dele(1) == b"+OK message 1 deleted"
    assert pop.quit() == b"+OK POP3 server signing off (1 message left)"
    # UPDATE removed message 1; message 2 was never retrieved, so it is still unseen
    assert setup.inbox.keys() == [setup.keys[1]]
    assert setup.inbox.get_flags(setup.keys[1]) == ""


def test_apop(setup: Setup) -> None:
    pop = setup.pop()
    # RFC 1939 §7: the digest is MD5(timestamp + secret), checked here with hashlib
    timestamp = pop.getwelcome().split()[-1]
    digest = hashlib.md5(timestamp + b"tanstaaf").hexdigest()
    assert pop._shortcmd(f"APOP alice {digest}").startswith(b"+OK alice's maildrop")
    pop.quit()
    pop = setup.pop()
    assert pop.apop("alice", "tanstaaf").startswith(b"+OK")
    pop.quit()
    # bob never opted in to APOP: refused like a wrong secret
    pop = setup.pop()
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        pop.apop("bob", "bobpass")
    pop.close()


def test_top_uidl_capa(setup: Setup) -> None:
    pop = setup.pop()
    caps = pop.capa()
    for cap in ("TOP", "UIDL", "USER", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE"):
        assert cap in caps
    assert caps["SASL"] == ["PLAIN"]
    assert caps["EXPIRE"] == ["NEVER"]
    assert caps["IMPLEMENTATION"][0] == "mailprims"
    assert "STLS" not in caps  # no certificate configured
    pop.user("alice")
    pop.pass_("12345pass")
    resp, lines, _ = pop.top(2, 0)
    assert resp == b"+OK Top of message follows"
    assert lines == [b"From: bob@example.org", b"Subject: second", b""]
    _, lines, _ = pop.top(1, 1)
    assert lines[-1] == b"x" * (len(lines[-1]))
    # UIDL: the Maildir keys (RFC 1939 §7 ids), the same in every session
    resp, listing, _ = pop.uidl()
    assert listing == [b"1 " + setup.keys[0].encode(), b"2 " + setup.keys[1].encode()]
    assert pop.uidl(2) == b"+OK 2 " + setup.keys[1].encode()
    pop.quit()
    pop = setup.pop()
    pop.user("alice")
    pop.pass_("12345pass")
    assert pop.uidl()[1] == listing
    pop.quit()


def test_stls_with_poplib(tmp_path: pathlib.Path) -> None:
    cert, key = tls.write_self_signed_certificate(tmp_path)
    s = Setup(tmp_path, tls_cert=cert, tls_key=key)
    with s.server:
        pop = s.pop()
        assert "STLS" in pop.capa()
        context = ssl.create_default_context(cafile=str(cert))
        assert pop.stls(context) == b"+OK Begin TLS negotiation now."
        # RFC 2595 §4: after STLS the capabilities no longer offer it
        assert "STLS" not in pop.capa()
        pop.user("alice")
        pop.pass_("12345pass")
        assert pop.stat() == (2, 620)
        pop.quit()
        # mailprims' client: STLS required, verified against the certificate
        with Pop3Client("127.0.0.1", s.server.port, tls="starttls", cafile=cert) as c:
            assert c.tls_version == "TLSv1.3"
            c.login("alice", "12345pass")
            assert c.retr_bytes(2) == s.second


def test_implicit_tls(tmp_path: pathlib.Path) -> None:
    cert, key = tls.write_self_signed_certificate(tmp_path)
    s = Setup(tmp_path, tls_cert=cert, tls_key=key, implicit_tls=True)
    with s.server:
        context = ssl.create_default_context(cafile=str(cert))
        pop = poplib.POP3_SSL("127.0.0.1", s.server.port, context=context, timeout=30)
        pop.user("alice")
        pop.pass_("12345pass")
        assert pop.stat()[0] == 2
        assert "STLS" not in pop.capa()
        pop.quit()


def test_maildrop_lock_in_use(setup: Setup) -> None:
    first = setup.pop()
    first.user("alice")
    first.pass_("12345pass")
    second = setup.pop()
    second.user("alice")
    # RFC 3206 §4
    with pytest.raises(poplib.error_proto, match=r"^b'-ERR \[IN-USE\]"):
        second.pass_("12345pass")
    first.quit()
    # the lock went with the first session
    second.user("alice")
    assert second.pass_("12345pass").startswith(b"+OK")
    second.quit()


def test_failed_logins_are_delayed_and_uniform(tmp_path: pathlib.Path) -> None:
    s = Setup(tmp_path, auth_failure_delay=0.3)
    with s.server:
        answers = []
        for user, password in [("nobody", "x"), ("alice", "wrong")]:
            pop = s.pop()
            assert pop.user(user) == b"+OK"  # USER never tells whether the user exists
            started = time.monotonic()
            with pytest.raises(poplib.error_proto) as err:
                pop.pass_(password)
            assert time.monotonic() - started >= 0.25
            answers.append(err.value.args[0])
            pop.close()
        assert answers[0] == answers[1] == b"-ERR [AUTH] Authentication failed."


def test_deletions_only_at_quit_and_seen_flags(setup: Setup) -> None:
    # dropped connection: nothing deleted, nothing marked (RFC 1939 §6)
    pop = setup.pop()
    pop.user("alice")
    pop.pass_("12345pass")
    pop.retr(1)
    pop.dele(1)
    pop.dele(2)
    pop.close()
    deadline = time.monotonic() + 10
    while setup.server.active_connections and time.monotonic() < deadline:
        time.sleep(0.01)
    assert setup.inbox.keys() == setup.keys
    assert setup.inbox.get_flags(setup.keys[0]) == ""
    # QUIT: deleted ones removed, retrieved ones seen (new/ -> cur/ with S, as Dovecot does)
    pop = setup.pop()
    pop.user("alice")
    pop.pass_("12345pass")
    pop.retr(2)
    pop.dele(1)
    # deleted messages are hidden from later commands (RFC 1939 §5)
    with pytest.raises(poplib.error_proto, match="already deleted"):
        pop.retr(1)
    assert pop.stat() == (1, 500)
    assert pop.quit() == b"+OK POP3 server signing off (1 message left)"
    assert setup.inbox.keys() == [setup.keys[1]]
    assert setup.inbox.get_flags(setup.keys[1]) == "S"
    # Python's mailbox module reads the result the same way
    md = mailbox.Maildir(pathlib.Path(setup.inbox.path), create=False)
    (only,) = md.values()
    assert only.get_subdir() == "cur" and only.get_flags() == "S"


def test_idle_timeout_deletes_nothing(tmp_path: pathlib.Path) -> None:
    s = Setup(tmp_path, timeout=0.5)
    with s.server:
        pop = s.pop()
        pop.user("alice")
        pop.pass_("12345pass")
        pop.dele(1)
        # RFC 1939 §3: the autologout timer ends the session without UPDATE
        assert pop.file.readline() == b"-ERR Disconnected for inactivity.\r\n"
        assert pop.file.readline() == b""
        pop.close()
        assert s.inbox.keys() == s.keys


def _raw(setup: Setup) -> tuple[socket.socket, object]:
    sock = socket.create_connection(("127.0.0.1", setup.server.port), timeout=30)
    f = sock.makefile("rb")
    assert f.readline().startswith(b"+OK")
    return sock, f


def test_bad_input_gets_err_and_the_session_continues(setup: Setup) -> None:
    pop = setup.pop()
    for command, reply in [
        ("XTND XMIT", b"-ERR Unknown command: XTND"),
        ("STAT", b"-ERR Not logged in: STAT needs USER/PASS, APOP or AUTH first."),
        ("USER " + "a" * 2000, b"-ERR Command line too long."),
    ]:
        with pytest.raises(poplib.error_proto) as err:
            pop._shortcmd(command)
        assert err.value.args[0] == reply
    pop.user("alice")
    pop.pass_("12345pass")
    with pytest.raises(poplib.error_proto, match="Syntax: RETR msg"):
        pop._shortcmd("RETR one")
    with pytest.raises(poplib.error_proto, match="No such message"):
        pop.retr(7)
    assert pop.noop() == b"+OK"
    pop.quit()


def test_a_flood_of_bad_commands_ends_the_connection(tmp_path: pathlib.Path) -> None:
    s = Setup(tmp_path, max_errors=5)
    with s.server:
        sock, f = _raw(s)
        sock.sendall(b"NONSENSE\r\n" * 100)
        replies = [f.readline() for _ in range(7)]  # type: ignore[attr-defined]
        assert replies[:5] == [b"-ERR Unknown command: NONSENSE\r\n"] * 5
        assert replies[5] == b"-ERR Too many invalid commands, closing.\r\n"
        assert replies[6] == b""
        sock.close()


def test_stls_command_injection_is_refused(tmp_path: pathlib.Path) -> None:
    # RFC 2595 §4 / CVE-2011-0411: plaintext pipelined after STLS must not reach the
    # TLS session; the server hangs up instead of running it.
    cert, key = tls.write_self_signed_certificate(tmp_path)
    s = Setup(tmp_path, tls_cert=cert, tls_key=key)
    with s.server:
        sock, f = _raw(s)
        sock.sendall(b"STLS\r\nUSER alice\r\n")
        assert f.readline() == b"+OK Begin TLS negotiation now.\r\n"  # type: ignore[attr-defined]
        assert f.readline() == b""  # type: ignore[attr-defined]
        sock.close()


def test_plaintext_passwords_refused_from_other_hosts(setup: Setup) -> None:
    # 127.0.0.2 is another address than the server's 127.0.0.1: not "the same host"
    sock = socket.create_connection(
        ("127.0.0.1", setup.server.port), timeout=30, source_address=("127.0.0.2", 0)
    )
    f = sock.makefile("rb")
    assert f.readline().startswith(b"+OK")
    sock.sendall(b"USER alice\r\n")
    assert f.readline().startswith(b"-ERR [AUTH] Plaintext authentication disallowed")
    sock.close()


def test_client_and_server_long_lines_and_many_messages(setup: Setup) -> None:
    long = b"Subject: long\r\n\r\n" + b"y" * 10_000 + b"\r\n.dot\r\n"
    key = setup.inbox.add(long)
    with Pop3Client("127.0.0.1", setup.server.port, tls="none", allow_insecure_auth=True) as c:
        c.login("alice", "12345pass")
        assert c.uidl(3) == key
        assert c.retr_bytes(3) == long
        everything = c.fetch_all_bytes(delete=True)
        assert everything == [setup.first.replace(b"\n", b"\r\n"), setup.second, long]
    assert setup.inbox.keys() == []


def test_lifecycle(tmp_path: pathlib.Path) -> None:
    s = Setup(tmp_path)
    with pytest.raises(RuntimeError, match="not started"):
        _ = s.server.port
    s.server.start()
    port = s.server.port
    assert repr(s.server) == f"<Pop3Server 127.0.0.1:{port}>"
    pop = s.pop()
    pop.user("alice")
    pop.pass_("12345pass")
    pop.dele(1)
    # stopping tells the idle session and closes it without UPDATE
    s.server.stop()
    assert pop.file.readline() == b"-ERR [SYS/TEMP] Server shutting down.\r\n"
    pop.close()
    assert s.inbox.keys() == s.keys
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5)
    with pytest.raises(RuntimeError, match="create a new one"):
        s.server.start()

    async def main() -> None:
        server = Pop3Server(store=s.store, users=s.users)
        ready = asyncio.Event()
        task = asyncio.create_task(server.serve(ready=ready))
        await ready.wait()
        from mailprims import AsyncPop3Client

        async with AsyncPop3Client(
            "127.0.0.1", server.port, tls="none", allow_insecure_auth=True
        ) as c:
            await c.login("bob", "bobpass")
            assert await c.stat() == (0, 0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", server.port), timeout=5)

    asyncio.run(main())


def test_bad_configuration(tmp_path: pathlib.Path) -> None:
    store, users = MaildirStore(tmp_path), Users()
    with pytest.raises(TypeError, match="MaildirStore"):
        Pop3Server(store=object(), users=users)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Users"):
        Pop3Server(store=store, users={})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="together"):
        cert, _ = tls.write_self_signed_certificate(tmp_path)
        Pop3Server(store=store, users=users, tls_cert=cert)
    with pytest.raises(ValueError, match="implicit_tls"):
        Pop3Server(store=store, users=users, implicit_tls=True)
    with pytest.raises(ValueError, match="timeout"):
        Pop3Server(store=store, users=users, timeout=0)
    with pytest.raises(mailprims.ConfigError):
        Pop3Server(store=store, users=users, tls_cert=cert, tls_key=cert)
    busy = socket.create_server(("127.0.0.1", 0))
    try:
        server = Pop3Server(port=busy.getsockname()[1], store=store, users=users)
        with pytest.raises(mailprims.MailConnectionError):
            server.start()
    finally:
        busy.close()


def _crlf(data: bytes) -> bytes:
    return re.sub(rb"(?<!\r)\n", b"\r\n", data)


@settings(max_examples=40)
@given(
    st.lists(
        st.sampled_from([b".", b"..", b"\n", b"\r\n", b"\r", b"x", b".x\n", b"\n.\n", b" "]),
        max_size=40,
    ).map(b"".join)
)
def test_any_message_round_trips_through_server_and_client(
    hypothesis_setup: Setup, data: bytes
) -> None:
    # Dot-stuffing and line ends on both sides (RFC 1939 §3), on messages built from the
    # awkward pieces: lone dots, dots at line starts, bare CR, bare LF, no final newline.
    stored = b"Subject: t\n\n" + data
    key = hypothesis_setup.inbox.add(stored)
    with Pop3Client(
        "127.0.0.1", hypothesis_setup.server.port, tls="none", allow_insecure_auth=True
    ) as c:
        c.login("bob", "bobpass")
        (number,) = [n for n, uid in c.uidl().items() if uid == key]
        # LIST counts the CRLF form; RETR sends it, completing a last line without a line end
        assert c.list(number) == len(_crlf(stored))
        got = c.retr_bytes(number)
        assert got.startswith(_crlf(stored))
        assert got[len(_crlf(stored)) :] in (b"", b"\n", b"\r\n")
        assert got.endswith(b"\r\n")
        c.dele(number)
