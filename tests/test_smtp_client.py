"""The SMTP client against aiosmtpd (a real server nobody here wrote): plain, pipelined,
STARTTLS and implicit TLS, AUTH, SMTPUTF8, SIZE, partial refusal, 4xx/5xx at every stage, a
dropped connection, timeouts, the async pool, cancellation, and the envelope rules."""

from __future__ import annotations

import asyncio
import base64
import email.message
import email.policy
import pathlib
import socket
import ssl
import threading
import time

import pytest
from _net import free_port
from smtp_peers import WAIT, Recorder, ScriptedServer, accept_users, aiosmtpd_server

import mailprims as mp

MESSAGE = (
    b"From: Alice <alice@example.org>\r\n"
    b"To: Bob <bob@example.com>, carol@example.com\r\n"
    b"Cc: Dan <dan@example.net>\r\n"
    b"Bcc: eve@example.net,\r\n  Bob <BOB@example.com>\r\n"
    b"Subject: Hello\r\n"
    b"\r\n"
    b"Hello Bob\r\n"
    b".\r\n"
    b"..two dots\r\n"
)


def plain(port: int, **kw: object) -> mp.SmtpClient:
    options: dict[str, object] = {"tls": "none", "timeout": 5}
    options.update(kw)
    return mp.SmtpClient("127.0.0.1", port, **options)  # type: ignore[arg-type]


@pytest.fixture
def certs(tmp_path: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    return mp.tls.write_self_signed_certificate(tmp_path)


def server_context(certs: tuple[pathlib.Path, pathlib.Path]) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*certs)
    return ctx


def test_send_plain_envelope_from_headers_and_bcc_removed() -> None:
    """RFC 5322 §3.6.3: Bcc recipients get the message but the field is not transmitted;
    the envelope is Sender/From and To+Cc+Bcc deduplicated; dot-stuffing round-trips."""
    handler = Recorder()
    with aiosmtpd_server(handler) as server, plain(server.port) as c:
        result = c.send(MESSAGE)
    (got,) = handler.messages
    assert got.mail_from == "alice@example.org"
    assert got.rcpt_tos == [
        "bob@example.com",
        "carol@example.com",
        "dan@example.net",
        "eve@example.net",
    ]
    assert b"Bcc" not in got.content and b"eve@" not in got.content
    assert got.content.endswith(b"Hello Bob\r\n.\r\n..two dots\r\n")
    assert result.accepted == got.rcpt_tos and not result.refused
    assert result.reply == mp.SmtpReply(250, "2.0.0", "OK queued as 12345")
    assert result.recipients["bob@example.com"] == mp.SmtpReply(250, "2.1.5", "OK")


def test_pipelined_server_many_messages_one_connection() -> None:
    """PIPELINING offered (RFC 2920): several messages over one connection, RSET-free."""
    handler = Recorder(pipelining=True)
    with aiosmtpd_server(handler) as server, plain(server.port) as c:
        assert "pipelining" in c.extensions
        for i in range(5):
            c.send(MESSAGE.replace(b"Hello Bob", b"message %d" % i))
    assert handler.ehlos == 1
    assert [m.content.count(b"message %d" % i) for i, m in enumerate(handler.messages)] == [1] * 5


@pytest.mark.parametrize(
    "message",
    [
        MESSAGE,
        bytearray(MESSAGE),
        memoryview(MESSAGE),
        MESSAGE.decode(),
        MESSAGE.replace(b"\r\n", b"\n"),
    ],
    ids=["bytes", "bytearray", "memoryview", "str", "bare-LF"],
)
def test_message_types(message: object) -> None:
    handler = Recorder()
    with aiosmtpd_server(handler) as server, plain(server.port) as c:
        c.send(message)
    # RFC 5321 §2.3.8: every line ends in CRLF on the wire
    assert handler.messages[0].content.endswith(b"Hello Bob\r\n.\r\n..two dots\r\n")


def test_email_message_and_as_bytes_objects() -> None:
    m = email.message.EmailMessage()
    m["From"] = "Zoe <zoe@example.org>"
    m["To"] = "bob@example.com"
    m["Bcc"] = "hidden@example.com"
    m["Subject"] = "stdlib message"
    m.set_content("body line\n")

    class HasAsBytes:
        def as_bytes(self) -> bytes:
            return MESSAGE

    handler = Recorder()
    with aiosmtpd_server(handler) as server, plain(server.port) as c:
        c.send(m)
        c.send(HasAsBytes())
        with pytest.raises(TypeError):
            c.send(12345)
    first = handler.messages[0]
    assert first.mail_from == "zoe@example.org"
    assert first.rcpt_tos == ["bob@example.com", "hidden@example.com"]
    assert b"hidden@" not in first.content and b"\r\nbody line\r\n" in first.content
    assert handler.messages[1].mail_from == "alice@example.org"


def test_explicit_envelope_overrides_headers() -> None:
    handler = Recorder()
    with aiosmtpd_server(handler) as server, plain(server.port) as c:
        c.send(
            MESSAGE, sender="<bounce@example.org>", recipients=["x@example.com", "X@example.com"]
        )
        c.send(MESSAGE, sender="", recipients=["y@example.com"])  # null reverse-path
        with pytest.raises(mp.ConfigError, match="no recipients"):
            c.send(b"From: a@example.com\r\n\r\n")
        with pytest.raises(mp.ConfigError, match="sender"):
            c.send(b"To: a@example.com\r\n\r\n")
    assert handler.messages[0].mail_from == "bounce@example.org"
    assert handler.messages[0].rcpt_tos == ["x@example.com"]
    assert handler.messages[1].mail_from == "<>"  # how aiosmtpd records the null path


def test_envelope_reads_addresses_as_message_does() -> None:
    """One address grammar: an address `Message.to` reads (obsolete syntax, RFC 5322
    Appendix A.6.1: spaces around the dot, a source route, comments) is one the client sends
    to. The SMTP client used to read envelopes with another grammar and refused these."""
    raw = (
        b"From: Mary Smith <@node.test:mary@example.net>\r\n"
        b"To: jdoe@test  . example, John Doe <jdoe@machine(comment).  example>\r\n"
        b"Subject: obsolete syntax\r\n\r\nhi\r\n"
    )
    msg = mp.Message.parse(raw)
    handler = Recorder()
    with aiosmtpd_server(handler) as server, plain(server.port) as c:
        result = c.send(msg)
    (got,) = handler.messages
    assert got.mail_from == msg.from_[0].email == "mary@example.net"
    assert got.rcpt_tos == [a.email for a in msg.to]
    assert got.rcpt_tos == ["jdoe@test.example", "jdoe@machine.example"]
    assert result.accepted == got.rcpt_tos


def test_partial_refusal_is_in_the_result() -> None:
    handler = Recorder(refuse={"RCPT:carol@example.com": "550 5.1.1 no such user"})
    with aiosmtpd_server(handler) as server, plain(server.port) as c:
        result = c.send(MESSAGE)
    assert result.refused == {"carol@example.com": mp.SmtpReply(550, "5.1.1", "no such user")}
    assert "carol@example.com" in repr(result) and "REFUSED" in repr(result)
    assert "carol@example.com" not in handler.messages[0].rcpt_tos


def test_all_recipients_refused() -> None:
    handler = Recorder(refuse={"RCPT": "550 5.7.1 relaying denied"})
    with aiosmtpd_server(handler) as server, plain(server.port) as c:
        with pytest.raises(mp.SmtpRecipientsRefused) as info:
            c.send(MESSAGE)
        assert set(info.value.recipients) == {
            "bob@example.com",
            "carol@example.com",
            "dan@example.net",
            "eve@example.net",
        }
        assert info.value.code == 550 and info.value.enhanced_code == "5.7.1"
        assert isinstance(info.value, mp.SmtpError)
        handler.refuse.clear()
        c.send(MESSAGE)  # the connection was reset (RSET) and still works
    assert len(handler.messages) == 1 and handler.ehlos == 1


@pytest.mark.parametrize("pipelining", [False, True])
@pytest.mark.parametrize(
    ("stage", "reply", "error", "code", "enhanced"),
    [
        ("MAIL", "451 4.3.0 try again later", mp.SmtpTemporaryError, 451, "4.3.0"),
        ("MAIL", "553 5.1.8 sender rejected", mp.SmtpPermanentError, 553, "5.1.8"),
        ("RCPT", "452 4.5.3 too many recipients", mp.SmtpRecipientsRefused, 452, "4.5.3"),
        ("DATA", "452 4.3.1 insufficient storage", mp.SmtpTemporaryError, 452, "4.3.1"),
        ("DATA", "554 5.7.1 message rejected as spam", mp.SmtpPermanentError, 554, "5.7.1"),
    ],
)
def test_errors_at_every_stage(
    pipelining: bool, stage: str, reply: str, error: type, code: int, enhanced: str
) -> None:
    """4xx is SmtpTemporaryError, 5xx SmtpPermanentError, each with code, enhanced code
    (RFC 3463) and text; the session survives for the next message."""
    handler = Recorder(refuse={stage: reply}, pipelining=pipelining)
    with aiosmtpd_server(handler) as server, plain(server.port) as c:
        with pytest.raises(error) as info:
            c.send(MESSAGE)
        assert (info.value.code, info.value.enhanced_code) == (code, enhanced)
        assert info.value.text == reply[10:]
        handler.refuse.clear()
        c.send(MESSAGE)
    assert len(handler.messages) == 1 and handler.ehlos == 1


def test_size_limit_refused_before_sending() -> None:
    """RFC 1870: a message over the declared SIZE is not sent at all."""
    handler = Recorder()
    with aiosmtpd_server(handler, data_size_limit=200) as server, plain(server.port) as c:
        assert c.extensions["size"] == "200"
        with pytest.raises(mp.SmtpPermanentError, match="SIZE") as info:
            c.send(MESSAGE + b"x" * 300 + b"\r\n")
        assert info.value.enhanced_code == "5.3.4"
        c.send(MESSAGE)
    assert len(handler.messages) == 1
    sent = MESSAGE.replace(b"Bcc: eve@example.net,\r\n  Bob <BOB@example.com>\r\n", b"")
    assert f"SIZE={len(sent)}" in handler.messages[0].mail_options


UTF8_MESSAGE = (
    "From: 测试 <测试@例子.广告>\r\nTo: 用户@例子.广告\r\nSubject: 你好\r\n\r\n正文\r\n"
).encode()


def test_smtputf8_used_when_needed() -> None:
    """RFC 6531: non-ASCII addresses and headers go with the SMTPUTF8 parameter."""
    handler = Recorder()
    with aiosmtpd_server(handler, enable_SMTPUTF8=True) as server, plain(server.port) as c:
        c.send(UTF8_MESSAGE)
        c.send(MESSAGE)
    utf8, ascii_only = handler.messages
    assert utf8.mail_from == "测试@例子.广告"
    assert utf8.rcpt_tos == ["用户@例子.广告"]
    assert "SMTPUTF8" in utf8.mail_options and "BODY=8BITMIME" in utf8.mail_options
    assert "正文".encode() in utf8.content
    assert "SMTPUTF8" not in ascii_only.mail_options


def test_smtputf8_needed_but_not_offered() -> None:
    handler = Recorder()
    with aiosmtpd_server(handler, enable_SMTPUTF8=False) as server, plain(server.port) as c:
        assert "smtputf8" not in c.extensions
        with pytest.raises(mp.SmtpNotSupportedError, match="SMTPUTF8"):
            c.send(UTF8_MESSAGE)
        c.send(MESSAGE)
    assert len(handler.messages) == 1


def test_starttls_with_verified_certificate_and_auth(
    certs: tuple[pathlib.Path, pathlib.Path],
) -> None:
    """RFC 3207 STARTTLS, certificate checked against the given CA; RFC 4954 AUTH PLAIN and
    LOGIN over it (aiosmtpd refuses AUTH before TLS)."""
    handler = Recorder()
    kwargs = {
        "tls_context": server_context(certs),
        "authenticator": accept_users,
        "auth_required": True,
    }
    with aiosmtpd_server(handler, **kwargs) as server:
        for mechanism in (None, "LOGIN"):
            with mp.SmtpClient(
                "localhost",
                server.port,
                tls="starttls",
                cafile=certs[0],
                timeout=5,
                username="alice",
                password="wonderland",
                auth_mechanism=mechanism,
            ) as c:
                assert c.tls_version in ("TLSv1.3", "TLSv1.2")
                assert c.authenticated
                assert "auth" in c.extensions and "starttls" not in c.extensions
                c.send(MESSAGE)
        with pytest.raises(mp.SmtpPermanentError) as info:
            mp.SmtpClient(
                "localhost",
                server.port,
                tls="starttls",
                cafile=certs[0],
                username="alice",
                password="wrong",
                timeout=5,
            ).connect()
        assert info.value.code == 535
        # "auto" takes STARTTLS when offered
        with mp.SmtpClient(
            "localhost",
            server.port,
            cafile=certs[0],
            timeout=5,
            username="alice",
            password="wonderland",
        ) as c:
            assert c.tls_version is not None
    assert len(handler.messages) == 2


def test_certificate_verification_is_on_by_default(
    certs: tuple[pathlib.Path, pathlib.Path],
) -> None:
    handler = Recorder()
    with aiosmtpd_server(handler, tls_context=server_context(certs)) as server:
        with pytest.raises(mp.TlsError):
            mp.SmtpClient("localhost", server.port, tls="starttls", timeout=5).connect()
        # the certificate names localhost, not this
        with pytest.raises(mp.TlsError):
            mp.SmtpClient(
                "127.0.0.1",
                server.port,
                tls="starttls",
                cafile=certs[0],
                tls_hostname="mail.example.com",
                timeout=5,
            ).connect()
        with mp.SmtpClient("127.0.0.1", server.port, tls="starttls", verify=False) as c:
            c.send(MESSAGE)
    assert len(handler.messages) == 1


def test_implicit_tls(certs: tuple[pathlib.Path, pathlib.Path]) -> None:
    """RFC 8314: TLS from the first byte (what port 465 speaks)."""
    handler = Recorder()
    with aiosmtpd_server(handler, ssl_context=server_context(certs)) as server:
        with mp.SmtpClient("localhost", server.port, tls="implicit", cafile=certs[0]) as c:
            assert c.tls_version is not None
            c.send(MESSAGE)
    assert len(handler.messages) == 1


def test_credentials_never_sent_in_cleartext() -> None:
    handler = Recorder()
    with aiosmtpd_server(handler, auth_require_tls=False, authenticator=accept_users) as server:
        with pytest.raises(mp.ConfigError, match="unencrypted"):
            plain(server.port, username="alice", password="wonderland")
        # "auto" against a server without STARTTLS: refused before AUTH is sent
        c = mp.SmtpClient("127.0.0.1", server.port, username="alice", password="wonderland")
        with pytest.raises(mp.ConfigError, match="unencrypted"):
            c.connect()
        with plain(
            server.port, username="alice", password="wonderland", allow_insecure_auth=True
        ) as c:
            assert c.authenticated


def test_server_drops_connection_mid_data_then_client_reconnects() -> None:
    handler = Recorder(drop_in_data=True)
    with aiosmtpd_server(handler) as server, plain(server.port) as c:
        with pytest.raises(mp.MailConnectionError) as info:
            c.send(MESSAGE)
        assert isinstance(info.value, ConnectionError)
        assert not c.connected
        handler.drop_in_data = False
        c.send(MESSAGE)
    assert len(handler.messages) == 1 and handler.ehlos == 2


def test_server_that_never_answers_times_out() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    try:
        c = plain(listener.getsockname()[1], timeout=0.3)
        started = time.monotonic()
        with pytest.raises(mp.MailTimeoutError) as info:
            c.connect()
        assert isinstance(info.value, TimeoutError)
        assert time.monotonic() - started < WAIT
    finally:
        listener.close()


def test_transaction_timeout() -> None:
    handler = Recorder(data_delay=2.0)
    with aiosmtpd_server(handler) as server:
        c = plain(server.port, timeout=10, transaction_timeout=0.5)
        with pytest.raises(TimeoutError, match="transaction"):
            c.send(MESSAGE)
        c.close()


def test_connection_refused() -> None:
    port = free_port()
    with pytest.raises(mp.MailConnectionError) as info:
        plain(port).connect()
    assert isinstance(info.value, ConnectionError)


@pytest.mark.parametrize("client_class", [mp.SmtpClient, mp.AsyncSmtpClient])
def test_bad_options_are_value_errors(client_class: type[mp.SmtpClient]) -> None:
    """Every option is checked when the client is made, sync and async alike (one options
    object, read by name in the core)."""
    bad: list[tuple[dict[str, object], str]] = [
        ({"tls": "sometimes"}, "tls must be"),
        ({"timeout": 0}, "timeout must be a positive"),
        ({"connect_timeout": -1}, "connect_timeout must be a positive"),
        ({"transaction_timeout": float("nan")}, "transaction_timeout must be a positive"),
        ({"username": "u"}, "give username with either password or oauth2_token"),
        ({"username": "u", "password": "p", "auth_mechanism": "CRAM-MD5"}, "auth_mechanism"),
        ({"max_connections": 0}, "max_connections must be at least 1"),
        ({"cafile": "x.pem", "cadata": "y"}, "cafile or cadata"),
    ]
    for options, message in bad:
        with pytest.raises(ValueError, match=message):
            client_class("127.0.0.1", 25, **options)  # type: ignore[arg-type]


def test_closed_client() -> None:
    handler = Recorder()
    with aiosmtpd_server(handler) as server:
        with plain(server.port) as c:
            pass
        assert c.closed
        with pytest.raises(mp.MailConnectionError, match="closed"):
            c.send(MESSAGE)


def test_server_closing_idle_connection_is_noticed() -> None:
    """An idle connection the server timed out (aiosmtpd's idle timeout sends 421 and closes)
    is replaced by a new one before the next message."""
    handler = Recorder()
    with aiosmtpd_server(handler, timeout=0.2) as server:
        with plain(server.port) as c:
            c.send(MESSAGE)
            time.sleep(0.6)
            c.send(MESSAGE)
    assert len(handler.messages) == 2 and handler.ehlos == 2


# asyncio


def test_async_pool_sends_concurrently_and_reuses_connections() -> None:
    handler = Recorder(pipelining=True)

    async def main(port: int) -> list[mp.SendResult]:
        async with mp.AsyncSmtpClient("127.0.0.1", port, tls="none", max_connections=3) as c:
            results = await asyncio.gather(*(c.send(MESSAGE) for _ in range(12)))
            assert await c.noop() == mp.SmtpReply(250, None, "OK")
            return list(results)

    with aiosmtpd_server(handler) as server:
        results = asyncio.run(main(server.port))
    assert len(handler.messages) == 12 and all(len(r.accepted) == 4 for r in results)
    assert handler.ehlos <= 3


def test_async_pool_replaces_connections_the_server_closed() -> None:
    handler = Recorder()

    async def main(port: int) -> None:
        async with mp.AsyncSmtpClient("127.0.0.1", port, tls="none") as c:
            await asyncio.gather(*(c.send(MESSAGE) for _ in range(2)))
            await asyncio.sleep(0.6)  # past the server's idle timeout
            await asyncio.gather(*(c.send(MESSAGE) for _ in range(2)))

    with aiosmtpd_server(handler, timeout=0.2) as server:
        asyncio.run(main(server.port))
    assert len(handler.messages) == 4


def test_async_errors_are_typed() -> None:
    handler = Recorder(refuse={"MAIL": "451 4.3.0 later"})

    async def main(port: int) -> None:
        async with mp.AsyncSmtpClient("127.0.0.1", port, tls="none") as c:
            with pytest.raises(mp.SmtpTemporaryError) as info:
                await c.send(MESSAGE)
            assert info.value.code == 451

    with aiosmtpd_server(handler) as server:
        asyncio.run(main(server.port))


STALL_THEN_SERVE = [
    (b"EHLO mta.example.org\r\n", b"250 hello\r\n"),
    (b"MAIL FROM:<a@x.example>\r\n", b"250 ok\r\n"),
    (b"RCPT TO:<b@y.example>\r\n", b"250 ok\r\n"),
    (b"DATA\r\n", b"354 go ahead\r\n"),
    (b"Subject: x\r\n\r\nx\r\n.\r\n", None),  # never answers the message
]
SERVE = [
    (b"EHLO mta.example.org\r\n", b"250 hello\r\n"),
    (b"MAIL FROM:<a@x.example>\r\n", b"250 ok\r\n"),
    (b"RCPT TO:<b@y.example>\r\n", b"250 ok\r\n"),
    (b"DATA\r\n", b"354 go ahead\r\n"),
    (b"Subject: x\r\n\r\nx\r\n.\r\n", b"250 queued\r\n"),
    (b"QUIT\r\n", b"221 bye\r\n"),
]


@pytest.mark.parametrize("how", ["wait_for", "cancel"])
def test_cancelled_send_closes_the_connection(how: str) -> None:
    """Cancelling an awaited send raises CancelledError (TimeoutError through wait_for),
    closes its connection (the server sees EOF), and the next send reconnects."""
    server = ScriptedServer((b"220 ready\r\n", STALL_THEN_SERVE), (b"220 ready\r\n", SERVE))

    async def main() -> mp.SendResult:
        c = mp.AsyncSmtpClient(
            "127.0.0.1", server.port, tls="none", local_hostname="mta.example.org"
        )
        send = c.send(b"Subject: x\r\n\r\nx\r\n", sender="a@x.example", recipients=["b@y.example"])
        if how == "wait_for":
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(send, 0.5)
        else:
            task = asyncio.ensure_future(send)
            await asyncio.sleep(0.5)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        assert not c.connected
        await asyncio.get_running_loop().run_in_executor(None, server.wait, 1)
        result = await c.send(
            b"Subject: x\r\n\r\nx\r\n", sender="a@x.example", recipients=["b@y.example"]
        )
        await c.close()
        return result

    result = asyncio.run(main())
    server.wait(2)
    assert server.closed_by_client == [True, True]
    assert result.reply.text == "queued"
    server.close()


def test_sync_send_can_be_called_from_threads() -> None:
    handler = Recorder()
    with aiosmtpd_server(handler) as server, plain(server.port) as c:
        threads = [threading.Thread(target=c.send, args=(MESSAGE,)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(WAIT)
    assert len(handler.messages) == 4


class OAuthRecorder(Recorder):
    """aiosmtpd with an XOAUTH2 mechanism (a handler ``auth_<MECHANISM>`` hook)."""

    blobs: list[str] = []  # noqa: RUF012 - one test, one class

    async def auth_XOAUTH2(self, server: object, args: list[str]) -> object:
        from aiosmtpd.smtp import AuthResult

        blob = base64.b64decode(args[1]).decode()
        self.blobs.append(blob)
        return AuthResult(success=blob.endswith("auth=Bearer ya29.good\x01\x01"), handled=False)


def test_xoauth2(certs: tuple[pathlib.Path, pathlib.Path]) -> None:
    """XOAUTH2 (Google/Microsoft SASL profile): user and bearer token in one initial response."""
    handler = OAuthRecorder()
    with aiosmtpd_server(handler, tls_context=server_context(certs), auth_required=True) as server:
        options = {"tls": "starttls", "cafile": certs[0], "username": "alice", "timeout": 5}
        with mp.SmtpClient("localhost", server.port, oauth2_token="ya29.good", **options) as c:
            assert "XOAUTH2" in c.extensions["auth"].split()
            c.send(MESSAGE)
        with pytest.raises(mp.SmtpPermanentError) as info:
            mp.SmtpClient("localhost", server.port, oauth2_token="ya29.bad", **options).connect()
        assert info.value.code == 535
    assert handler.blobs[0] == "user=alice\x01auth=Bearer ya29.good\x01\x01"
    assert len(handler.messages) == 1
