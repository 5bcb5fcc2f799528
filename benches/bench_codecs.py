"""Codecs against the stdlib: Base64 on random data, quoted-printable on mail-like text."""

from __future__ import annotations

import base64 as std_base64
import binascii
import os
import random

from harness import Case
from mailprims import base64, quoted_printable

MIB = 1 << 20


def mail_text(size: int, seed: int = 5322) -> bytes:
    """What quoted-printable carries in real mail: half HTML newsletter markup (``=`` in every
    attribute), half plain prose with some accented words, CRLF lines of varied length."""
    rng = random.Random(seed)
    prose = (
        "the quick brown fox jumps over the lazy dog while the mail server queues each "
        "message and its header for delivery to the next hop; meanwhile a réunion at the "
        "café about Größe and naïve façade design déjà-vu went on"
    ).split()
    html = [
        '<td style="padding: 0 12px; font-family: Arial, sans-serif; color: #333333;">',
        '<a href="https://example.com/track?id=12345&amp;utm_source=newsletter">Read more</a>',
        '<img src="https://cdn.example.com/logo.png" width="120" height="40" alt="Logo">',
        "</td></tr><tr>",
        "<p>Thanks for subscribing — here is this week's summary.</p>",
    ]
    out: list[str] = []
    n = 0
    while n < size:
        if rng.random() < 0.5:
            line = " ".join(rng.choice(html) for _ in range(rng.randint(1, 3)))
        else:
            line = " ".join(rng.choice(prose) for _ in range(rng.randint(3, 18)))
        out.append(line)
        n += len(line.encode()) + 2
    return ("\r\n".join(out)).encode()[:size]


def cases() -> list[Case]:
    result: list[Case] = []
    for label, size in (("1 MiB", MIB), ("64 MiB", 64 * MIB)):
        data = os.urandom(size)
        mime = base64.encode(data)
        flat = std_base64.b64encode(data)
        result += [
            Case(
                "base64",
                f"MIME encode (76-char lines), {label}",
                lambda d=data: base64.encode(d),
                lambda d=data: std_base64.encodebytes(d),
                "base64.encodebytes",
                5,
                size,
            ),
            Case(
                "base64",
                f"encode, no wrapping, {label}",
                lambda d=data: base64.encode(d, wrap=None),
                lambda d=data: binascii.b2a_base64(d, newline=False),
                "binascii.b2a_base64",
                2,
                size,
            ),
            Case(
                "base64",
                f"decode, one line, {label}",
                lambda e=flat: base64.decode(e),
                lambda e=flat: binascii.a2b_base64(e),
                "binascii.a2b_base64",
                2,
                size,
            ),
            Case(
                "base64",
                f"decode, MIME lines, {label}",
                lambda e=mime: base64.decode(e),
                lambda e=mime: binascii.a2b_base64(e),
                "binascii.a2b_base64",
                2,
                size,
            ),
        ]
        text = mail_text(size)
        qp = quoted_printable.encode(text)
        result += [
            Case(
                "quoted-printable",
                f"encode mail text, {label}",
                lambda t=text: quoted_printable.encode(t),
                lambda t=text: binascii.b2a_qp(t),
                "binascii.b2a_qp",
                3,
                size,
            ),
            Case(
                "quoted-printable",
                f"decode mail text, {label}",
                lambda q=qp: quoted_printable.decode(q),
                lambda q=qp: binascii.a2b_qp(q),
                "binascii.a2b_qp",
                1,
                size,
            ),
        ]
    return result
