"""SMTP smuggling regression tests (SEC Consult, December 2023; CVE-2023-51764 Postfix,
CVE-2023-51765 Sendmail, CVE-2023-51766 Exim; aiosmtpd's fix in 1.4.5 / GHSA-pr2m-px7j-xg65).

The attack: a sender's MTA treats ``<LF>.<LF>`` (or ``<CR>.<CR>`` and similar) as message
content, the receiving server treats it as the end of DATA, and the bytes after it become a
second, forged transaction. RFC 5321 §4.1.1.4 ends DATA only at ``<CRLF>.<CRLF>``; these tests
check that every non-CRLF variant stays inside the one message and that no second message
appears. Like aiosmtpd's ``test_smtpsmuggling.py``, the payload is sent in one write.
"""

from __future__ import annotations

import pytest
from smtp_helpers import GREETING, HOST, Raw

import mailprims as mp

SMUGGLED = (
    b"MAIL FROM:<admin@bank.example>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\n"
    b"From: admin@bank.example\r\nSubject: smuggled\r\n\r\nsend money\r\n"
)

# Each variant of an end-of-data lookalike, followed by the smuggled transaction.
VARIANTS = {
    "LF.LF": b"\n.\n",
    "LF.CRLF": b"\n.\r\n",
    "CRLF.LF": b"\r\n.\n",
    "CR.CR": b"\r.\r",
    "CR.CRLF": b"\r.\r\n",
    "CRLF.CR": b"\r\n.\r",
    "LF.CR": b"\n.\r",
    "CR.LF": b"\r.\n",
    "CRLF.NULCRLF": b"\r\n.\x00\r\n",
}


@pytest.mark.parametrize("name", VARIANTS)
def test_only_crlf_dot_crlf_ends_data(name: str) -> None:
    sink = mp.Sink()
    with mp.SmtpServer(handler=sink, hostname=HOST) as server:
        with Raw(server.port) as raw:
            raw.expect(b"", GREETING)
            raw.expect(b"HELO client.test\r\n", f"250 {HOST}\r\n".encode())
            raw.expect(b"MAIL FROM:<user@example.org>\r\n", b"250 2.1.0 Sender OK\r\n")
            raw.expect(b"RCPT TO:<friend@example.org>\r\n", b"250 2.1.5 Recipient OK\r\n")
            raw.expect(b"DATA\r\n", b"354 End data with <CR><LF>.<CR><LF>\r\n")
            raw.sock.sendall(
                b"Subject: hello\r\n\r\nfirst message" + VARIANTS[name] + SMUGGLED + b"\r\n.\r\n"
            )
            # exactly one reply: the whole payload was one message
            assert raw.reply().startswith(b"250 2.0.0 OK: queued as")
            raw.expect(b"QUIT\r\n", b"221 2.0.0 Bye\r\n")
    (message,) = sink.messages
    assert message.rcpt_tos == ["friend@example.org"]
    assert message.original_content is not None
    # after a real CRLF the dot starts a line and is unstuffed (RFC 5321 §4.5.2); elsewhere
    # it is kept as data
    variant = VARIANTS[name]
    kept = b"\r\n" + variant[3:] if variant.startswith(b"\r\n.") else variant
    assert b"first message" + kept + SMUGGLED in message.original_content
    assert SMUGGLED in message.original_content


def test_dot_after_bare_lf_is_not_unstuffed() -> None:
    # A dot at the start of a "line" begun by a bare LF is data, not a stuffed dot.
    sink = mp.Sink()
    with mp.SmtpServer(handler=sink, hostname=HOST) as server:
        with Raw(server.port) as raw:
            raw.expect(b"", GREETING)
            raw.sock.sendall(
                b"HELO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n"
            )
            raw.reply(), raw.reply(), raw.reply(), raw.reply()
            raw.sock.sendall(b"a\n..b\r\n..c\r\n.\r\n")
            assert raw.reply().startswith(b"250 ")
    assert sink.messages[0].original_content == b"a\n..b\r\n.c\r\n"


def test_long_line_then_bare_lf_dot_is_not_a_terminator() -> None:
    # The reader handles over-long lines in pieces; the piece boundary must not turn a
    # following <LF>.<CRLF> into an end of data either.
    sink = mp.Sink()
    with mp.SmtpServer(handler=sink, hostname=HOST) as server:
        with Raw(server.port) as raw:
            raw.expect(b"", GREETING)
            raw.sock.sendall(
                b"HELO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n"
            )
            raw.reply(), raw.reply(), raw.reply(), raw.reply()
            raw.sock.sendall(b"x" * 70000 + b"\n.\r\n" + SMUGGLED + b"\r\n.\r\n")
            assert raw.reply() == b"500 5.5.2 Error: line too long\r\n"
            raw.expect(b"NOOP\r\n", b"250 2.0.0 OK\r\n")
    assert sink.count == 0
