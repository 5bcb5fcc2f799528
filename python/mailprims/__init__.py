"""mailprims: every Internet-mail primitive for Python, on a Rust core.

Codecs: :mod:`mailprims.base64`, :mod:`mailprims.quoted_printable`,
:mod:`mailprims.encoded_word` (RFC 2047) and :mod:`mailprims.params` (RFC 2231).
Storage (:mod:`mailprims.store`): :class:`Maildir`, :class:`Mbox`, :class:`MaildirStore`,
:class:`Users`.
"""

from __future__ import annotations

from mailprims import base64, encoded_word, params, quoted_printable, smtp_server, tls
from mailprims._mailprims import __version__
from mailprims.exceptions import (
    AccountError,
    AddressError,
    CodecError,
    ConfigError,
    MailboxLockedError,
    MailConnectionError,
    MailError,
    MailTimeoutError,
    MessageNotFoundError,
    ParseError,
    Pop3Error,
    ProtocolError,
    SmtpError,
    SmtpPermanentError,
    SmtpRecipientsRefused,
    SmtpTemporaryError,
    StoreError,
    TlsError,
    UsersFileError,
)
from mailprims.smtp_server import Envelope, Session, Sink, SmtpServer
from mailprims.store import Maildir, MaildirEntry, MaildirStore, MaildropLock, Mbox, Users

__all__ = [
    "AccountError",
    "AddressError",
    "CodecError",
    "ConfigError",
    "Envelope",
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
    "StoreError",
    "TlsError",
    "Users",
    "UsersFileError",
    "__version__",
    "base64",
    "encoded_word",
    "params",
    "quoted_printable",
    "smtp_server",
    "tls",
]
