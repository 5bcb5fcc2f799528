"""mailprims: every Internet-mail primitive for Python, on a Rust core.

Codecs: :mod:`mailprims.base64`, :mod:`mailprims.quoted_printable`,
:mod:`mailprims.encoded_word` (RFC 2047) and :mod:`mailprims.params` (RFC 2231).
Storage (:mod:`mailprims.store`): :class:`Maildir`, :class:`Mbox`, :class:`MaildirStore`,
:class:`Users`.

Messages: :class:`Message` (``Message.parse``, ``Message.parse_file``), :func:`parse_many`,
and the values they hold: :class:`Part`, :class:`Headers`, :class:`Header`,
:class:`Address`, :class:`ContentType`, :class:`Received`, :class:`Defect`.

POP3 (:mod:`mailprims.pop3`): :class:`Pop3Client`, :class:`AsyncPop3Client`, :class:`Pop3Server`.
"""

from __future__ import annotations

from mailprims import base64, encoded_word, events, params, quoted_printable, smtp, smtp_server, tls
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
from mailprims.events import ServerEvent
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
from mailprims.pop3 import AsyncPop3Client, Pop3Client, Pop3Server
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
from mailprims.smtp_server import Envelope, Session, Sink, SmtpServer
from mailprims.store import Maildir, MaildirEntry, MaildirStore, MaildropLock, Mbox, Users

__all__ = [
    "AccountError",
    "Address",
    "AddressError",
    "AsyncPop3Client",
    "AsyncSmtpClient",
    "CodecError",
    "ConfigError",
    "ContentType",
    "Defect",
    "DnsError",
    "Envelope",
    "Header",
    "Headers",
    "MailConnectionError",
    "MailError",
    "MailTimeoutError",
    "MailboxLockedError",
    "Maildir",
    "MaildirEntry",
    "MaildirStore",
    "MaildropLock",
    "Mbox",
    "Message",
    "MessageNotFoundError",
    "MxRecord",
    "ParseError",
    "Part",
    "Pop3Client",
    "Pop3Error",
    "Pop3Server",
    "ProtocolError",
    "Received",
    "SendResult",
    "ServerEvent",
    "Session",
    "Sink",
    "SmtpClient",
    "SmtpError",
    "SmtpNotSupportedError",
    "SmtpPermanentError",
    "SmtpRecipientsRefused",
    "SmtpReply",
    "SmtpServer",
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
    "events",
    "params",
    "parse_many",
    "quoted_printable",
    "resolve_mx",
    "smtp",
    "smtp_server",
    "tls",
]
