"""mailprims: every Internet-mail primitive for Python, on a Rust core.

Codecs: :mod:`mailprims.base64`, :mod:`mailprims.quoted_printable`,
:mod:`mailprims.encoded_word` (RFC 2047) and :mod:`mailprims.params` (RFC 2231).
"""

from __future__ import annotations

from mailprims import base64, encoded_word, params, quoted_printable, smtp, tls
from mailprims._mailprims import __version__
from mailprims.exceptions import (
    AddressError,
    CodecError,
    ConfigError,
    DnsError,
    MailConnectionError,
    MailError,
    MailTimeoutError,
    ParseError,
    Pop3Error,
    ProtocolError,
    SmtpError,
    SmtpNotSupportedError,
    SmtpPermanentError,
    SmtpRecipientsRefused,
    SmtpTemporaryError,
    TlsError,
)
from mailprims.smtp import (
    AsyncSmtpClient,
    MxRecord,
    SendResult,
    SmtpClient,
    SmtpReply,
    deliver,
    deliver_async,
    resolve_mx,
)

__all__ = [
    "AddressError",
    "AsyncSmtpClient",
    "CodecError",
    "ConfigError",
    "DnsError",
    "MailConnectionError",
    "MailError",
    "MailTimeoutError",
    "MxRecord",
    "ParseError",
    "Pop3Error",
    "ProtocolError",
    "SendResult",
    "SmtpClient",
    "SmtpError",
    "SmtpNotSupportedError",
    "SmtpPermanentError",
    "SmtpRecipientsRefused",
    "SmtpReply",
    "SmtpTemporaryError",
    "TlsError",
    "__version__",
    "base64",
    "deliver",
    "deliver_async",
    "encoded_word",
    "params",
    "quoted_printable",
    "resolve_mx",
    "smtp",
    "tls",
]
