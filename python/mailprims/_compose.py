"""The one place the demo and ``mailprims send`` build a MIME message: a thin layer over
:meth:`mailprims.Message.build` that the two share."""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence

from mailprims._mailprims import Attachment as _Attachment
from mailprims._mailprims import Message

__all__ = ["Attachment", "compose", "guess_type"]

#: ``(filename, data, content_type)``
Attachment = tuple[str, bytes, str]


def guess_type(filename: str) -> str:
    """The MIME type for a file name (``application/octet-stream`` when unknown)."""
    guessed, encoding = mimetypes.guess_type(filename)
    if guessed is None or encoding is not None:
        return "application/octet-stream"
    return guessed


def compose(
    *,
    from_: str,
    to: Sequence[str],
    cc: Sequence[str] = (),
    subject: str,
    text: str,
    html: str | None = None,
    attachments: Sequence[Attachment] = (),
) -> bytes:
    """A complete 7-bit message: text (and an HTML alternative), then attachments.
    ``Message.build`` adds Date and a Message-ID at the sender's domain, encodes non-ASCII
    header text as RFC 2047 words and file names as RFC 2231 parameters, and picks
    quoted-printable or Base64 for each body."""
    msg = Message.build(
        from_=from_,
        to=list(to),
        cc=list(cc),
        subject=subject,
        text=text,
        html=html,
        attachments=[_Attachment(name, data, ctype) for name, data, ctype in attachments],
    )
    return msg.as_bytes()
