"""Exact client bytes, checked against a scripted raw-socket server: the seed chapter's example
session, PIPELINING (RFC 2920), BDAT (RFC 3030), DSN parameters (RFC 3461), HELO fallback,
greeting refusals, and the STARTTLS response-injection defence (RFC 3207 §6, CVE-2011-0411)."""

from __future__ import annotations

import pytest
from smtp_peers import ScriptedServer

import mailprims as mp

# The seed chapter's example message (electronic-mail-chapter.txt, "A successful transfer").
SEED_MESSAGE = (
    b'From: "Alice Doe" <alice@example.org>\r\n'
    b"To: Bob Smith <bob@example.com>\r\n"
    b"Date: Mon, 9 Mar 2010 18:22:32 +0100\r\n"
    b"Subject: Hello\r\n"
    b"\r\n"
    b"Hello Bob\r\n"
    b"This is a small message containing 4 lines of text.\r\n"
    b"Best regards,\r\n"
    b"Alice\r\n"
)


def client(server: ScriptedServer, **kw: object) -> mp.SmtpClient:
    options: dict[str, object] = {"tls": "none", "local_hostname": "mta.example.org", "timeout": 5}
    options.update(kw)
    return mp.SmtpClient("127.0.0.1", server.port, **options)  # type: ignore[arg-type]


def test_seed_chapter_session_byte_for_byte() -> None:
    """The seed's session: EHLO, MAIL, RCPT, DATA, the message, '.', QUIT (RFC 5321 §3.3)."""
    server = ScriptedServer(
        (
            b"220 smtp.example.com ESMTP MTA information\r\n",
            [
                (b"EHLO mta.example.org\r\n", b"250 Hello mta.example.org, glad to meet you\r\n"),
                (b"MAIL FROM:<alice@example.org>\r\n", b"250 Ok\r\n"),
                (b"RCPT TO:<bob@example.com>\r\n", b"250 Ok\r\n"),
                (b"DATA\r\n", b"354 End data with <CR><LF>.<CR><LF>\r\n"),
                (SEED_MESSAGE + b".\r\n", b"250 Ok: queued as 12345\r\n"),
                (b"QUIT\r\n", b"221 Bye\r\n"),
            ],
        )
    )
    with client(server, tls="auto") as c:
        assert c.greeting == mp.SmtpReply(220, None, "smtp.example.com ESMTP MTA information")
        result = c.send(SEED_MESSAGE)
    server.wait()
    assert server.transcripts[0] == (
        b"EHLO mta.example.org\r\n"
        b"MAIL FROM:<alice@example.org>\r\n"
        b"RCPT TO:<bob@example.com>\r\n"
        b"DATA\r\n" + SEED_MESSAGE + b".\r\nQUIT\r\n"
    )
    assert result.reply == mp.SmtpReply(250, None, "Ok: queued as 12345")
    assert result.recipients == {"bob@example.com": mp.SmtpReply(250, None, "Ok")}
    assert result.sender == "alice@example.org"
    assert c.esmtp and c.extensions == {}
    server.close()


def test_pipelining_sends_mail_rcpt_data_in_one_flight() -> None:
    """RFC 2920 §3.1: the server answers only once the whole group has arrived, so a client
    waiting for each reply would time out here."""
    message = b"From: a@x.example\r\nTo: b@y.example, c@y.example\r\n\r\n.leading dot\r\n"
    server = ScriptedServer(
        (
            b"220 ready\r\n",
            [
                (b"EHLO mta.example.org\r\n", b"250-hello\r\n250-PIPELINING\r\n250 8BITMIME\r\n"),
                (
                    b"MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\n"
                    b"RCPT TO:<c@y.example>\r\nDATA\r\n",
                    b"250 2.1.0 ok\r\n550 5.1.1 <b@y.example> no such user\r\n"
                    b"250 2.1.5 ok\r\n354 go ahead\r\n",
                ),
                # dot-stuffing, RFC 5321 §4.5.2
                (
                    b"From: a@x.example\r\nTo: b@y.example, c@y.example\r\n\r\n"
                    b"..leading dot\r\n.\r\n",
                    b"250 2.0.0 queued\r\n",
                ),
                (b"QUIT\r\n", b"221 bye\r\n"),
            ],
        )
    )
    with client(server, timeout=3) as c:
        result = c.send(message)
    server.wait()
    assert result.accepted == ["c@y.example"]
    assert result.refused == {
        "b@y.example": mp.SmtpReply(550, "5.1.1", "<b@y.example> no such user")
    }
    assert "REFUSED 1" in repr(result) and "b@y.example" in repr(result)
    assert server.transcripts[0].endswith(b".\r\nQUIT\r\n")
    server.close()


def test_pipelined_refusal_of_every_recipient_ends_data_empty() -> None:
    """RFC 2920 §3.1: if DATA was accepted although no recipient was, the client ends it with
    an empty message; SmtpRecipientsRefused lists every reply; RSET follows."""
    server = ScriptedServer(
        (
            b"220 ready\r\n",
            [
                (b"EHLO mta.example.org\r\n", b"250-hello\r\n250 PIPELINING\r\n"),
                (
                    b"MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nDATA\r\n",
                    b"250 ok\r\n450 4.2.1 mailbox busy\r\n354 go ahead\r\n",
                ),
                (b".\r\n", b"554 5.5.1 no valid recipients\r\n"),
                (b"RSET\r\n", b"250 flushed\r\n"),
                (b"QUIT\r\n", b"221 bye\r\n"),
            ],
        )
    )
    with client(server) as c, pytest.raises(mp.SmtpRecipientsRefused) as info:
        c.send(b"Subject: x\r\n\r\nx\r\n", sender="a@x.example", recipients=["b@y.example"])
    server.wait()
    assert info.value.recipients == {"b@y.example": mp.SmtpReply(450, "4.2.1", "mailbox busy")}
    assert info.value.code == 450
    assert server.transcripts[0].endswith(b".\r\nRSET\r\nQUIT\r\n")
    server.close()


def test_bdat_and_dsn_parameters() -> None:
    """RFC 3030 BDAT (no dot-stuffing, size in the command) pipelined after RCPT; RFC 3461
    NOTIFY/ORCPT/RET/ENVID in xtext; RFC 1870 SIZE= declared."""
    body = b"Subject: x\r\n\r\n.not stuffed\r\n"
    server = ScriptedServer(
        (
            b"220 ready\r\n",
            [
                (
                    b"EHLO mta.example.org\r\n",
                    b"250-hello\r\n250-PIPELINING\r\n250-CHUNKING\r\n250-DSN\r\n250 SIZE 1000\r\n",
                ),
                (
                    b"MAIL FROM:<a+b@x.example> SIZE=28 RET=HDRS ENVID=Q+2BQ+3D1\r\n"
                    b"RCPT TO:<b@y.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b@y.example\r\n"
                    b"BDAT 28 LAST\r\n" + body,
                    b"250 ok\r\n250 ok\r\n250 2.0.0 queued as B\r\n",
                ),
                (b"QUIT\r\n", b"221 bye\r\n"),
            ],
        )
    )
    with client(server, chunking=True) as c:
        result = c.send(
            body,
            sender="a+b@x.example",
            recipients=["b@y.example"],
            dsn_notify=["success", "failure"],
            dsn_return="HDRS",
            dsn_envelope_id="Q+Q=1",
        )
    assert result.reply.text == "queued as B"
    server.wait()
    server.close()


def test_dsn_needs_the_extension() -> None:
    server = ScriptedServer(
        (
            b"220 ready\r\n",
            [(b"EHLO mta.example.org\r\n", b"250 hello\r\n"), (b"QUIT\r\n", b"221 bye\r\n")],
        )
    )
    with client(server) as c, pytest.raises(mp.SmtpNotSupportedError, match="DSN"):
        c.send(
            b"Subject: x\r\n\r\nx\r\n",
            sender="a@x.example",
            recipients=["b@y.example"],
            dsn_notify=["NEVER"],
        )
    server.wait()
    assert server.transcripts[0] == b"EHLO mta.example.org\r\nQUIT\r\n"
    server.close()


def test_helo_fallback_when_ehlo_is_refused() -> None:
    """RFC 5321 §4.1.4 / RFC 1869: a server answering 502 to EHLO gets HELO."""
    server = ScriptedServer(
        (
            b"220 old server\r\n",
            [
                (b"EHLO mta.example.org\r\n", b"502 5.5.1 command not implemented\r\n"),
                (b"HELO mta.example.org\r\n", b"250 old.example.com\r\n"),
                (b"NOOP\r\n", b"250 ok\r\n"),
                (b"QUIT\r\n", b"221 bye\r\n"),
            ],
        )
    )
    with client(server) as c:
        assert c.noop() == mp.SmtpReply(250, None, "ok")
        assert not c.esmtp
    server.wait()
    server.close()


@pytest.mark.parametrize(
    ("greeting", "error"),
    [
        (b"554 5.3.2 no service here\r\n", mp.SmtpPermanentError),
        (b"421 4.3.2 busy, try later\r\n", mp.SmtpTemporaryError),
    ],
)
def test_refused_greeting(greeting: bytes, error: type[mp.SmtpError]) -> None:
    """RFC 5321 §3.1: 554 (or 421) instead of 220 refuses the session."""
    server = ScriptedServer((greeting, []))
    c = client(server)
    with pytest.raises(error) as info:
        c.connect()
    assert info.value.code == int(greeting[:3])
    assert info.value.enhanced_code == greeting[4:9].decode()
    server.close()


def test_malformed_reply_is_a_protocol_error() -> None:
    server = ScriptedServer((b"220 ready\r\n", [(b"EHLO mta.example.org\r\n", b"hello?\r\n")]))
    with pytest.raises(mp.ProtocolError):
        client(server).connect()
    server.close()


def test_starttls_response_injection_is_refused() -> None:
    """CVE-2011-0411: plaintext sent after the 220 to STARTTLS must not be read as part of
    the TLS session; the client drops the connection instead."""
    server = ScriptedServer(
        (
            b"220 ready\r\n",
            [
                (b"EHLO mta.example.org\r\n", b"250-hello\r\n250 STARTTLS\r\n"),
                (b"STARTTLS\r\n", b"220 go ahead\r\n250-injected\r\n250 AUTH PLAIN\r\n"),
            ],
        )
    )
    with pytest.raises(mp.TlsError, match="injection"):
        client(server, tls="starttls").connect()
    server.close()


def test_starttls_required_fails_closed() -> None:
    """RFC 3207 §4: tls="starttls" never continues in plaintext."""
    server = ScriptedServer(
        (b"220 ready\r\n", [(b"EHLO mta.example.org\r\n", b"250-hello\r\n250 8BITMIME\r\n")])
    )
    with pytest.raises(mp.TlsError, match="STARTTLS"):
        client(server, tls="starttls").connect()
    server.close()


def test_command_injection_through_addresses_is_refused() -> None:
    """A CR/LF in an envelope address would smuggle commands into the session."""
    server = ScriptedServer(
        (
            b"220 ready\r\n",
            [(b"EHLO mta.example.org\r\n", b"250 hello\r\n"), (b"QUIT\r\n", b"221 bye\r\n")],
        )
    )
    with client(server) as c:
        for evil in ["b@y.example\r\nRCPT TO:<c@y.example>", "b@y.example>\r\nDATA", "a\x00@b"]:
            with pytest.raises(mp.AddressError):
                c.send(b"Subject: x\r\n\r\nx\r\n", sender="a@x.example", recipients=[evil])
        with pytest.raises(mp.ConfigError):
            c.send(
                b"x\r\n",
                sender="a@x.example",
                recipients=["b@y.example"],
                mail_options=["X=1\r\nRSET"],
            )
    server.wait()
    assert server.transcripts[0] == b"EHLO mta.example.org\r\nQUIT\r\n"
    server.close()


def test_8bit_body_needs_8bitmime() -> None:
    """RFC 6152: 8-bit data only to a server that offers 8BITMIME, declared with BODY=."""
    server = ScriptedServer(
        (
            b"220 ready\r\n",
            [(b"EHLO mta.example.org\r\n", b"250 hello\r\n"), (b"QUIT\r\n", b"221 bye\r\n")],
        ),
        (
            b"220 ready\r\n",
            [
                (b"EHLO mta.example.org\r\n", b"250-hello\r\n250 8BITMIME\r\n"),
                (b"MAIL FROM:<a@x.example> BODY=8BITMIME\r\n", b"250 ok\r\n"),
                (b"RCPT TO:<b@y.example>\r\n", b"250 ok\r\n"),
                (b"DATA\r\n", b"354 go\r\n"),
                ("Subject: x\r\n\r\nvoilà\r\n.\r\n".encode(), b"250 ok\r\n"),
                (b"QUIT\r\n", b"221 bye\r\n"),
            ],
        ),
    )
    body = "Subject: x\r\n\r\nvoilà\r\n".encode()
    envelope = {"sender": "a@x.example", "recipients": ["b@y.example"]}
    with client(server) as c, pytest.raises(mp.SmtpNotSupportedError, match="8BITMIME"):
        c.send(body, **envelope)  # type: ignore[arg-type]
    with client(server) as c:
        c.send(body, **envelope)  # type: ignore[arg-type]
    server.wait(2)
    server.close()


def test_bdat_without_pipelining() -> None:
    """RFC 3030 §2: without PIPELINING, BDAT follows the RCPT replies; one LAST chunk."""
    content = b"Subject: x\r\n\r\nbody\r\n"
    server = ScriptedServer(
        (
            b"220 ready\r\n",
            [
                (b"EHLO mta.example.org\r\n", b"250-hello\r\n250 CHUNKING\r\n"),
                (b"MAIL FROM:<a@x.example>\r\n", b"250 ok\r\n"),
                (b"RCPT TO:<b@y.example>\r\n", b"250 ok\r\n"),
                (b"BDAT %d LAST\r\n" % len(content) + content, b"250 2.0.0 queued\r\n"),
                (b"QUIT\r\n", b"221 bye\r\n"),
            ],
        )
    )
    with client(server) as c:
        result = c.send(content, sender="a@x.example", recipients=["b@y.example"])
    assert result.reply == mp.SmtpReply(250, "2.0.0", "queued")
    server.wait()
    server.close()
