"""mailprims: every Internet-mail primitive for Python, on a Rust core.

Codecs: :mod:`mailprims.base64`, :mod:`mailprims.quoted_printable`,
:mod:`mailprims.encoded_word` (RFC 2047) and :mod:`mailprims.params` (RFC 2231).
Storage (:mod:`mailprims.store`): :class:`Maildir`, :class:`Mbox`, :class:`MaildirStore`,
:class:`Users`.
"""

from __future__ import annotations

from mailprims import base64, encoded_word, params, quoted_printable, smtp, tls
from mailprims._mailprims import __version__
from mailprims.exceptions import (
    AccountError,
    AddressError,
    CodecError,
    ConfigError,
    DnsError,
    MailboxLockedError,
    MailConnectionError,
    MailError,
    MailTimeoutError,
    MessageNotFoundError,
    ParseError,
    Pop3Error,
    ProtocolError,
    SmtpError,
    SmtpNotSupportedError,
    SmtpPermanentError,
    SmtpRecipientsRefused,
    SmtpTemporaryError,
    StoreError,
    TlsError,
    UsersFileError,
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
from mailprims.store import Maildir, MaildirEntry, MaildirStore, MaildropLock, Mbox, Users

__all__ = [
    "AccountError",
    "AddressError",
    "AsyncSmtpClient",
    "CodecError",
    "ConfigError",
    "DnsError",
    "MailConnectionError",
    "MailError",
    "MailTimeoutError",
    "MailboxLockedError",
    "Maildir",
    "MaildirEntry",
    "MaildirStore",
    "MaildropLock",
    "Mbox",
    "MessageNotFoundError",
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
    "StoreError",
    "TlsError",
    "Users",
    "UsersFileError",
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
