"""The servers against hostile clients (issue 12), with the stdlib's smtplib and poplib as
peers and raw sockets for what they cannot send: failed-login delay and budget per client
address (shared by SMTP and POP3 on the same ``Users``), connections per address, a deadline
for the whole transaction, junk commands, and the option checks."""

from __future__ import annotations

import pathlib
import poplib
import smtplib
import socket
import time

import pytest
from smtp_helpers import Raw

import mailprims as mp

HOST = "mx.test"
GREETING = b"220 mx.test ESMTP mailprims\r\n"


@pytest.fixture
def users() -> mp.Users:
    u = mp.Users(domains=["example.org"])
    u.add("alice", "wonderland")
    return u


def test_failed_auth_is_delayed_like_pop3(tmp_path: pathlib.Path, users: mp.Users) -> None:
    # Before: SMTP answered a wrong password in ~15 ms, so guessing went at hash speed.
    store = mp.MaildirStore(tmp_path / "mail")
    with mp.SmtpServer(
        store=store, users=users, hostname=HOST, auth_require_tls=False, auth_failure_delay=0.5
    ) as server:
        with smtplib.SMTP("127.0.0.1", server.port, timeout=30) as client:
            for user in ("alice", "nobody"):
                start = time.monotonic()
                with pytest.raises(smtplib.SMTPAuthenticationError) as err:
                    client.login(user, "wrong")
                assert err.value.smtp_code == 535
                assert time.monotonic() - start >= 0.5
            assert client.login("alice", "wonderland")[0] == 235


def test_failure_budget_per_address_shared_with_pop3(
    tmp_path: pathlib.Path, users: mp.Users
) -> None:
    # Before: a reconnect started fresh, and each protocol counted (or not) on its own.
    store = mp.MaildirStore(tmp_path / "mail")
    smtp = mp.SmtpServer(
        store=store,
        users=users,
        hostname=HOST,
        auth_require_tls=False,
        auth_failure_delay=0.0,
        auth_failure_limit=3,
    )
    pop3 = mp.Pop3Server(
        store=store, users=users, hostname=HOST, auth_failure_delay=0.0, auth_failure_limit=3
    )
    with smtp, pop3:
        with smtplib.SMTP("127.0.0.1", smtp.port, timeout=30) as client:
            # smtplib tries PLAIN, then LOGIN: two failures
            with pytest.raises(smtplib.SMTPAuthenticationError):
                client.login("alice", "guess")
        pop = poplib.POP3("127.0.0.1", pop3.port, timeout=30)
        pop.user("alice")
        with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
            pop.pass_("guess2")
        pop.close()
        # Three failures from this address, whichever the protocol: the right password is
        # no longer even checked, on either server.
        with Raw(smtp.port) as raw:
            raw.expect(b"", GREETING)
            raw.sock.sendall(b"EHLO c\r\n")
            raw.reply()
            raw.expect(
                b"AUTH PLAIN AGFsaWNlAHdvbmRlcmxhbmQ=\r\n",
                b"421 4.7.0 mx.test Error: too many failed authentications from 127.0.0.1, "
                b"try again later\r\n",
            )
            assert raw.closed()
        pop = poplib.POP3("127.0.0.1", pop3.port, timeout=30)
        pop.user("alice")
        with pytest.raises(poplib.error_proto, match=r"\[SYS/TEMP\] Too many failed logins"):
            pop.pass_("12345pass")
        pop.close()


def test_connections_per_client_address(users: mp.Users, tmp_path: pathlib.Path) -> None:
    with mp.SmtpServer(handler=mp.Sink(), hostname=HOST, max_connections_per_address=3) as server:
        clients = [smtplib.SMTP("127.0.0.1", server.port, timeout=30) for _ in range(3)]
        with pytest.raises(smtplib.SMTPConnectError) as err:
            smtplib.SMTP("127.0.0.1", server.port, timeout=30)
        assert err.value.smtp_code == 421
        assert b"too many connections from 127.0.0.1" in err.value.smtp_error
        for c in clients:
            c.quit()
    store = mp.MaildirStore(tmp_path / "mail")
    with mp.Pop3Server(
        store=store, users=users, hostname=HOST, max_connections_per_address=1
    ) as server:
        first = poplib.POP3("127.0.0.1", server.port, timeout=30)
        # (poplib leaves its socket open when the greeting is -ERR: read it raw)
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as second:
            greeting = second.makefile("rb").readline()
        assert greeting == b"-ERR [SYS/TEMP] Too many connections from your address.\r\n"
        first.quit()


def test_no_per_address_limit_when_none() -> None:
    with mp.SmtpServer(handler=mp.Sink(), hostname=HOST, max_connections_per_address=None) as s:
        clients = [smtplib.SMTP("127.0.0.1", s.port, timeout=30) for _ in range(60)]
        for c in clients:
            assert c.noop()[0] == 250
            c.quit()


def test_transaction_deadline(sink: mp.Sink) -> None:
    # Before: data_timeout applied to each read, so a byte now and then kept DATA open.
    with mp.SmtpServer(
        handler=sink, hostname=HOST, data_timeout=5.0, transaction_timeout=1.0
    ) as server:
        with Raw(server.port) as raw:
            raw.expect(b"", GREETING)
            raw.sock.sendall(b"HELO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n")
            for _ in range(3):
                raw.reply()
            raw.expect(b"DATA\r\n", b"354 End data with <CR><LF>.<CR><LF>\r\n")
            raw.sock.settimeout(0.2)
            start = time.monotonic()
            while time.monotonic() - start < 20 and b"\r\n" not in raw.buf:
                try:
                    raw.sock.sendall(b"x")
                    raw.buf += raw.sock.recv(1024)
                except TimeoutError:
                    continue
                except OSError:
                    break
            assert raw.buf == b"421 4.4.2 mx.test Error: transaction time limit exceeded\r\n"
    assert sink.count == 0


def test_junk_commands(sink: mp.Sink) -> None:
    with mp.SmtpServer(handler=sink, hostname=HOST, max_junk_commands=4, max_errors=2) as server:
        with smtplib.SMTP("127.0.0.1", server.port, timeout=30) as client:
            for _ in range(4):
                assert client.noop()[0] == 250
            # a message accepted starts the count again
            client.sendmail("a@example.org", ["b@example.org"], b"Subject: x\r\n\r\ny\r\n")
            assert [client.rset()[0] for _ in range(4)] == [250] * 4
            assert client.noop()[0] == 250  # counted as an error
            assert client.noop()[0] == 250  # the second: max_errors reached, then 421
            code, text = client.noop()
            assert (code, text) == (421, b"4.7.0 Error: too many errors")
            with pytest.raises(smtplib.SMTPServerDisconnected):
                client.noop()


@pytest.fixture
def sink() -> mp.Sink:
    return mp.Sink()


@pytest.mark.parametrize(
    "option",
    [
        {"max_connections_per_address": 0},
        {"max_junk_commands": -1},
        {"transaction_timeout": 0},
        {"auth_failure_delay": -1.0},
        {"auth_failure_limit": 0},
        {"auth_failure_window": 0},
    ],
)
def test_bad_limits_are_refused(option: dict[str, float]) -> None:
    with pytest.raises((ValueError, OverflowError)):
        mp.SmtpServer(handler=mp.Sink(), hostname=HOST, **option)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "option",
    [
        {"max_connections_per_address": 0},
        {"auth_failure_limit": 0},
        {"auth_failure_window": -5.0},
    ],
)
def test_bad_pop3_limits_are_refused(
    tmp_path: pathlib.Path, users: mp.Users, option: dict[str, float]
) -> None:
    store = mp.MaildirStore(tmp_path / "mail")
    with pytest.raises(ValueError):
        mp.Pop3Server(store=store, users=users, hostname=HOST, **option)  # type: ignore[arg-type]
