"""SMTP server protocol edge cases as raw transcripts: exact bytes in, exact replies out.

Each test names the RFC 5321 (or extension RFC) section whose behaviour it pins down.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from smtp_helpers import EHLO_PLAIN, GREETING, HOST, Raw

import mailprims as mp


@pytest.fixture
def sink() -> mp.Sink:
    return mp.Sink()


@pytest.fixture
def server(sink: mp.Sink) -> Iterator[mp.SmtpServer]:
    with mp.SmtpServer(handler=sink, hostname=HOST, max_recipients=3) as s:
        yield s


@pytest.fixture
def raw(server: mp.SmtpServer) -> Iterator[Raw]:
    with Raw(server.port) as r:
        r.expect(b"", GREETING)
        yield r


def ehlo(raw: Raw) -> None:
    raw.expect(b"EHLO client.test\r\n", EHLO_PLAIN)


def test_full_transaction(raw: Raw, sink: mp.Sink) -> None:
    # RFC 5321 §3.3 mail transaction, §4.5.2 dot-unstuffing
    raw.expect(b"HELO client.test\r\n", f"250 {HOST}\r\n".encode())
    raw.expect(b"MAIL FROM:<a@example.org>\r\n", b"250 2.1.0 Sender OK\r\n")
    raw.expect(b"RCPT TO:<b@example.org>\r\n", b"250 2.1.5 Recipient OK\r\n")
    raw.expect(b"DATA\r\n", b"354 End data with <CR><LF>.<CR><LF>\r\n")
    raw.sock.sendall(b"Subject: t\r\n\r\n..leading dot\r\n.\r\n")
    assert raw.reply().startswith(b"250 2.0.0 OK: queued as ")
    raw.expect(b"QUIT\r\n", b"221 2.0.0 Bye\r\n")
    assert raw.closed()
    (m,) = sink.messages
    assert m.original_content == b"Subject: t\r\n\r\n.leading dot\r\n"
    assert m.content is not None
    assert m.content.startswith(b"Return-Path: <a@example.org>\r\nReceived: from client.test")
    assert b"with SMTP id " in m.content  # HELO, not EHLO (RFC 3848)
    assert b"for <b@example.org>" in m.content


def test_command_order_is_enforced(raw: Raw) -> None:
    # RFC 5321 §4.1.4 and §4.3.2: 503 for commands out of sequence
    raw.expect(b"MAIL FROM:<a@example.org>\r\n", b"503 5.5.1 Error: send HELO/EHLO first\r\n")
    ehlo(raw)
    raw.expect(b"RCPT TO:<b@example.org>\r\n", b"503 5.5.1 Error: need MAIL command\r\n")
    raw.expect(b"DATA\r\n", b"503 5.5.1 Error: need MAIL command\r\n")
    raw.expect(b"MAIL FROM:<a@example.org>\r\n", b"250 2.1.0 Sender OK\r\n")
    raw.expect(b"MAIL FROM:<a@example.org>\r\n", b"503 5.5.1 Error: nested MAIL command\r\n")
    raw.expect(b"DATA\r\n", b"503 5.5.1 Error: need RCPT command\r\n")
    raw.expect(b"RSET\r\n", b"250 2.0.0 OK\r\n")
    raw.expect(b"RCPT TO:<b@example.org>\r\n", b"503 5.5.1 Error: need MAIL command\r\n")


def test_syntax_and_unknown_commands(raw: Raw) -> None:
    # RFC 5321 §4.2.4: 500 unrecognized, 501 syntax error in parameters, 502 not implemented
    raw.expect(b"XYZZY\r\n", b"500 5.5.2 Error: command not recognized\r\n")
    raw.expect(b"EHLO\r\n", b"501 5.5.4 Syntax: EHLO hostname\r\n")
    raw.expect(b"HELO\r\n", b"501 5.5.4 Syntax: HELO hostname\r\n")
    ehlo(raw)
    raw.expect(b"MAIL TO:<a@example.org>\r\n", b"501 5.5.4 Syntax: MAIL FROM:<address>\r\n")
    raw.expect(b"MAIL FROM:a@example.org\r\n", b"501 5.5.4 Syntax: MAIL FROM:<address>\r\n")
    raw.expect(
        b"MAIL FROM:<a b@example.org>\r\n",
        b"501 5.1.7 Bad sender address syntax: bad local part\r\n",
    )
    raw.expect(
        b"MAIL FROM:<a@example.org> FOO=BAR\r\n",
        b"555 5.5.4 MAIL FROM parameters not recognized or not implemented\r\n",
    )
    raw.expect(
        b"MAIL FROM:<a@example.org> BODY=BINARYMIME\r\n",
        b"501 5.5.4 Error: BODY can only be 7BIT or 8BITMIME\r\n",
    )
    raw.expect(b"MAIL FROM:<>\r\n", b"250 2.1.0 Sender OK\r\n")
    raw.expect(
        b"RCPT TO:<b@example.org> NOTIFY=NEVER\r\n",
        b"555 5.5.4 RCPT TO parameters not recognized or not implemented\r\n",
    )
    raw.expect(b"RCPT TO:<b@>\r\n", b"501 5.1.3 Bad recipient address syntax: bad domain\r\n")
    raw.expect(b"DATA now\r\n", b"501 5.5.4 Syntax: DATA\r\n")
    raw.expect(b"RSET x\r\n", b"501 5.5.4 Syntax: RSET\r\n")
    raw.expect(b"QUIT now\r\n", b"501 5.5.4 Syntax: QUIT\r\n")
    raw.expect(b"EXPN staff\r\n", b"502 5.5.1 Error: EXPN not supported\r\n")
    raw.expect(b"STARTTLS\r\n", b"502 5.5.1 Error: STARTTLS not available\r\n")
    raw.expect(b"AUTH PLAIN\r\n", b"502 5.5.1 Error: authentication not enabled\r\n")
    raw.expect(b"\xff\xfe\r\n", b"500 5.5.2 Error: bad UTF-8 in command\r\n")


def test_noop_vrfy_help_rset(raw: Raw) -> None:
    # RFC 5321 §4.1.1.9 (NOOP ignores its argument), §3.5.3 (VRFY 252), §4.1.1.8 (HELP)
    raw.expect(b"NOOP\r\n", b"250 2.0.0 OK\r\n")
    raw.expect(b"NOOP anything\r\n", b"250 2.0.0 OK\r\n")
    raw.expect(
        b"VRFY someone\r\n",
        b"252 2.5.2 Cannot VRFY user, but will accept message and attempt delivery\r\n",
    )
    raw.expect(b"VRFY\r\n", b"501 5.5.4 Syntax: VRFY <address>\r\n")
    raw.sock.sendall(b"HELP\r\n")
    assert raw.reply().startswith(b"214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA")
    raw.expect(b"rset\r\n", b"250 2.0.0 OK\r\n")


def test_ehlo_resets_the_transaction(raw: Raw) -> None:
    # RFC 5321 §4.1.4: EHLO/HELO in a transaction clears it, like RSET
    ehlo(raw)
    raw.expect(b"MAIL FROM:<a@example.org>\r\n", b"250 2.1.0 Sender OK\r\n")
    ehlo(raw)
    raw.expect(b"RCPT TO:<b@example.org>\r\n", b"503 5.5.1 Error: need MAIL command\r\n")


def test_pipelining_batches_replies(raw: Raw, sink: mp.Sink) -> None:
    # RFC 2920 §3.1: a whole pipelined group, its replies in order
    ehlo(raw)
    raw.sock.sendall(
        b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nRCPT TO:<bad address>\r\n"
        b"RCPT TO:<c@example.org>\r\nDATA\r\n"
    )
    raw.expect(
        b"",
        b"250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n"
        b"501 5.1.3 Bad recipient address syntax: bad local part\r\n"
        b"250 2.1.5 Recipient OK\r\n354 End data with <CR><LF>.<CR><LF>\r\n",
    )
    raw.sock.sendall(b"x\r\n.\r\nRSET\r\nNOOP\r\n")
    assert raw.reply().startswith(b"250 2.0.0 OK: queued as")
    raw.expect(b"", b"250 2.0.0 OK\r\n250 2.0.0 OK\r\n")
    assert sink.messages[0].rcpt_tos == ["b@example.org", "c@example.org"]


def test_too_many_recipients(raw: Raw) -> None:
    # RFC 5321 §4.5.3.1.10: 452 when the recipient limit is reached (3 here)
    ehlo(raw)
    raw.expect(b"MAIL FROM:<a@example.org>\r\n", b"250 2.1.0 Sender OK\r\n")
    for i in range(3):
        raw.expect(f"RCPT TO:<r{i}@example.org>\r\n".encode(), b"250 2.1.5 Recipient OK\r\n")
    raw.expect(b"RCPT TO:<r4@example.org>\r\n", b"452 4.5.3 Error: too many recipients\r\n")


def test_long_command_line(raw: Raw) -> None:
    # RFC 5321 §4.5.3.1.4-6 and §4.2.2: 500 for a line over the limit (1000 with CRLF)
    ehlo(raw)
    raw.expect(b"NOOP " + b"x" * 2000 + b"\r\n", b"500 5.5.2 Error: line too long\r\n")
    raw.expect(b"NOOP " + b"x" * 993 + b"\r\n", b"250 2.0.0 OK\r\n")  # exactly 1000
    raw.expect(b"NOOP " + b"x" * 994 + b"\r\n", b"500 5.5.2 Error: line too long\r\n")
    raw.expect(b"NOOP\r\n", b"250 2.0.0 OK\r\n")


def test_long_data_line(raw: Raw, sink: mp.Sink) -> None:
    # RFC 5321 §4.5.3.1.6: text lines are at most 1000 octets with CRLF
    ehlo(raw)
    raw.expect(b"MAIL FROM:<a@example.org>\r\n", b"250 2.1.0 Sender OK\r\n")
    raw.expect(b"RCPT TO:<b@example.org>\r\n", b"250 2.1.5 Recipient OK\r\n")
    raw.expect(b"DATA\r\n", b"354 End data with <CR><LF>.<CR><LF>\r\n")
    raw.expect(b"a" * 5000 + b"\r\n.\r\n", b"500 5.5.2 Error: line too long\r\n")
    raw.expect(b"NOOP\r\n", b"250 2.0.0 OK\r\n")
    assert sink.count == 0


def test_size_extension(sink: mp.Sink) -> None:
    # RFC 1870 §6.1: SIZE in MAIL over the limit is 552; data over it is refused while read
    with mp.SmtpServer(handler=sink, hostname=HOST, max_message_size=100) as server:
        with Raw(server.port) as raw:
            raw.expect(b"", GREETING)
            raw.sock.sendall(b"EHLO c\r\n")
            assert b"250-SIZE 100\r\n" in raw.reply()
            raw.expect(
                b"MAIL FROM:<a@example.org> SIZE=101\r\n",
                b"552 5.3.4 Message size exceeds fixed maximum message size\r\n",
            )
            raw.expect(
                b"MAIL FROM:<a@example.org> SIZE=x\r\n",
                b"501 5.5.4 Syntax error in SIZE parameter\r\n",
            )
            raw.expect(b"MAIL FROM:<a@example.org> SIZE=50\r\n", b"250 2.1.0 Sender OK\r\n")
            raw.expect(b"RCPT TO:<b@example.org>\r\n", b"250 2.1.5 Recipient OK\r\n")
            raw.expect(b"DATA\r\n", b"354 End data with <CR><LF>.<CR><LF>\r\n")
            raw.expect(
                b"x" * 80 + b"\r\n" + b"y" * 80 + b"\r\n.\r\n",
                b"552 5.3.4 Message size exceeds fixed maximum message size\r\n",
            )
            raw.expect(b"MAIL FROM:<a@example.org>\r\n", b"250 2.1.0 Sender OK\r\n")
    assert sink.count == 0


def test_chunking_bdat(raw: Raw, sink: mp.Sink) -> None:
    # RFC 3030 §2-4: BDAT chunks, binary-clean, no dot-stuffing; DATA not allowed after BDAT
    ehlo(raw)
    raw.expect(b"BDAT 3\r\nabc", b"503 5.5.1 Error: need MAIL command\r\n")
    raw.expect(b"MAIL FROM:<a@example.org>\r\n", b"250 2.1.0 Sender OK\r\n")
    raw.expect(b"RCPT TO:<b@example.org>\r\n", b"250 2.1.5 Recipient OK\r\n")
    raw.expect(b"BDAT 8\r\nSubj\r\n.\r", b"250 2.0.0 8 octets received\r\n")
    raw.expect(b"DATA\r\n", b"503 5.5.1 Error: DATA after BDAT\r\n")
    raw.sock.sendall(b"BDAT 4 LAST\r\n\nx\r\n")
    assert raw.reply().startswith(b"250 2.0.0 OK: queued as")
    raw.expect(b"BDAT 0 LAST\r\n", b"503 5.5.1 Error: need MAIL command\r\n")
    raw.expect(b"BDAT x\r\n", b"501 5.5.4 Syntax: BDAT chunk-size [LAST]\r\n")
    assert raw.closed()
    assert sink.messages[0].original_content == b"Subj\r\n.\r\nx\r\n"


def test_smtputf8(raw: Raw, sink: mp.Sink) -> None:
    # RFC 6531 §3.4-3.5: UTF-8 addresses only with the SMTPUTF8 parameter
    ehlo(raw)
    raw.expect(
        "MAIL FROM:<jöran@example.org>\r\n".encode(),
        b"553 5.6.7 Non-ASCII addresses require the SMTPUTF8 parameter\r\n",
    )
    raw.expect(b"MAIL FROM:<a@example.org>\r\n", b"250 2.1.0 Sender OK\r\n")
    raw.expect(
        "RCPT TO:<用户@例子.广告>\r\n".encode(),
        b"553 5.6.7 Non-ASCII addresses require the SMTPUTF8 parameter\r\n",
    )
    raw.expect(b"RSET\r\n", b"250 2.0.0 OK\r\n")
    raw.expect(
        "MAIL FROM:<jöran@example.org> SMTPUTF8 BODY=8BITMIME\r\n".encode(),
        b"250 2.1.0 Sender OK\r\n",
    )
    raw.expect("RCPT TO:<用户@例子.广告>\r\n".encode(), b"250 2.1.5 Recipient OK\r\n")
    raw.expect(b"DATA\r\n", b"354 End data with <CR><LF>.<CR><LF>\r\n")
    raw.sock.sendall("Subject: café\r\n\r\nok\r\n.\r\n".encode())
    assert raw.reply().startswith(b"250 ")
    (m,) = sink.messages
    assert m.smtp_utf8 and m.rcpt_tos == ["用户@例子.广告"]
    assert m.content is not None and b" with UTF8SMTP id " in m.content


def test_postmaster_without_domain(server: mp.SmtpServer) -> None:
    # RFC 5321 §4.5.1: RCPT TO:<Postmaster> (no domain) must be accepted
    with mp.SmtpServer(handler=mp.Sink(), hostname=HOST, domains=["example.org"]) as s:
        with Raw(s.port) as raw:
            raw.expect(b"", GREETING)
            raw.expect(b"HELO c\r\n", f"250 {HOST}\r\n".encode())
            raw.expect(b"MAIL FROM:<>\r\n", b"250 2.1.0 Sender OK\r\n")
            raw.expect(b"RCPT TO:<Postmaster>\r\n", b"250 2.1.5 Recipient OK\r\n")
            raw.expect(b"RCPT TO:<x@example.org>\r\n", b"250 2.1.5 Recipient OK\r\n")
            raw.expect(b"RCPT TO:<x@EXAMPLE.org>\r\n", b"250 2.1.5 Recipient OK\r\n")
            raw.expect(
                b"RCPT TO:<x@elsewhere.example>\r\n",
                b"550 5.7.1 <x@elsewhere.example>: Relay access denied\r\n",
            )


def test_too_many_errors_closes(raw: Raw) -> None:
    # Postfix's smtpd_hard_error_limit idea: a client that only sends junk is cut off
    for _ in range(19):
        raw.expect(b"JUNK\r\n", b"500 5.5.2 Error: command not recognized\r\n")
    raw.expect(
        b"JUNK\r\n",
        b"500 5.5.2 Error: command not recognized\r\n421 4.7.0 Error: too many errors\r\n",
    )
    assert raw.closed()


def test_idle_timeout(sink: mp.Sink) -> None:
    # RFC 5321 §4.5.3.2.7: the server times out an idle client with 421
    with mp.SmtpServer(handler=sink, hostname=HOST, timeout=0.3) as server:
        with Raw(server.port) as raw:
            raw.expect(b"", GREETING)
            raw.expect(b"", f"421 4.4.2 {HOST} Error: timeout exceeded\r\n".encode())
            assert raw.closed()


def test_data_timeout_delivers_nothing(sink: mp.Sink) -> None:
    # RFC 5321 §4.5.3.2.5-6: a stalled DATA transfer is abandoned, nothing delivered
    with mp.SmtpServer(handler=sink, hostname=HOST, data_timeout=0.3) as server:
        with Raw(server.port) as raw:
            raw.expect(b"", GREETING)
            raw.expect(b"HELO c\r\n", f"250 {HOST}\r\n".encode())
            raw.expect(b"MAIL FROM:<a@example.org>\r\n", b"250 2.1.0 Sender OK\r\n")
            raw.expect(b"RCPT TO:<b@example.org>\r\n", b"250 2.1.5 Recipient OK\r\n")
            raw.expect(b"DATA\r\n", b"354 End data with <CR><LF>.<CR><LF>\r\n")
            raw.expect(b"partial\r\n", f"421 4.4.2 {HOST} Error: timeout exceeded\r\n".encode())
            assert raw.closed()
    assert sink.count == 0


def test_max_connections(sink: mp.Sink) -> None:
    # 421 for connections over the limit (RFC 5321 §3.8: 421 service not available)
    with mp.SmtpServer(handler=sink, hostname=HOST, max_connections=2) as server:
        first, second = Raw(server.port), Raw(server.port)
        try:
            first.expect(b"", GREETING)
            second.expect(b"", GREETING)
            with Raw(server.port) as third:
                third.expect(
                    b"", f"421 4.3.2 {HOST} Too many connections, try again later\r\n".encode()
                )
                assert third.closed()
            first.expect(b"QUIT\r\n", b"221 2.0.0 Bye\r\n")
            assert first.closed()
        finally:
            first.close()
            second.close()
        # a slot is free again (bounded wait: the server releases it as the task ends)
        for _ in range(100):
            with Raw(server.port) as again:
                greeting = again.reply()
            if greeting == GREETING:
                break
        assert greeting == GREETING


def test_client_disconnect_mid_data_delivers_nothing(raw: Raw, sink: mp.Sink) -> None:
    ehlo(raw)
    raw.expect(b"MAIL FROM:<a@example.org>\r\n", b"250 2.1.0 Sender OK\r\n")
    raw.expect(b"RCPT TO:<b@example.org>\r\n", b"250 2.1.5 Recipient OK\r\n")
    raw.expect(b"DATA\r\n", b"354 End data with <CR><LF>.<CR><LF>\r\n")
    raw.sock.sendall(b"Subject: cut\r\n\r\nhalf a message\r\n")
    raw.sock.shutdown(socket.SHUT_WR)
    assert raw.closed()
    assert sink.count == 0
