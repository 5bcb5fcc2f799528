"""The main job, ``python -m mailprims demo``: the textbook chapter's mail scenario, live.

A mail server for example.org starts on two free loopback ports, SMTP delivering into
Maildirs and POP3 serving them, over a temporary store with the accounts alice and bob. Alice
sends Bob a MIME message (text, HTML, an attachment, a non-ASCII subject) with
:class:`~mailprims.SmtpClient`; Bob fetches it with :class:`~mailprims.Pop3Client`. Both
dialogues are printed as the chapter prints them (``C:``/``S:``, recorded by the clients with
``transcript=True``), then what Bob's client reads from the message, the server's log, and
the chapter's Base64 examples. Nothing is configured and nothing outlives the run.
"""

from __future__ import annotations

import hashlib
import struct
import tempfile
import time
import zlib
from pathlib import Path
from typing import TextIO

import mailprims as mp
from mailprims._compose import compose
from mailprims._transcript import format_transcript

__all__ = ["run"]

DOMAIN = "example.org"
SERVER_NAME = "mail.example.org"
ALICE = ("alice", "12345pass")  # the chapter's POP3 example account
BOB = ("bob", "correct horse battery")

TEXT = """\
Hi Bob,

Here is the map for Thursday's meeting (Réunion à 15h, salle Maxwell).
Coffee is on me.

Alice
"""

HTML = """\
<p>Hi Bob,</p>
<p>Here is the <b>map</b> for Thursday's meeting (<i>Réunion à 15h</i>, salle Maxwell).
Coffee is on me.</p>
<p>Alice</p>
"""


def _png(width: int = 32, height: int = 20) -> bytes:
    """A small PNG image (a colour gradient), made here so the demo needs no file."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\x00" + b"".join(bytes((8 * x, 12 * y, 200 - 4 * x)) for x in range(width))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def _section(out: TextIO, title: str) -> None:
    out.write(f"\n== {title} ==\n")


def _tree(part: mp.Part | mp.Message, depth: int = 1) -> list[str]:
    ct = part.content_type
    line = "  " * depth + f"{ct.type}/{ct.subtype}"
    if isinstance(part, mp.Part) and not part.is_multipart:
        if part.filename:
            line += f' "{part.filename}"'
        line += f" ({part.transfer_encoding or '7bit'}, {len(part.payload)} bytes)"
    lines = [line]
    for child in part.parts:
        lines.extend(_tree(child, depth + 1))
    return lines


def _addresses(addresses: list[mp.Address]) -> str:
    return ", ".join(str(a) for a in addresses)


def _scenario(out: TextIO, root: Path) -> int:
    cert, key = mp.tls.write_self_signed_certificate(root)
    users = mp.Users(domains=[DOMAIN])
    users.add(*ALICE)
    users.add(*BOB)
    users.save(root / "users")
    store = mp.MaildirStore(root / "mail")
    log: list[mp.ServerEvent] = []
    smtp = mp.SmtpServer(
        store=store,
        users=users,
        hostname=SERVER_NAME,
        tls_cert=str(cert),
        tls_key=str(key),
        on_event=log.append,
    )
    pop3 = mp.Pop3Server(
        store=store,
        users=users,
        hostname=SERVER_NAME,
        tls_cert=cert,
        tls_key=key,
        on_event=log.append,
    )
    with smtp, pop3:
        _section(out, f"A mail server for {DOMAIN}, on this machine")
        out.write(f"  SMTP  127.0.0.1:{smtp.port}  receives mail and delivers it into Maildirs\n")
        out.write(f"  POP3  127.0.0.1:{pop3.port}  serves the Maildirs to their owners\n")
        out.write("  TLS   STARTTLS and STLS, with a self-signed certificate made for the run\n")
        out.write(f"  users {', '.join(users)} (Argon2id password hashes in {root / 'users'})\n")
        out.write(f"  store {root / 'mail'}/<user>/{{tmp,new,cur}}\n")

        attachment = _png()
        data = compose(
            from_=f"Alice Doe <alice@{DOMAIN}>",
            to=[f"Bob Smith <bob@{DOMAIN}>"],
            subject="Réunion à 15h: the map",
            text=TEXT,
            html=HTML,
            attachments=[("plan d'accès.png", attachment, "image/png")],
        )
        sent = mp.Message.parse(data)
        _section(out, "Alice writes to Bob")
        out.write(f"  From: {_addresses(sent.from_)}\n  To: {_addresses(sent.to)}\n")
        out.write(f"  Subject: {sent.subject}\n")
        raw_subject = sent.headers.get_raw("Subject") or b""
        out.write(f"     sent as:{raw_subject.decode('ascii', 'replace').rstrip()}\n")
        out.write("\n".join(_tree(sent)) + "\n")

        started = time.perf_counter()
        # chunking=False: DATA, as in the chapter, rather than BDAT (RFC 3030).
        with mp.SmtpClient(
            "127.0.0.1",
            smtp.port,
            cafile=cert,
            username=ALICE[0],
            password=ALICE[1],
            local_hostname=f"alice-laptop.{DOMAIN}",
            chunking=False,
            transcript=True,
        ) as client:
            result = client.send(data)
            tls = client.tls_version
        _section(out, "Alice's mail client sends it: SMTP (RFC 5321)")
        for line in format_transcript(client.transcript, tls=tls, data_lines=8):
            out.write(f"  {line}\n")
        out.write(
            "  (MAIL FROM, then RCPT TO, then DATA: RFC 5321 §3.3; the three go in one\n"
            "   flight with PIPELINING, RFC 2920. The credentials are not shown.)\n"
        )
        for address in result.accepted:
            out.write(f"  -> accepted for {address}: {result.reply}\n")

        with mp.Pop3Client("127.0.0.1", pop3.port, cafile=cert, transcript=True) as pop:
            pop.login(*BOB, mechanism="user")  # USER and PASS, as in the chapter
            count, _size = pop.stat()
            pop.list()
            received = pop.retr(1)
            pop.dele(1)
            tls = pop.tls_version
        elapsed = time.perf_counter() - started
        _section(out, "Bob's mail client fetches it: POP3 (RFC 1939)")
        for line in format_transcript(pop.transcript, tls=tls, data_lines=8):
            out.write(f"  {line}\n")
        smtp.stop()
        pop3.stop()

    _section(out, "What Bob's client reads")
    for name in ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version"):
        out.write(f"  {name + ':':<13} {received.headers.get(name)}\n")
    out.write("  Received trace, newest hop first:\n")
    for n, hop in enumerate(received.received, 1):
        where = f"from {hop.from_host} [{hop.from_ip}] by {hop.by_host}"
        out.write(f"   {n}. {where} with {hop.protocol} id {hop.id}\n")
        out.write(f"      for <{hop.for_}>, {hop.date:%Y-%m-%d %H:%M:%S %z}\n")
        out.write(f"      {hop.tls or 'without TLS'}\n")
    text = (received.text or "").strip().splitlines()
    out.write(f"  Text: {text[0] if text else ''} ...\n")
    for part in received.attachments:
        digest = hashlib.sha256(part.payload).hexdigest()
        same = part.payload == attachment
        ct = part.content_type
        out.write(f'  Attachment: "{part.filename}", {ct.type}/{ct.subtype}, ')
        out.write(f"{len(part.payload)} bytes, sha256 {digest[:16]}...\n")
        out.write(f"      {'identical to' if same else 'DIFFERS from'} what Alice attached\n")

    _section(out, "The server's log (on_event)")
    for event in log:
        out.write(f"  {event}\n")

    ok = (
        count == 1
        and len(received.attachments) == 1
        and received.attachments[0].payload == attachment
        and received.subject == sent.subject
        and len(received.received) == 1
    )
    out.write(f"\n{'delivered and fetched' if ok else 'FAILED'} in {elapsed:.2f} s\n")
    return 0 if ok else 1


def _bits(data: bytes) -> str:
    return " ".join(f"{b:08b}" for b in data)


def _codecs(out: TextIO) -> None:
    _section(out, "Base64 (RFC 4648), the chapter's examples")
    for hexdata in ("14fb9c03d97e", "14", "14fb"):
        data = bytes.fromhex(hexdata)
        encoded = mp.base64.encode(data)
        six = "".join(f"{b:08b}" for b in data)
        groups = [six[i : i + 6].ljust(6, "0") for i in range(0, len(six), 6)]
        out.write(f"  0x{hexdata:<12} 8-bit   {_bits(data)}\n")
        out.write(f"  {'':14} 6-bit   {' '.join(groups)}\n")
        out.write(f"  {'':14} base64  {encoded.decode()}\n")
        if mp.base64.decode(encoded, strict=True) != data:
            raise AssertionError(f"Base64 round trip failed for {hexdata}")
    word = mp.encoded_word.encode("Réunion à 15h")
    out.write(f"  RFC 2047 header: {word} -> {mp.encoded_word.decode(word)}\n")


def run(out: TextIO) -> int:
    """Print the demo to ``out``; returns the exit status (0 when the message arrived
    intact)."""
    out.write(f"mailprims {mp.__version__}: the chapter's mail scenario, live on this machine\n")
    with tempfile.TemporaryDirectory(prefix="mailprims-demo-") as tmp:
        status = _scenario(out, Path(tmp))
    _codecs(out)
    out.write("\nok\n" if status == 0 else "\nfailed\n")
    return status
