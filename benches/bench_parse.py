"""Message parsing against the stdlib and fast-mail-parser.

Workload per message, the same for every parser: parse, read Subject, From, To and Date
(addresses and the date parsed, not just the raw strings), and decode every leaf payload.
Corpus: CPython's own e-mail test messages, plus synthetic messages: small, HTML+text with
RFC 2047 headers, 1 MiB with attachments, 30 Received headers, nested message/rfc822.

fast-mail-parser (PyPI ``fast-mail-parser``) decodes every body during ``parse_email``; its
workload reads the same fields (``date_parsed``, the parsed addresses) and touches every
decoded body. Messages it refuses (it raises on some malformed mail) still count: it did the
work of finding out.
"""

from __future__ import annotations

import base64
import email
import email.policy
import os
import random
from collections.abc import Callable
from pathlib import Path

import mailprims as mp
from harness import Case

try:
    import fast_mail_parser as fmp
except ImportError:  # pragma: no cover - bench-only dependency (make bench installs it)
    fmp = None

POLICY = email.policy.default


def ours(data: bytes) -> None:
    m = mp.Message.parse(data)
    _ = m.subject, m.from_, m.to, m.date
    for p in m.walk():
        if not p.is_multipart and p.message is None:
            _ = p.payload


def stdlib(data: bytes) -> None:
    m = email.message_from_bytes(data, policy=POLICY)
    for name in ("subject", "from", "to", "date"):
        h = m[name]
        if h is not None and name in ("from", "to"):
            _ = h.addresses
        elif h is not None and name == "date":
            _ = h.datetime
    for p in m.walk():
        if not p.is_multipart():
            p.get_payload(decode=True)


def fast(data: bytes) -> None:
    try:
        m = fmp.parse_email(data)
    except fmp.ParseError:
        return
    _ = m.subject, m.from_, m.to, m.date_parsed
    for t in m.text_plain:
        len(t)
    for t in m.text_html:
        len(t)
    for a in m.attachments:
        if a.mimetype == "message/rfc822":
            # The stdlib and mailprims decode an attached message's parts as well.
            fast(a.content)
        else:
            len(a.content)


def cpython_corpus() -> list[bytes]:
    try:
        import test.test_email as t
    except ImportError:  # pragma: no cover
        return []
    data = Path(t.__file__).parent / "data"
    return [p.read_bytes() for p in sorted(data.glob("msg_*.txt"))]


RECEIVED = (
    "Received: from mail{n}.example.org (mail{n}.example.org [192.0.2.{n}])\r\n"
    "\tby mx{n}.example.net (Postfix) with ESMTPS id 4VyZ{n:04d}Y3Zz9sQ4\r\n"
    "\tfor <user@example.net>; Mon, 10 Jun 2024 09:{m:02d}:01 +0000 (UTC)\r\n"
)


def headers(received: int = 3) -> str:
    return (
        "".join(RECEIVED.format(n=n + 1, m=59 - n) for n in range(received))
        + "From: Alice Example <alice@example.org>\r\n"
        "To: Bob Example <bob@example.net>, carol@example.net\r\n"
        "Cc: Dave <dave@example.com>\r\n"
        "Subject: Lunch on Thursday?\r\n"
        "Date: Mon, 10 Jun 2024 09:00:00 +0000\r\n"
        "Message-ID: <20240610090000.12345@example.org>\r\n"
    )


def small() -> bytes:
    body = "Hi Bob,\r\n\r\nAre we still on for lunch on Thursday? Noon at the usual place.\r\n\r\n"
    return (headers() + "\r\n" + body * 6 + "-- \r\nAlice\r\n").encode()


def html_text() -> bytes:
    rng = random.Random(2047)
    words = "réunion café naïve déjà façade Größe the quick brown fox jumps over".split()
    text = "\r\n".join(" ".join(rng.choice(words) for _ in range(12)) for _ in range(60))
    html = "<html><body>" + "".join(f"<p>{line}</p>\r\n" for line in text.split("\r\n"))
    qp_text = mp.quoted_printable.encode(text.encode()).decode()
    qp_html = mp.quoted_printable.encode((html + "</body></html>").encode()).decode()
    subject = mp.encoded_word.encode("Réunion: café et Größe — ordre du jour")
    name = mp.encoded_word.encode("Zoë Ålander")
    return (
        headers().replace("Subject: Lunch on Thursday?", f"Subject: {subject}")
        + f"Reply-To: {name} <zoe@example.se>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/alternative; boundary="alt"\r\n\r\n'
        "--alt\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Transfer-Encoding: quoted-printable\r\n\r\n{qp_text}\r\n"
        "--alt\r\nContent-Type: text/html; charset=utf-8\r\n"
        f"Content-Transfer-Encoding: quoted-printable\r\n\r\n{qp_html}\r\n"
        "--alt--\r\n"
    ).encode()


def with_attachments() -> bytes:
    rng = random.Random(1)
    parts = [
        headers(),
        "MIME-Version: 1.0\r\n",
        'Content-Type: multipart/mixed; boundary="mixed"\r\n\r\n',
        "--mixed\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nReport attached.\r\n",
    ]
    for name, size in (("report.pdf", 512 * 1024), ("photo.jpg", 250 * 1024)):
        blob = rng.randbytes(size)
        encoded = base64.encodebytes(blob).decode().replace("\n", "\r\n")
        parts.append(
            f"--mixed\r\nContent-Type: application/octet-stream; name={name}\r\n"
            f"Content-Disposition: attachment; filename={name}\r\n"
            f"Content-Transfer-Encoding: base64\r\n\r\n{encoded}"
        )
    parts.append("--mixed--\r\n")
    return "".join(parts).encode()


def many_received() -> bytes:
    return (headers(received=30) + "\r\nTraced body.\r\n").encode()


def nested() -> bytes:
    inner = html_text()
    for level in range(3):
        inner = (
            headers().replace("Lunch on Thursday?", f"Fwd: level {level}").encode()
            + b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="n%d"\r\n\r\n' % level
            + b"--n%d\r\nContent-Type: text/plain\r\n\r\nForwarded.\r\n" % level
            + b"--n%d\r\nContent-Type: message/rfc822\r\n\r\n" % level
            + inner
            + b"\r\n--n%d--\r\n" % level
        )
    return inner


def batch(fn: Callable[[bytes], None], items: list[bytes]) -> Callable[[], None]:
    def run() -> None:
        for data in items:
            fn(data)

    return run


def cases() -> list[Case]:
    sets = [
        ("CPython test_email corpus", cpython_corpus()),
        ("small message", [small()]),
        ("HTML+text, RFC 2047 headers", [html_text()]),
        ("1 MiB with attachments", [with_attachments()]),
        ("30 Received headers", [many_received()]),
        ("nested message/rfc822, 3 deep", [nested()]),
    ]
    result: list[Case] = []
    for label, items in sets:
        if not items:
            continue
        size = sum(len(x) for x in items)
        name = f"{label} ({len(items)} msg, {size / 1024:,.0f} KiB)"
        result.append(
            Case(
                "parse",
                name,
                batch(ours, items),
                batch(stdlib, items),
                "email (policy.default)",
                50,
                size,
                "msg",
                len(items),
            )
        )
        if fmp is not None:
            result.append(
                Case(
                    "parse",
                    name,
                    batch(ours, items),
                    batch(fast, items),
                    "fast-mail-parser",
                    1,
                    size,
                    "msg",
                    len(items),
                )
            )
    threads = min(2, os.cpu_count() or 1)
    # The case (small messages, target 1.6x: the time to have the messages), the
    # same including freeing them afterwards (serial, under the GIL, on either side), and
    # one where each message carries more work than its Python object.
    for label, base, target, exclude_free in (
        ("small messages", small(), 1.6, True),
        ("small messages, freed after", small(), None, False),
        ("HTML+text messages (15 KiB)", html_text(), None, True),
    ):
        items = [base.replace(b"Lunch", b"Lunch %d" % i) for i in range(10_000)]
        result.append(
            Case(
                "parse_many",
                f"10,000 {label}, {threads} threads vs a parse() loop",
                lambda items=items: mp.parse_many(items, threads=threads),
                lambda items=items: [mp.Message.parse(x) for x in items],
                "Message.parse loop",
                target,
                sum(len(x) for x in items),
                "msg",
                len(items),
                exclude_free=exclude_free,
            )
        )
    return result
