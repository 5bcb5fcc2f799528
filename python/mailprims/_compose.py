"""The one place the demo and ``mailprims send`` build a MIME message."""

from __future__ import annotations

import email.message
import email.policy
import email.utils
import mimetypes
from collections.abc import Sequence

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
    domain: str | None = None,
) -> bytes:
    """A complete message: text (and an HTML alternative), then attachments, with Date and
    Message-ID (at ``domain``); non-ASCII header text is encoded as RFC 2047 words and file
    names as RFC 2231 parameters, bodies as quoted-printable or Base64."""
    msg = email.message.EmailMessage()
    msg["From"] = from_
    msg["To"] = ", ".join(to)
    if cc:
        msg["Cc"] = ", ".join(cc)
    msg["Subject"] = subject
    msg["Date"] = email.utils.formatdate(localtime=True)
    msg["Message-ID"] = email.utils.make_msgid(domain=domain)
    # Quoted-printable keeps mostly-ASCII text readable and 7-bit (RFC 2045 §6.7).
    msg.set_content(text, cte="quoted-printable")
    if html is not None:
        msg.add_alternative(html, subtype="html", cte="quoted-printable")
    for filename, data, content_type in attachments:
        maintype, _, subtype = content_type.partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes(policy=email.policy.SMTP)
