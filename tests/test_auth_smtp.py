"""E-mail authentication in the SMTP client and server, over real loopback sockets.

The client signs (``SmtpClient(dkim=...)``), mailprims' SMTP server verifies
(``SmtpServer(verify=...)``) with a DNS server on 127.0.0.1 serving the key, SPF and DMARC
records (``dns_zone``), stores into a Maildir, and the message is read back through
mailprims' POP3 server with :mod:`poplib` and its IMAP server with :mod:`imaplib`. The peers
nobody here wrote: dkimpy signs messages :mod:`smtplib` sends, and verifies what the client
signed; smtplib sees the DMARC rejection on the wire.
"""

from __future__ import annotations

import asyncio
import imaplib
import pathlib
import poplib
import smtplib
import time
from collections.abc import Iterator
from typing import Any

import dkim
import pytest
from dns_zone import Zone, dns_server

import mailprims as mp
from mailprims.auth import DkimKey, DkimSigner, Verifier

PASSWORD = "bob password"
HOST = "mx.inbox.test"

MESSAGE = (
    b"From: Alice <alice@example.org>\r\n"
    b"To: Bob <bob@inbox.test>\r\n"
    b"Bcc: carol@inbox.test\r\n"
    b"Subject: Lunch\r\n"
    b"Date: Fri, 04 Dec 2026 10:00:00 +0000\r\n"
    b"Message-ID: <lunch-1@example.org>\r\n"
    b"\r\n"
    b"See you at noon.\r\n"
    b".a line that SMTP dot-stuffs\r\n"
)


@pytest.fixture(scope="module")
def key() -> DkimKey:
    return DkimKey.generate("rsa")


@pytest.fixture(scope="module")
def zone(key: DkimKey) -> Zone:
    return Zone(
        {
            "s1._domainkey.example.org": [("TXT", key.txt_record)],
            # The tests send from 127.0.0.1.
            "example.org": [("TXT", "v=spf1 ip4:127.0.0.1 -all")],
            "_dmarc.example.org": [("TXT", "v=DMARC1; p=reject")],
            "bank.example": [("TXT", "v=spf1 ip4:192.0.2.0/24 -all")],
            "_dmarc.bank.example": [("TXT", "v=DMARC1; p=reject")],
            "sampled.example": [("TXT", "v=spf1 -all")],
            "_dmarc.sampled.example": [("TXT", "v=DMARC1; p=reject; pct=0")],
        }
    )


@pytest.fixture(scope="module")
def dns(zone: Zone) -> Iterator[tuple[str, int]]:
    with dns_server(zone) as addr:
        yield addr


@pytest.fixture(scope="module")
def verifier(dns: tuple[str, int]) -> Verifier:
    return Verifier(nameservers=[dns], dns_timeout=1, timeout=10)


@pytest.fixture
def store(tmp_path: pathlib.Path) -> mp.MaildirStore:
    return mp.MaildirStore(tmp_path / "mail")


@pytest.fixture(scope="module")
def users() -> mp.Users:
    users = mp.Users(domains=["inbox.test"])
    users.add("bob", PASSWORD)
    users.add("carol", PASSWORD)
    return users


def dkimpy_dns(key: DkimKey) -> Any:
    records = {b"s1._domainkey.example.org.": key.txt_record.encode()}

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes | None:
        return records.get(name if name.endswith(b".") else name + b".")

    return dnsfunc


def our_results(raw: bytes) -> dict[str, str]:
    """method -> result of the Authentication-Results fields with our authserv-id."""
    found = [r for r in mp.Message.parse(raw).authentication_results if r.authserv_id == HOST]
    return {r.method: r.result for r in found}


def stored(store: mp.MaildirStore, user: str) -> list[bytes]:
    inbox = store.mailbox(user)
    return [inbox.get_bytes(k) for k in inbox.iterkeys()]


def server(**kwargs: Any) -> mp.SmtpServer:
    kwargs.setdefault("hostname", HOST)
    return mp.SmtpServer(**kwargs)


# ---- the round trip --------------------------------------------------------------------


def test_client_signs_server_verifies_pop3_and_imap_read_pass(
    key: DkimKey, verifier: Verifier, store: mp.MaildirStore, users: mp.Users
) -> None:
    signer = DkimSigner("example.org", "s1", key)
    pop = mp.Pop3Server(store=store, users=users, allow_insecure_auth=True)
    imap = mp.ImapServer(store=store, users=users, allow_insecure_auth=True)
    smtp = server(store=store, users=users, domains=["inbox.test"], verify=verifier)
    with smtp, pop, imap:
        with mp.SmtpClient("127.0.0.1", smtp.port, tls="none", dkim=signer) as client:
            result = client.send(MESSAGE)
        assert result.accepted == ["bob@inbox.test", "carol@inbox.test"]

        pop_client = poplib.POP3("127.0.0.1", pop.port, timeout=30)
        try:
            pop_client.user("bob")
            pop_client.pass_(PASSWORD)
            assert pop_client.stat()[0] == 1
            _, lines, _ = pop_client.retr(1)
        finally:
            pop_client.quit()
        via_pop = b"\r\n".join(lines) + b"\r\n"

        with imaplib.IMAP4("127.0.0.1", imap.port, timeout=30) as imap_client:
            imap_client.login("carol", PASSWORD)
            imap_client.select("INBOX", readonly=True)
            typ, data = imap_client.fetch("1", "(BODY.PEEK[])")
            assert typ == "OK"
            item = data[0]
            assert isinstance(item, tuple)
            via_imap = item[1]
            typ, data = imap_client.fetch(
                "1", "(BODY.PEEK[HEADER.FIELDS (AUTHENTICATION-RESULTS)])"
            )
            assert typ == "OK"
            item = data[0]
            assert isinstance(item, tuple)
            header_only = item[1]

    for raw in (via_pop, via_imap):
        assert our_results(raw) == {"dkim": "pass", "spf": "pass", "dmarc": "pass", "arc": "none"}
        # Trace fields in order: Return-Path, our Received, our Authentication-Results.
        head = raw.split(b"\r\n\r\n", 1)[0].decode()
        names = [line.split(":", 1)[0] for line in head.split("\r\n") if line[:1] not in "\t "]
        assert names[:4] == ["Return-Path", "Received", "Authentication-Results", "DKIM-Signature"]
        assert b"header.d=example.org" in raw
        assert b"smtp.mailfrom=alice@example.org" in raw
        # No Bcc travelled, and the signature still verifies for dkimpy after storage.
        assert b"Bcc" not in raw and b"carol@" not in raw.split(b"\r\n\r\n", 1)[0]
        assert dkim.verify(raw, dnsfunc=dkimpy_dns(key))
    assert header_only.startswith(f"Authentication-Results: {HOST};".encode())


def test_async_client_signs_with_several_signers(
    key: DkimKey, verifier: Verifier, dns: tuple[str, int], zone: Zone
) -> None:
    ed = DkimKey.generate("ed25519")
    zone.add("ed._domainkey.example.org", ("TXT", ed.txt_record))
    signers = [DkimSigner("example.org", "s1", key), DkimSigner("example.org", "ed", ed)]

    async def send(port: int) -> None:
        async with mp.AsyncSmtpClient("127.0.0.1", port, tls="none", dkim=signers) as client:
            await client.send(MESSAGE)

    with server(handler=mp.Sink(), verify=verifier) as smtp:
        asyncio.run(send(smtp.port))
        [envelope] = smtp.messages
    assert envelope.auth is not None
    assert [(d.result, d.selector) for d in envelope.auth.dkim] == [("pass", "s1"), ("pass", "ed")]
    assert envelope.original_content is not None
    # What the client signed is what dkimpy verifies (RSA; its first signature).
    assert dkim.verify(envelope.original_content, dnsfunc=dkimpy_dns(key))


# ---- dkimpy signs, smtplib sends ---------------------------------------------------------


def dkimpy_signed(key: DkimKey, message: bytes = MESSAGE) -> bytes:
    message = message.replace(b"Bcc: carol@inbox.test\r\n", b"")
    field = dkim.sign(message, b"s1", b"example.org", key.private_pem().encode())
    return field + message


def smtplib_send(port: int, message: bytes, sender: str = "alice@example.org") -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.sendmail(sender, ["bob@inbox.test"], message)


def test_dkimpy_signed_passes_and_tampered_fails(key: DkimKey, verifier: Verifier) -> None:
    signed = dkimpy_signed(key)
    tampered_body = signed.replace(b"noon", b"midnight")
    tampered_header = signed.replace(b"Subject: Lunch", b"Subject: Dinner")
    with server(handler=mp.Sink(), verify=verifier) as smtp:
        for message in (signed, tampered_body, tampered_header):
            smtplib_send(smtp.port, message)
        got = smtp.messages
    assert [m.auth.dkim[0].result for m in got if m.auth] == ["pass", "fail", "fail"]
    assert got[1].auth is not None and got[1].auth.dkim[0].reason == "body hash did not verify"
    for envelope, expected in zip(got, ("pass", "fail", "fail"), strict=True):
        assert envelope.content is not None
        assert our_results(envelope.content)["dkim"] == expected
        # SPF passes for 127.0.0.1, so DMARC passes by SPF alignment even when DKIM fails.
        assert our_results(envelope.content)["spf"] == "pass"
        assert our_results(envelope.content)["dmarc"] == "pass"


# ---- DMARC policy ------------------------------------------------------------------------

SPOOF = (
    b"From: CEO <ceo@bank.example>\r\nTo: bob@inbox.test\r\nSubject: wire the money\r\n"
    b"Message-ID: <spoof@bank.example>\r\n\r\nurgent\r\n"
)


def test_dmarc_reject_is_a_550_on_the_wire_and_nothing_is_stored(
    verifier: Verifier, store: mp.MaildirStore, users: mp.Users
) -> None:
    smtp = server(
        store=store, users=users, domains=["inbox.test"], verify=verifier, dmarc_reject=True
    )
    with smtp:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            smtplib_send(smtp.port, SPOOF, sender="ceo@bank.example")
        # pct=0: the domain asks for reject, but this message was not sampled (RFC 7489
        # §6.6.4): quarantine, so it is accepted.
        sampled = SPOOF.replace(b"bank.example", b"sampled.example")
        smtplib_send(smtp.port, sampled, sender="ceo@sampled.example")
    assert refused.value.smtp_code == 550
    assert refused.value.smtp_error.startswith(b"5.7.1 ")
    assert b"DMARC" in refused.value.smtp_error
    [raw] = stored(store, "bob")
    assert b"sampled.example" in raw
    assert our_results(raw)["dmarc"] == "fail"
    assert b"(p=reject dis=quarantine)" in raw


class QuarantinePolicy:
    """A custom policy in a hook: refuse what DMARC says to quarantine."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def handle_DATA(self, server: Any, session: Any, envelope: mp.Envelope) -> str | None:
        assert envelope.auth is not None
        self.seen.append(envelope.auth.dmarc.disposition)
        assert envelope.content is not None
        assert envelope.content.count(b"Authentication-Results: " + HOST.encode()) == 1
        if envelope.auth.dmarc.disposition == "quarantine":
            return "550 5.7.1 Not accepted: DMARC says quarantine"
        return None


def test_a_hook_applies_its_own_policy_before_anything_is_stored(
    key: DkimKey, verifier: Verifier, store: mp.MaildirStore, users: mp.Users
) -> None:
    policy = QuarantinePolicy()
    smtp = server(handler=policy, store=store, users=users, domains=["inbox.test"], verify=verifier)
    with smtp:
        sampled = SPOOF.replace(b"bank.example", b"sampled.example")
        with pytest.raises(smtplib.SMTPDataError) as refused:
            smtplib_send(smtp.port, sampled, sender="ceo@sampled.example")
        # Without dmarc_reject, p=reject failures are the hook's to judge: accepted here.
        smtplib_send(smtp.port, SPOOF, sender="ceo@bank.example")
        smtplib_send(smtp.port, dkimpy_signed(key))
    assert refused.value.smtp_code == 550
    assert policy.seen == ["quarantine", "reject", "none"]
    assert len(store.mailbox("bob")) == 2


def test_dmarc_reject_needs_a_verifier() -> None:
    with pytest.raises(ValueError, match="verify"):
        mp.SmtpServer(handler=mp.Sink(), dmarc_reject=True)


# ---- DNS that never answers ----------------------------------------------------------------


def test_silent_dns_is_temperror_within_the_bound_and_the_message_is_accepted(
    key: DkimKey, store: mp.MaildirStore, users: mp.Users
) -> None:
    with dns_server(Zone(silent=True)) as addr:
        silent = Verifier(nameservers=[addr], dns_timeout=0.3, timeout=2)
        smtp = server(
            store=store, users=users, domains=["inbox.test"], verify=silent, dmarc_reject=True
        )
        with smtp:
            started = time.monotonic()
            smtplib_send(smtp.port, dkimpy_signed(key))
            elapsed = time.monotonic() - started
    # The verifier's bound (2 s), with room for a loaded machine; never the DNS timeouts
    # of every lookup one after the other.
    assert elapsed < 10
    [raw] = stored(store, "bob")
    assert our_results(raw) == {
        "dkim": "temperror",
        "spf": "temperror",
        "dmarc": "temperror",
        "arc": "none",
    }


# ---- forged results ----------------------------------------------------------------------


def test_forged_results_with_our_id_are_removed(verifier: Verifier) -> None:
    forged = (
        f"Authentication-Results: {HOST.upper()};\r\n\tdkim=pass header.d=bank.example\r\n"
        "Authentication-Results: relay.other.example; spf=pass\r\n"
    ).encode() + SPOOF
    with server(handler=mp.Sink(), verify=verifier) as smtp:
        smtplib_send(smtp.port, forged, sender="ceo@bank.example")
        [envelope] = smtp.messages
    assert envelope.content is not None and envelope.original_content is not None
    # Ours (once, and saying what we found), the other server's kept.
    assert our_results(envelope.content)["dmarc"] == "fail"
    ids = [r.authserv_id for r in mp.Message.parse(envelope.content).authentication_results]
    assert ids.count(HOST) == 4 and "relay.other.example" in ids
    assert HOST.upper() not in ids
    assert b"header.d=bank.example" not in envelope.content
    assert envelope.original_content.startswith(b"Authentication-Results: relay.other.example")


def test_without_verify_nothing_is_added(key: DkimKey) -> None:
    with server(handler=mp.Sink()) as smtp:
        smtplib_send(smtp.port, dkimpy_signed(key))
        [envelope] = smtp.messages
    assert envelope.auth is None
    assert envelope.content is not None and b"Authentication-Results" not in envelope.content


def test_client_dkim_takes_signers_only() -> None:
    with pytest.raises(TypeError, match="DkimSigner"):
        mp.SmtpClient("127.0.0.1", 25, dkim=["not a signer"])  # type: ignore[list-item]
