"""mailprims: every Internet-mail primitive for Python, on a Rust core.

Codecs: :mod:`mailprims.base64`, :mod:`mailprims.quoted_printable`,
:mod:`mailprims.encoded_word` (RFC 2047) and :mod:`mailprims.params` (RFC 2231).
"""

from __future__ import annotations

from mailprims import base64, encoded_word, params, quoted_printable, tls
from mailprims._mailprims import __version__
from mailprims.exceptions import (
    AddressError,
    CodecError,
    ConfigError,
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
    TlsError,
)
from mailprims.pop3 import AsyncPop3Client, Pop3Client

__all__ = [
    "AddressError",
    "AsyncPop3Client",
    "CodecError",
    "ConfigError",
    "MailConnectionError",
    "MailError",
    "MailTimeoutError",
    "ParseError",
    "Pop3Client",
    "Pop3Error",
    "ProtocolError",
    "SmtpError",
    "SmtpPermanentError",
    "SmtpRecipientsRefused",
    "SmtpTemporaryError",
    "TlsError",
    "__version__",
    "base64",
    "encoded_word",
    "params",
    "quoted_printable",
    "tls",
]
