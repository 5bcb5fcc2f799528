"""mailprims: every Internet-mail primitive for Python, on a Rust core.

Codecs: :mod:`mailprims.base64`, :mod:`mailprims.quoted_printable`,
:mod:`mailprims.encoded_word` (RFC 2047) and :mod:`mailprims.params` (RFC 2231).
"""

from __future__ import annotations

from mailprims import base64, encoded_word, params, quoted_printable, smtp_server, tls
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
from mailprims.smtp_server import Envelope, Session, Sink, SmtpServer

__all__ = [
    "AddressError",
    "CodecError",
    "ConfigError",
    "Envelope",
    "MailConnectionError",
    "MailError",
    "MailTimeoutError",
    "ParseError",
    "Pop3Error",
    "ProtocolError",
    "Session",
    "Sink",
    "SmtpError",
    "SmtpPermanentError",
    "SmtpRecipientsRefused",
    "SmtpServer",
    "SmtpTemporaryError",
    "TlsError",
    "__version__",
    "base64",
    "encoded_word",
    "params",
    "quoted_printable",
    "smtp_server",
    "tls",
]
