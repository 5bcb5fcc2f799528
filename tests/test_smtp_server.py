"""The SMTP server against the stdlib's smtplib (and aiosmtpd as the reference for handler
semantics): plain sessions, STARTTLS, AUTH, SMTPUTF8, error replies, hooks, shutdown.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import errno
import logging
import pathlib
import smtplib
import socket
import ssl
import threading
import time
from email.message import EmailMessage
from typing import Any

import pytest
from _net import free_port
from smtp_helpers import GREETING, HOST, Raw

import mailprims as mp
from mailprims import tls

USERS = {"alice": "wonderland", "bob": "builder"}


def check(username: str, password: str) -> bool:
    return USERS.get(username) == password


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[pathlib.Path, pathlib.Path]:
    return tls.write_self_signed_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def client_tls(cert: tuple[pathlib.Path, pathlib.Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert[0]))


def message(subject: str = "hello", body: str = "Hi there.\n") -> EmailMessage:
    m = EmailMessage()
    m["From"] = "alice@example.org"
    m["To"] = "bob@example.org"
    m["Subject"] = subject
    m.set_content(body)
    return m


def test_send_with_smtplib_and_read_back() -> None:
    sink = mp.Sink()
    with mp.SmtpServer(handler=sink, hostname=HOST) as server:
        assert server.port > 0
        with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
            code, _ = client.ehlo("client.test")
            assert code == 250
            for ext in (
                "pipelining",
                "size",
                "8bitmime",
                "smtputf8",
                "enhancedstatuscodes",
                "chunking",
            ):
                assert client.has_extn(ext), ext
            assert not client.has_extn("starttls") and not client.has_extn("auth")
            msg = message(body="line one\n.line with a dot\n")
            assert client.send_message(msg) == {}
        (got,) = server.messages
    assert got.mail_from == "alice@example.org" and got.rcpt_tos == ["bob@example.org"]
    # options as the client sent them (smtplib writes "size=")
    assert got.mail_options == ["size=" + str(len(msg.as_bytes().replace(b"\n", b"\r\n")))]
    assert got.original_content == msg.as_bytes().replace(b"\n", b"\r\n")
    assert got.message is not None and got.message.subject == "hello"
    assert got.message.text is not None
    assert got.message.text.replace("\r\n", "\n") == "line one\n.line with a dot\n"
    assert got.message.headers["Return-Path"] == "<alice@example.org>"
    # the trace field as mailprims' own parser reads it (RFC 5321 §4.4)
    (hop,) = got.message.received
    assert (hop.from_host, hop.from_ip, hop.by_host, hop.protocol) == (
        "client.test",
        "127.0.0.1",
        HOST,
        "ESMTP",
    )
    assert hop.id == got.id and hop.for_ == "bob@example.org" and hop.tls is None
    # and as the stdlib reads it
    stdlib = email.message_from_bytes(got.content or b"", policy=email.policy.default)
    assert "from client.test ([127.0.0.1])" in stdlib["Received"]
    session = got.session  # type: ignore[attr-defined]
    assert session.host_name == "client.test" and session.peer[0] == "127.0.0.1"
    assert session.tls is None and not session.authenticated


def test_error_replies_reach_smtplib_as_exceptions() -> None:
    with mp.SmtpServer(
        handler=mp.Sink(), hostname=HOST, domains=["example.org"], max_message_size=5000
    ) as server:
        with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
            with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
                client.sendmail(
                    "a@example.org", ["x@elsewhere.example"], b"Subject: x\r\n\r\nx\r\n"
                )
            code, text = refused.value.recipients["x@elsewhere.example"]
            assert code == 550 and text.startswith(b"5.7.1")
            with pytest.raises(smtplib.SMTPSenderRefused) as too_big:
                client.sendmail("a@example.org", ["b@example.org"], b"x" * 6000)
            assert too_big.value.smtp_code == 552
            client.rset()
            with pytest.raises(smtplib.SMTPDataError) as long_line:
                client.sendmail("a@example.org", ["b@example.org"], b"y" * 1500 + b"\r\n")
            assert long_line.value.smtp_code == 500
            assert client.verify("bob")[0] == 252
            assert client.noop()[0] == 250
            assert client.docmd("BOGUS")[0] == 500


def test_starttls_auth_and_trace(
    cert: tuple[pathlib.Path, pathlib.Path], client_tls: ssl.SSLContext
) -> None:
    sink = mp.Sink()
    with mp.SmtpServer(
        handler=sink,
        hostname="localhost",
        tls_cert=str(cert[0]),
        tls_key=str(cert[1]),
        authenticator=check,
    ) as server:
        with smtplib.SMTP("localhost", server.port, timeout=10) as client:
            client.ehlo()
            assert client.has_extn("starttls")
            assert not client.has_extn("auth")  # RFC 4954 §4: not before TLS
            assert client.docmd("AUTH", "PLAIN AGFsaWNlAHdvbmRlcmxhbmQ=") == (
                538,
                b"5.7.11 Encryption required for requested authentication mechanism",
            )
            client.starttls(context=client_tls)
            client.ehlo()
            assert client.has_extn("auth") and not client.has_extn("starttls")
            assert "PLAIN" in client.esmtp_features["auth"]
            with pytest.raises(smtplib.SMTPAuthenticationError) as bad:
                client.login("alice", "wrong")
            assert bad.value.smtp_code == 535
            code, _ = client.login("alice", "wonderland")
            assert code == 235
            assert client.docmd("AUTH", "PLAIN")[0] == 503  # already authenticated
            client.send_message(message())
        (got,) = server.messages
    session = got.session  # type: ignore[attr-defined]
    assert session.auth_user == "alice" and session.authenticated
    assert session.tls is not None and session.tls.version.startswith("TLSv1.")
    assert got.message is not None
    (hop,) = got.message.received
    assert hop.protocol == "ESMTPSA" and hop.tls is not None
    assert session.tls.cipher in hop.tls
    received = got.message.headers["Received"]
    assert "with ESMTPSA" in received
    assert f"(using {session.tls.version} with cipher {session.tls.cipher})" in received


def test_auth_login_mechanism_and_cancel(client_tls: ssl.SSLContext, cert: Any) -> None:
    with mp.SmtpServer(
        handler=mp.Sink(), hostname="localhost", authenticator=check, auth_require_tls=False
    ) as server:
        with smtplib.SMTP("localhost", server.port, timeout=10) as client:
            client.ehlo()
            assert "LOGIN" in client.esmtp_features["auth"]  # cleartext allowed by the operator
            client.user, client.password = "bob", "builder"
            assert client.auth("LOGIN", client.auth_login)[0] == 235
        with Raw(server.port) as raw:
            raw.reply()
            raw.sock.sendall(b"EHLO c\r\n")
            raw.reply()
            raw.expect(b"AUTH LOGIN\r\n", b"334 VXNlcm5hbWU6\r\n")
            raw.expect(b"*\r\n", b"501 5.7.0 Authentication cancelled\r\n")
            raw.expect(b"AUTH CRAM-MD5\r\n", b"504 5.5.4 Unrecognized authentication type\r\n")
            raw.expect(b"AUTH PLAIN\r\n", b"334 \r\n")
            raw.expect(b"!!!\r\n", b"501 5.5.2 invalid base64 in AUTH response\r\n")


def test_starttls_discards_injected_plaintext(
    cert: tuple[pathlib.Path, pathlib.Path], client_tls: ssl.SSLContext
) -> None:
    # RFC 3207 §4 / CVE-2011-0411: commands pipelined after STARTTLS, before the handshake,
    # must not be executed inside the TLS session.
    with mp.SmtpServer(
        handler=mp.Sink(), hostname=HOST, tls_cert=str(cert[0]), tls_key=str(cert[1])
    ) as server:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        try:
            f = sock.makefile("rb")
            assert f.readline() == GREETING
            sock.sendall(b"EHLO c\r\n")
            while not f.readline().startswith(b"250 "):
                pass
            sock.sendall(b"STARTTLS\r\nMAIL FROM:<evil@example.org>\r\n")
            assert f.readline() == b"220 2.0.0 Ready to start TLS\r\n"
            tls_sock = client_tls.wrap_socket(sock, server_hostname="localhost")
            tf = tls_sock.makefile("rb")
            tls_sock.sendall(b"EHLO c\r\n")
            while not tf.readline().startswith(b"250 "):
                pass
            tls_sock.sendall(b"RCPT TO:<b@example.org>\r\n")
            assert tf.readline() == b"503 5.5.1 Error: need MAIL command\r\n"
            tls_sock.sendall(b"STARTTLS\r\n")
            assert tf.readline() == b"503 5.5.1 Error: TLS already active\r\n"
            tf.close()
            tls_sock.close()
        finally:
            sock.close()


def test_require_starttls(
    cert: tuple[pathlib.Path, pathlib.Path], client_tls: ssl.SSLContext
) -> None:
    with mp.SmtpServer(
        handler=mp.Sink(),
        hostname="localhost",
        tls_cert=str(cert[0]),
        tls_key=str(cert[1]),
        require_starttls=True,
    ) as server:
        with smtplib.SMTP("localhost", server.port, timeout=10) as client:
            client.ehlo()
            assert client.mail("a@example.org") == (
                530,
                b"5.7.0 Must issue a STARTTLS command first",
            )
            client.starttls(context=client_tls)
            client.ehlo()
            assert client.mail("a@example.org")[0] == 250


def test_submission_requires_auth(
    cert: tuple[pathlib.Path, pathlib.Path], client_tls: ssl.SSLContext
) -> None:
    # RFC 6409 §4.3 (submission needs authentication); RFC 5068 (no open relay)
    sink = mp.Sink()
    with mp.SmtpServer(
        handler=sink,
        hostname="localhost",
        tls_cert=str(cert[0]),
        tls_key=str(cert[1]),
        authenticator=check,
        submission=True,
        domains=["example.org"],
    ) as server:
        with smtplib.SMTP("localhost", server.port, timeout=10) as client:
            client.starttls(context=client_tls)
            client.ehlo()
            assert client.mail("alice@example.org") == (530, b"5.7.0 Authentication required")
            client.login("alice", "wonderland")
            client.sendmail(
                "alice@example.org", ["someone@elsewhere.example"], b"Subject: s\r\n\r\nx\r\n"
            )
        assert sink.messages[0].rcpt_tos == ["someone@elsewhere.example"]
    with pytest.raises(ValueError, match="authenticator"):
        mp.SmtpServer(handler=sink, submission=True)


def test_smtputf8_with_smtplib() -> None:
    # RFC 6531 through smtplib's send_message, which adds SMTPUTF8 for non-ASCII addresses
    sink = mp.Sink()
    with mp.SmtpServer(handler=sink, hostname=HOST) as server:
        with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
            m = EmailMessage()
            m["From"] = "jöran@exämple.org"
            m["To"] = "用户@例子.广告"
            m["Subject"] = "Grüße"
            m.set_content("ça va\n")
            client.send_message(m)
    (got,) = sink.messages
    assert got.smtp_utf8 and got.mail_from == "jöran@exämple.org"
    assert got.rcpt_tos == ["用户@例子.广告"]
    assert got.message is not None and got.message.subject == "Grüße"


def test_pipelined_sequence_with_smtplib() -> None:
    # smtplib does not pipeline; send a pipelined group as a client that does would
    sink = mp.Sink()
    with mp.SmtpServer(handler=sink, hostname=HOST) as server:
        with Raw(server.port) as raw:
            raw.reply()
            batch = (
                b"EHLO c\r\n"
                + b"".join(
                    b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b%d@example.org>\r\n"
                    b"BDAT 6 LAST\r\nhi\r\n\r\n" % i
                    for i in range(20)
                )
                + b"QUIT\r\n"
            )
            raw.sock.sendall(batch)
            assert raw.closed()
            replies = raw.buf.decode().split("\r\n")
    assert sum(r.startswith("250 2.0.0 OK: queued") for r in replies) == 20
    assert replies[-2] == "221 2.0.0 Bye"
    assert [m.rcpt_tos[0] for m in sink.messages] == [f"b{i}@example.org" for i in range(20)]


class RecordingHandler:
    """aiosmtpd-style hooks, plain functions."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.envelopes: list[Any] = []

    def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.calls.append(f"EHLO {hostname}")
        return [r for r in responses if "CHUNKING" not in r]

    def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str | None:
        self.calls.append(f"MAIL {address}")
        session.counter = getattr(session, "counter", 0) + 1
        return "550 5.7.1 sender blocked" if address.startswith("spam") else None

    def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        self.calls.append(f"RCPT {address}")
        if not address.endswith("@example.org"):
            return "550 5.1.1 no such user"
        return "250 2.1.5 OK"

    def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.calls.append("DATA")
        self.envelopes.append(envelope)
        return "250 2.0.0 Message accepted for delivery"


def test_sync_hooks() -> None:
    handler = RecordingHandler()
    with mp.SmtpServer(handler=handler, hostname=HOST) as server:
        with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
            client.ehlo("c.test")
            assert not client.has_extn("chunking")
            assert client.mail("spam@example.org") == (550, b"5.7.1 sender blocked")
            with pytest.raises(smtplib.SMTPRecipientsRefused):
                client.sendmail("a@example.org", ["x@other.example"], b"x")
            refused = client.sendmail(
                "a@example.org", ["x@other.example", "b@example.org"], b"Subject: s\r\n\r\nbody\r\n"
            )
            assert refused == {"x@other.example": (550, b"5.1.1 no such user")}
    assert handler.calls[:3] == ["EHLO c.test", "MAIL spam@example.org", "MAIL a@example.org"]
    (env,) = handler.envelopes
    assert env.mail_from == "a@example.org" and env.rcpt_tos == ["b@example.org"]
    assert env.original_content == b"Subject: s\r\n\r\nbody\r\n"


class AsyncHandler:
    def __init__(self) -> None:
        self.loop_threads: list[str] = []
        self.contents: list[bytes] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str | None:
        await asyncio.sleep(0.001)
        self.loop_threads.append(threading.current_thread().name)
        return None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(0.001)
        self.contents.append(envelope.original_content)
        return "250 OK async"


def test_async_hooks_in_background_mode() -> None:
    handler = AsyncHandler()
    with mp.SmtpServer(handler=handler, hostname=HOST) as server:
        with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
            client.sendmail("a@example.org", ["b@example.org"], b"Subject: a\r\n\r\nx\r\n")
            assert client.noop()[0] == 250
    assert handler.contents == [b"Subject: a\r\n\r\nx\r\n"]
    assert handler.loop_threads == ["mailprims-smtp-hooks"]


def test_serve_in_asyncio_runs_hooks_on_the_callers_loop() -> None:
    handler = AsyncHandler()

    async def main() -> None:
        server = mp.SmtpServer(handler=handler, hostname=HOST)
        ready = asyncio.Event()
        task = asyncio.create_task(server.serve(ready=ready))
        await ready.wait()

        def send() -> None:
            with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
                client.sendmail("a@example.org", ["b@example.org"], b"Subject: a\r\n\r\nx\r\n")

        await asyncio.get_running_loop().run_in_executor(None, send)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", server.port), timeout=2).close()

    asyncio.run(main())
    assert handler.contents == [b"Subject: a\r\n\r\nx\r\n"]
    assert handler.loop_threads == [threading.main_thread().name]


def test_serve_that_cannot_start_raises_and_is_never_ready() -> None:
    """`serve(ready=...)` sets the event only once the server listens: a port in use makes
    serve() raise (the OS's EADDRINUSE), leaving the event unset."""

    async def main() -> None:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            server = mp.SmtpServer(port=taken.getsockname()[1], handler=mp.Sink())
            ready = asyncio.Event()
            with pytest.raises(mp.MailConnectionError) as raised:
                await server.serve(ready=ready)
            assert isinstance(raised.value.__cause__, OSError)
            assert raised.value.__cause__.errno == errno.EADDRINUSE
            assert not ready.is_set()

    asyncio.run(main())


def test_failing_hook_is_a_temporary_error(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            raise RuntimeError("boom")

        def handle_RCPT(
            self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
        ) -> Any:
            return 42 if address.startswith("weird") else None

    with caplog.at_level(logging.ERROR, logger="mailprims.smtp_server"):
        with mp.SmtpServer(handler=Broken(), hostname=HOST) as server:
            with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
                client.ehlo()
                client.mail("a@example.org")
                assert client.rcpt("weird@example.org")[0] == 451
                assert client.rcpt("b@example.org")[0] == 250
                assert client.data(b"x")[0] == 451
    assert "boom" in caplog.text


def test_same_handler_semantics_as_aiosmtpd() -> None:
    # aiosmtpd as the reference: the same handler under both servers sees the same envelope.
    from aiosmtpd.controller import Controller

    def run(send_to: int) -> None:
        with smtplib.SMTP("127.0.0.1", send_to, timeout=10) as client:
            client.ehlo("client.test")
            client.sendmail(
                "a@example.org",
                ["b@example.org", "c@example.org"],
                b"Subject: same\r\n\r\nline\r\n.dot\r\n",
                mail_options=["BODY=8BITMIME"],
            )

    class Keep:
        def __init__(self) -> None:
            self.seen: list[tuple[Any, ...]] = []

        async def handle_RCPT(
            self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
        ) -> str:
            envelope.rcpt_tos.append(address)  # aiosmtpd leaves this to the hook
            return "250 OK"

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            content = getattr(envelope, "original_content", None) or envelope.original_content
            self.seen.append(
                (
                    envelope.mail_from,
                    list(dict.fromkeys(envelope.rcpt_tos)),
                    content,
                    session.host_name,
                )
            )
            return "250 OK"

    reference = Keep()
    port = free_port()  # aiosmtpd's Controller cannot use port 0
    controller = Controller(reference, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        run(port)
    finally:
        controller.stop()
    ours = Keep()
    with mp.SmtpServer(handler=ours, hostname=HOST) as server:
        run(server.port)
    assert ours.seen == reference.seen
    assert ours.seen[0][2] == b"Subject: same\r\n\r\nline\r\n.dot\r\n"


def test_graceful_stop_finishes_transactions_in_flight() -> None:
    sink = mp.Sink()
    server = mp.SmtpServer(handler=sink, hostname=HOST, shutdown_grace=10)
    server.start()
    busy, idle = Raw(server.port), Raw(server.port)
    try:
        busy.reply(), idle.reply()
        busy.expect(
            b"HELO c\r\nMAIL FROM:<a@example.org>\r\n",
            f"250 {HOST}\r\n250 2.1.0 Sender OK\r\n".encode(),
        )
        stopper = threading.Thread(target=server.stop)
        stopper.start()
        # the idle connection is told at once
        idle.expect(
            b"",
            f"421 4.3.2 {HOST} Service shutting down, closing transmission channel\r\n".encode(),
        )
        assert idle.closed()
        # the transaction in flight may finish...
        busy.expect(
            b"RCPT TO:<b@example.org>\r\nDATA\r\n",
            b"250 2.1.5 Recipient OK\r\n354 End data with <CR><LF>.<CR><LF>\r\n",
        )
        busy.sock.sendall(b"Subject: last\r\n\r\n.\r\n")
        assert busy.reply().startswith(b"250 2.0.0 OK: queued as")
        # ...and then the connection closes
        busy.expect(
            b"NOOP\r\n",
            f"421 4.3.2 {HOST} Service shutting down, closing transmission channel\r\n".encode(),
        )
        assert busy.closed()
        stopper.join(20)
        assert not stopper.is_alive()
    finally:
        busy.close()
        idle.close()
    assert sink.count == 1


def test_stop_cuts_off_stalled_transactions_and_delivers_nothing() -> None:
    sink = mp.Sink()
    server = mp.SmtpServer(handler=sink, hostname=HOST, shutdown_grace=0.5)
    server.start()
    with Raw(server.port) as raw:
        raw.reply()
        raw.sock.sendall(
            b"HELO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n"
        )
        for _ in range(4):
            raw.reply()
        raw.sock.sendall(b"Subject: never finished\r\n\r\nhalf")
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 10
        assert raw.closed()
    assert sink.count == 0


def test_port_zero_and_lifecycle_errors() -> None:
    server = mp.SmtpServer(handler=mp.Sink())
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.port
    server.start()
    try:
        assert server.port > 0
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
            assert s.recv(100).startswith(b"220 ")
    finally:
        server.stop()
    with pytest.raises(RuntimeError, match="stopped"):
        server.start()
    with pytest.raises(AttributeError):
        _ = mp.SmtpServer(handler=RecordingHandler()).messages
    with pytest.raises(ValueError):
        mp.SmtpServer(handler=mp.Sink(), timeout=0)
    with pytest.raises(ValueError):
        mp.SmtpServer(handler=mp.Sink(), tls_cert="x")
    with pytest.raises(mp.ConfigError):
        cert, _ = tls.self_signed_certificate()
        _, other = tls.self_signed_certificate()
        import tempfile

        with tempfile.TemporaryDirectory() as d:
            pathlib.Path(d, "c").write_text(cert)
            pathlib.Path(d, "k").write_text(other)
            mp.SmtpServer(tls_cert=str(pathlib.Path(d, "c")), tls_key=str(pathlib.Path(d, "k")))


def test_sink_maxlen_counts_everything() -> None:
    sink = mp.Sink(maxlen=2)
    with mp.SmtpServer(handler=sink, hostname=HOST) as server:
        with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
            for i in range(5):
                client.sendmail(
                    "a@example.org", ["b@example.org"], f"Subject: {i}\r\n\r\nx\r\n".encode()
                )
    assert sink.count == 5
    assert [m.message.subject for m in sink.messages if m.message] == ["3", "4"]
    sink.clear()
    assert sink.messages == [] and sink.count == 5


EXIT_SCRIPT = """
import smtplib, threading
import mailprims as mp

class Slow:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"
    def handle_NOOP(self, server, session, envelope, arg):
        return "250 still here"

server = mp.SmtpServer(handler=Slow())
server.start()
with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as c:
    c.sendmail("a@example.org", ["b@example.org"], b"x")
# A client keeps issuing hook calls while the interpreter exits without stop().
def hammer():
    try:
        with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as c:
            while True:
                c.noop()
    except Exception:
        pass
threading.Thread(target=hammer, daemon=True).start()
"""


def test_no_crash_when_exiting_with_a_running_server() -> None:
    # pyo3-async-runtimes issue 40 class: hooks reaching Python while it finalizes
    import subprocess
    import sys

    for _ in range(15):
        r = subprocess.run(
            [sys.executable, "-c", EXIT_SCRIPT],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert r.returncode == 0, r.stderr
        assert r.stderr == ""
