"""mailprims: every Internet-mail primitive for Python, on a Rust core.

Codecs: :mod:`mailprims.base64`, :mod:`mailprims.quoted_printable`,
:mod:`mailprims.encoded_word` (RFC 2047) and :mod:`mailprims.params` (RFC 2231).

Messages: :class:`Message` (``Message.parse``, ``Message.parse_file``), :func:`parse_many`,
and the values they hold: :class:`Part`, :class:`Headers`, :class:`Header`,
:class:`Address`, :class:`ContentType`, :class:`Received`, :class:`Defect`.
"""

from __future__ import annotations

from mailprims import base64, encoded_word, params, quoted_printable
from mailprims._mailprims import (
    Address,
    ContentType,
    Defect,
    Header,
    Headers,
    Message,
    Part,
    Received,
    __version__,
    parse_many,
)
from mailprims.exceptions import (
    AddressError,
    CodecError,
    MailConnectionError,
    MailError,
    MailTimeoutError,
    ParseError,
    Pop3Error,
    ProtocolError,
    SmtpError,
    SmtpPermanentError,
    SmtpRecipientsRefused,
    SmtpTemporaryError,
)

__all__ = [
    "Address",
    "AddressError",
    "CodecError",
    "ContentType",
    "Defect",
    "Header",
    "Headers",
    "MailConnectionError",
    "MailError",
    "MailTimeoutError",
    "Message",
    "ParseError",
    "Part",
    "Pop3Error",
    "ProtocolError",
    "Received",
    "SmtpError",
    "SmtpPermanentError",
    "SmtpRecipientsRefused",
    "SmtpTemporaryError",
    "__version__",
    "base64",
    "encoded_word",
    "params",
    "parse_many",
    "quoted_printable",
]
