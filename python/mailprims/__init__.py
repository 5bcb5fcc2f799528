"""mailprims: every Internet-mail primitive for Python, on a Rust core.

Codecs: :mod:`mailprims.base64`, :mod:`mailprims.quoted_printable`,
:mod:`mailprims.encoded_word` (RFC 2047) and :mod:`mailprims.params` (RFC 2231).
Storage (:mod:`mailprims.store`): :class:`Maildir`, :class:`Mbox`, :class:`MaildirStore`,
:class:`Users`.

Messages: :class:`Message` (``Message.parse``, ``Message.parse_file``), :func:`parse_many`,
and the values they hold: :class:`Part`, :class:`Headers`, :class:`Header`,
:class:`Address`, :class:`ContentType`, :class:`Received`, :class:`Defect`.

POP3 (:mod:`mailprims.pop3`): :class:`Pop3Client`, :class:`AsyncPop3Client`, :class:`Pop3Server`.
IMAP (:mod:`mailprims.imap_server`): :class:`ImapServer` over the same Maildir store.
The IMAP client (:mod:`mailprims.imap`): :class:`ImapClient`, :class:`AsyncImapClient`.
Exploring headers: ``msg.trace()`` (:mod:`mailprims.trace`), the authentication and list
fields (:mod:`mailprims.fields`), :func:`to_dataframe` for a mailbox, and rich HTML in
Jupyter. The command line: ``python -m mailprims parse|trace FILE``.
Building and editing: ``Message.build``, :class:`MessageBuilder`, :class:`Attachment`,
``msg.reply()``, ``msg.forward()``, and ``msg.edit()`` (a :class:`MessageEditor`).
Archives at scale (:mod:`mailprims.archive`): ``read`` into pyarrow, ``read_batches``,
``load``, ``to_dask``.
E-mail authentication (:mod:`mailprims.auth`): DKIM keys, signing and verification, ARC,
SPF, DMARC, ``msg.verify()``.
The web inbox (:mod:`mailprims.web`): :class:`WebInbox` and its API client
:class:`WebInboxClient`.
"""

from __future__ import annotations

# `import mailprims` loads the extension, the exceptions and the codecs at once; every other
# name loads on first use (PEP 562 `__getattr__` below), so that asyncio, ssl, email, logging
# and pandas cost nothing until a server, a client or a DataFrame is asked for (issue 14).
import sys

from mailprims import base64, encoded_word, params, quoted_printable
from mailprims._mailprims import (
    Address,
    Attachment,
    ContentType,
    Defect,
    Header,
    Headers,
    Message,
    MessageBuilder,
    MessageEditor,
    Part,
    Received,
    __version__,
    parse_many,
)
from mailprims.exceptions import (
    AccountError,
    AddressError,
    AuthError,
    CodecError,
    ConfigError,
    DnsError,
    ImapError,
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

# What type checkers and editors see (they read `TYPE_CHECKING = False` as True); at run time
# `__getattr__` imports these. Not `typing.TYPE_CHECKING`: typing itself costs milliseconds.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from mailprims import (
        archive,
        auth,
        events,
        fields,
        imap,
        imap_server,
        pop3,
        smtp,
        smtp_server,
        tls,
        trace,
        web,
    )
    from mailprims._dataframe import to_dataframe
    from mailprims.events import ServerEvent
    from mailprims.fields import (
        ArcSeal,
        ArcSet,
        AuthenticationResults,
        AuthResult,
        DkimSignature,
        ListInfo,
    )
    from mailprims.imap import AsyncImapClient, ImapClient
    from mailprims.imap_server import ImapServer
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
    from mailprims.trace import Hop, Trace
    from mailprims.web import InboxMessage, MessagePage, WebInbox, WebInboxClient, WebInboxError

# Submodules loaded on first use.
_LAZY_MODULES = frozenset(
    {
        "archive",
        "auth",
        "events",
        "fields",
        "imap",
        "imap_server",
        "pop3",
        "smtp",
        "smtp_server",
        "store",
        "tls",
        "trace",
        "web",
    }
)

# Names loaded on first use, and the submodule that defines each.
_LAZY_NAMES = {
    "to_dataframe": "_dataframe",
    "ServerEvent": "events",
    **dict.fromkeys(
        ["ArcSeal", "ArcSet", "AuthenticationResults", "AuthResult", "DkimSignature", "ListInfo"],
        "fields",
    ),
    "AsyncImapClient": "imap",
    "ImapClient": "imap",
    "ImapServer": "imap_server",
    "AsyncPop3Client": "pop3",
    "Pop3Client": "pop3",
    "Pop3Server": "pop3",
    **dict.fromkeys(
        [
            "AsyncSmtpClient",
            "MxRecord",
            "SendResult",
            "SmtpClient",
            "SmtpReply",
            "deliver",
            "deliver_async",
            "resolve_mx",
        ],
        "smtp",
    ),
    **dict.fromkeys(["Envelope", "Session", "Sink", "SmtpServer"], "smtp_server"),
    **dict.fromkeys(
        ["Maildir", "MaildirEntry", "MaildirStore", "MaildropLock", "Mbox", "Users"], "store"
    ),
    "Hop": "trace",
    "Trace": "trace",
    **dict.fromkeys(
        ["InboxMessage", "MessagePage", "WebInbox", "WebInboxClient", "WebInboxError"], "web"
    ),
}


# Hidden from type checkers, which would otherwise take any `mailprims.<typo>` for Any.
if not TYPE_CHECKING:

    def __getattr__(name: str) -> Any:
        if name in _LAZY_MODULES:
            module = f"mailprims.{name}"
        elif name in _LAZY_NAMES:
            module = f"mailprims.{_LAZY_NAMES[name]}"
        else:
            raise AttributeError(f"module 'mailprims' has no attribute {name!r}")
        __import__(module)
        value: Any = sys.modules[module]
        if name in _LAZY_NAMES:
            value = getattr(value, name)
        globals()[name] = value  # later lookups skip this function
        return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "AccountError",
    "Address",
    "AddressError",
    "ArcSeal",
    "ArcSet",
    "AsyncImapClient",
    "AsyncPop3Client",
    "AsyncSmtpClient",
    "Attachment",
    "AuthError",
    "AuthResult",
    "AuthenticationResults",
    "CodecError",
    "ConfigError",
    "ContentType",
    "Defect",
    "DkimSignature",
    "DnsError",
    "Envelope",
    "Header",
    "Headers",
    "Hop",
    "ImapClient",
    "ImapError",
    "ImapServer",
    "InboxMessage",
    "ListInfo",
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
    "MessageBuilder",
    "MessageEditor",
    "MessageNotFoundError",
    "MessagePage",
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
    "Trace",
    "Users",
    "UsersFileError",
    "WebInbox",
    "WebInboxClient",
    "WebInboxError",
    "__version__",
    "archive",
    "auth",
    "base64",
    "deliver",
    "deliver_async",
    "encoded_word",
    "events",
    "fields",
    "imap",
    "imap_server",
    "params",
    "parse_many",
    "pop3",
    "quoted_printable",
    "resolve_mx",
    "smtp",
    "smtp_server",
    "tls",
    "to_dataframe",
    "trace",
    "web",
]
