"""The IMAP client (RFC 9051 IMAP4rev2, RFC 3501 IMAP4rev1 servers), sync and asyncio.

:class:`ImapClient` and :class:`AsyncImapClient` drive one Rust core on tokio, as the SMTP
and POP3 clients do. They speak TLS (implicit on port 993, or STARTTLS), LOGIN, AUTHENTICATE
PLAIN and XOAUTH2 (with SASL-IR), ID, ENABLE (UTF8=ACCEPT, IMAP4rev2 and CONDSTORE are enabled
after login when offered), and every mailbox and message command, always by UID. Mailbox
names are ``str``: modified UTF-7 (RFC 3501 §5.1.3) is the client's business.

Responses come back as the classes of this module (:class:`MailboxStatus`,
:class:`FetchResult`, :class:`BodyStructure`, ...), not nested tuples; whole messages as
:class:`~mailprims.Message`, parsed from the literal without a copy. Server refusals raise
:class:`~mailprims.ImapError` with the ``status`` (``"NO"``, ``"BAD"``, ``"BYE"``), the
response ``code`` (``"TRYCREATE"``, ``"AUTHENTICATIONFAILED"``, ...) and the server's ``text``.
"""

from __future__ import annotations

import builtins
import contextlib
import dataclasses
import datetime
import os
import types
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from typing import Any, Literal, TypeAlias, TypeVar

from mailprims import _client, _mailprims
from mailprims._mailprims import Message
from mailprims.exceptions import MailError

__all__ = [
    "AppendResult",
    "AsyncImapClient",
    "BodyStructure",
    "CopyResult",
    "FetchResult",
    "IdleEvent",
    "ImapAddress",
    "ImapClient",
    "ImapEnvelope",
    "Mailbox",
    "MailboxStatus",
    "Namespace",
    "Namespaces",
    "Search",
    "StatusResult",
    "StoreResult",
]

_TlsMode: TypeAlias = Literal["auto", "starttls", "implicit", "none"]
_T = TypeVar("_T")
_LoginMethod: TypeAlias = Literal["auto", "login", "plain"]
#: UIDs: one, several, or a sequence set as IMAP writes it (``"1:*"``, ``"4,7:9"``).
Uids: TypeAlias = "int | Iterable[int] | str"

# ---- values -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class MailboxStatus:
    """What SELECT or EXAMINE found (RFC 9051 §6.3.2)."""

    name: str
    #: EXAMINE, or a server that allows only reading.
    read_only: bool
    #: How many messages the mailbox holds.
    exists: int
    #: RECENT (IMAP4rev1 servers only).
    recent: int | None
    #: The first unseen message's sequence number (IMAP4rev1 ``[UNSEEN n]``).
    unseen: int | None
    uid_validity: int | None
    uid_next: int | None
    #: Flags defined in the mailbox.
    flags: list[str]
    #: Flags the client can change for good; ``\\*``: new keywords may be created.
    permanent_flags: list[str]
    #: CONDSTORE (RFC 7162).
    highest_modseq: int | None
    #: ``[NOMODSEQ]``: the mailbox keeps no mod-sequences.
    no_modseq: bool


@dataclasses.dataclass(frozen=True, kw_only=True)
class StatusResult:
    """The items of a STATUS response (those the server sent; the others are None)."""

    mailbox: str
    messages: int | None
    recent: int | None
    uid_next: int | None
    uid_validity: int | None
    unseen: int | None
    deleted: int | None
    size: int | None
    highest_modseq: int | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class Mailbox:
    """A mailbox from LIST."""

    name: str
    #: The hierarchy separator (``"/"``, ``"."``), None for a flat namespace.
    delimiter: str | None
    #: Name attributes as sent (``\\HasNoChildren``, ``\\Noselect``, ``\\Sent``, ...).
    attributes: list[str]
    #: The RFC 6154 special use (``\\Sent``, ``\\Trash``, ``\\Drafts``, ``\\Junk``,
    #: ``\\Archive``, ``\\All``, ``\\Flagged``), if any.
    special_use: str | None
    #: Whether it can be selected (not ``\\Noselect``).
    selectable: bool
    #: With ``list(status=True)``: its STATUS.
    status: StatusResult | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class Namespace:
    """One namespace (RFC 2342): a prefix and its hierarchy separator."""

    prefix: str
    delimiter: str | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class Namespaces:
    """The NAMESPACE response: personal, other users' and shared namespaces."""

    personal: list[Namespace]
    other_users: list[Namespace]
    shared: list[Namespace]


@dataclasses.dataclass(frozen=True, kw_only=True)
class ImapAddress:
    """One address of an ENVELOPE. A group is an address with ``host`` None and ``mailbox``
    the group's name, its members, then an address with ``mailbox`` None too."""

    #: The display name, RFC 2047 encoded words decoded.
    name: str | None
    #: The obsolete source route (almost always None).
    route: str | None
    mailbox: str | None
    host: str | None

    @property
    def email(self) -> str | None:
        """``mailbox@host``, or None for a group marker."""
        if self.mailbox is None or self.host is None:
            return None
        return f"{self.mailbox}@{self.host}"


@dataclasses.dataclass(frozen=True, kw_only=True)
class ImapEnvelope:
    """A message's main header fields as the server parsed them (FETCH ENVELOPE)."""

    #: The Date: field as written.
    date: str | None
    #: RFC 2047 encoded words decoded.
    subject: str | None
    from_: list[ImapAddress]
    sender: list[ImapAddress]
    reply_to: list[ImapAddress]
    to: list[ImapAddress]
    cc: list[ImapAddress]
    bcc: list[ImapAddress]
    in_reply_to: str | None
    message_id: str | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class BodyStructure:
    """A message's (or part's) MIME structure as the server gives it (FETCH BODYSTRUCTURE).

    ``kind`` is ``"multipart"`` (see ``parts``), ``"message"`` (an encapsulated message:
    ``envelope`` and ``body``), ``"text"`` (with ``lines``) or ``"basic"``.
    """

    kind: Literal["basic", "text", "message", "multipart"]
    #: Lower case: ``"text"``, ``"multipart"``...
    media_type: str
    subtype: str
    #: Content-Type parameters, names in lower case.
    params: dict[str, str]
    id: str | None
    description: str | None
    #: Content-Transfer-Encoding as sent.
    encoding: str | None
    #: Size in octets, as encoded.
    size: int | None
    lines: int | None
    envelope: ImapEnvelope | None
    body: BodyStructure | None
    parts: list[BodyStructure]
    md5: str | None
    #: ``"attachment"``, ``"inline"``...
    disposition: str | None
    disposition_params: dict[str, str]
    language: list[str]
    location: str | None
    #: Extension data after the location, as generic values.
    extension: list[Any]

    @property
    def mime_type(self) -> str:
        """``"type/subtype"``."""
        return f"{self.media_type}/{self.subtype}"

    @property
    def filename(self) -> str | None:
        """The disposition's ``filename``, else the Content-Type's ``name``."""
        return self.disposition_params.get("filename") or self.params.get("name")

    def sections(self) -> list[tuple[str, BodyStructure]]:
        """Every part with its section number for ``BODY[...]`` (``"1"``, ``"2.1"``...), in
        order (RFC 9051 §6.4.5)."""
        out: list[tuple[str, BodyStructure]] = []

        def walk(part: BodyStructure, number: str) -> None:
            out.append((number, part))
            if part.kind == "multipart":
                children(part, number)
            elif part.kind == "message" and part.body is not None:
                if part.body.kind == "multipart":
                    children(part.body, number)
                else:
                    walk(part.body, f"{number}.1")

        def children(multipart: BodyStructure, prefix: str) -> None:
            for i, child in enumerate(multipart.parts, 1):
                walk(child, f"{prefix}.{i}" if prefix else str(i))

        if self.kind == "multipart":
            children(self, "")
        else:
            walk(self, "1")
        return out


@dataclasses.dataclass(frozen=True, kw_only=True)
class FetchResult:
    """One message's items from UID FETCH (None for items not asked for)."""

    uid: int
    #: Its message sequence number.
    seq: int
    flags: list[str] | None
    #: INTERNALDATE, with the server's UTC offset.
    internal_date: datetime.datetime | None
    #: RFC822.SIZE.
    size: int | None
    envelope: ImapEnvelope | None
    body_structure: BodyStructure | None
    #: MODSEQ (CONDSTORE).
    modseq: int | None
    #: Body sections by name as the server answers them: ``"BODY[]"``, ``"BODY[HEADER]"``,
    #: ``"BODY[1.MIME]"``, ``"BODY[TEXT]<0>"`` (a partial fetch), ``"BINARY[1]"``; None when
    #: the server has no such section.
    sections: dict[str, bytes | None]
    #: Items this client does not know (``X-GM-LABELS``, ``EMAILID``...), and BINARY.SIZE.
    other: dict[str, Any]

    def section(self, name: str = "") -> bytes | None:
        """A body section's octets by section name (``""`` the whole message, ``"HEADER"``,
        ``"1.2"``...), without origin; None if not fetched."""
        want = name.upper()
        for key, data in self.sections.items():
            inner = key[key.index("[") + 1 : key.index("]")]
            if inner == want:
                return data
        return None


@dataclasses.dataclass(frozen=True, kw_only=True)
class StoreResult:
    """What STORE did."""

    #: The new flags by UID (empty for a silent STORE, except for others' changes).
    flags: dict[int, list[str]]
    #: With ``unchanged_since``: UIDs not changed because they were modified meanwhile.
    modified: list[int] | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class CopyResult:
    """COPYUID (RFC 4315): the UIDs COPY or MOVE gave the copies."""

    uid_validity: int
    source: list[int]
    destination: list[int]

    @property
    def mapping(self) -> dict[int, int]:
        """Source UID to destination UID."""
        return dict(zip(self.source, self.destination, strict=False))


@dataclasses.dataclass(frozen=True, kw_only=True)
class AppendResult:
    """APPENDUID (RFC 4315): where APPEND put the message."""

    uid_validity: int
    uids: list[int]

    @property
    def uid(self) -> int:
        """The new message's UID."""
        return self.uids[0]


@dataclasses.dataclass(frozen=True, kw_only=True)
class IdleEvent:
    """A change the server reported by itself (during IDLE, or with another command).

    ``kind``: ``"exists"`` (``number`` messages now: one arrived), ``"expunge"`` (message
    ``number`` was removed), ``"recent"``, ``"fetch"`` (message ``number``'s ``flags`` or
    ``modseq`` changed; ``uid`` when the server sent it), ``"vanished"`` (``uids`` removed),
    ``"flags"`` (the mailbox's defined ``flags`` changed).
    """

    kind: str
    number: int | None = None
    uid: int | None = None
    flags: list[str] | None = None
    modseq: int | None = None
    uids: list[int] | None = None


# ---- search criteria ----------------------------------------------------------------------


class Search:
    """SEARCH criteria built without writing IMAP: ``Search.unseen() & Search.from_("ann")``,
    ``Search.subject("x") | Search.flagged()``, ``~Search.seen()``. Strings that are not ASCII
    go out with ``CHARSET UTF-8`` (or as UTF-8 once UTF8=ACCEPT is enabled)."""

    __slots__ = ("_key",)

    def __init__(self, key: tuple[Any, ...]) -> None:
        self._key = key

    def __and__(self, other: Search) -> Search:
        return Search(("AND", [self._key, other._key]))

    def __or__(self, other: Search) -> Search:
        return Search(("OR", self._key, other._key))

    def __invert__(self) -> Search:
        return Search(("NOT", self._key))

    def __repr__(self) -> str:
        return f"Search({self._key!r})"

    @staticmethod
    def all() -> Search:
        """Every message."""
        return Search(("ALL",))

    @staticmethod
    def seen() -> Search:
        """Messages with ``\\Seen``."""
        return Search(("SEEN",))

    @staticmethod
    def unseen() -> Search:
        """Messages without ``\\Seen``."""
        return Search(("UNSEEN",))

    @staticmethod
    def flagged() -> Search:
        """Messages with ``\\Flagged``."""
        return Search(("FLAGGED",))

    @staticmethod
    def answered() -> Search:
        """Messages with ``\\Answered``."""
        return Search(("ANSWERED",))

    @staticmethod
    def deleted() -> Search:
        """Messages with ``\\Deleted``."""
        return Search(("DELETED",))

    @staticmethod
    def draft() -> Search:
        """Messages with ``\\Draft``."""
        return Search(("DRAFT",))

    @staticmethod
    def keyword(flag: str) -> Search:
        """Messages with keyword ``flag``."""
        return Search(("KEYWORD", flag))

    @staticmethod
    def from_(text: str) -> Search:
        """From: contains ``text``."""
        return Search(("FROM", text))

    @staticmethod
    def to(text: str) -> Search:
        """To: contains ``text``."""
        return Search(("TO", text))

    @staticmethod
    def cc(text: str) -> Search:
        """Cc: contains ``text``."""
        return Search(("CC", text))

    @staticmethod
    def subject(text: str) -> Search:
        """Subject: contains ``text``."""
        return Search(("SUBJECT", text))

    @staticmethod
    def body(text: str) -> Search:
        """The body contains ``text``."""
        return Search(("BODY", text))

    @staticmethod
    def text(text: str) -> Search:
        """The header or body contains ``text``."""
        return Search(("TEXT", text))

    @staticmethod
    def header(name: str, text: str = "") -> Search:
        """Header field ``name`` contains ``text`` (``""``: is present)."""
        return Search(("HEADER", name, text))

    @staticmethod
    def since(day: datetime.date) -> Search:
        """Internal date on or after ``day``."""
        return Search(("SINCE", (day.year, day.month, day.day)))

    @staticmethod
    def before(day: datetime.date) -> Search:
        """Internal date before ``day``."""
        return Search(("BEFORE", (day.year, day.month, day.day)))

    @staticmethod
    def on(day: datetime.date) -> Search:
        """Internal date on ``day``."""
        return Search(("ON", (day.year, day.month, day.day)))

    @staticmethod
    def sent_since(day: datetime.date) -> Search:
        """Date: on or after ``day``."""
        return Search(("SENTSINCE", (day.year, day.month, day.day)))

    @staticmethod
    def sent_before(day: datetime.date) -> Search:
        """Date: before ``day``."""
        return Search(("SENTBEFORE", (day.year, day.month, day.day)))

    @staticmethod
    def larger(octets: int) -> Search:
        """Larger than ``octets``."""
        return Search(("LARGER", octets))

    @staticmethod
    def smaller(octets: int) -> Search:
        """Smaller than ``octets``."""
        return Search(("SMALLER", octets))

    @staticmethod
    def uid(uids: Uids) -> Search:
        """Messages with these UIDs."""
        return Search(("UID", _uids(uids)))

    @staticmethod
    def modseq(modseq: int) -> Search:
        """Changed at or after mod-sequence ``modseq`` (CONDSTORE)."""
        return Search(("MODSEQ", modseq))


def _uids(uids: Uids) -> str | builtins.list[int]:
    if isinstance(uids, str):
        return uids
    if isinstance(uids, int):
        return [uids]
    return [int(u) for u in uids]


def _criteria(criteria: str | Search) -> object:
    if isinstance(criteria, Search):
        return criteria._key
    if isinstance(criteria, str):
        return criteria
    raise TypeError(f"search criteria must be a str or a Search, not {type(criteria).__name__}")


def _date(value: datetime.datetime | None) -> tuple[int, int] | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.astimezone()
    offset = value.utcoffset() or datetime.timedelta()
    return int(value.timestamp()), int(offset.total_seconds() // 60)


def _flags(flags: str | Iterable[str]) -> builtins.list[str]:
    return [flags] if isinstance(flags, str) else builtins.list(flags)


def _items(items: str | Iterable[str]) -> builtins.list[str]:
    return [items] if isinstance(items, str) else builtins.list(items)


def _id_fields(
    got: builtins.list[tuple[str, str | None]] | None,
) -> dict[str, str | None] | None:
    return None if got is None else dict(got)


# ---- the clients --------------------------------------------------------------------------

#: Messages a ``fetch_messages`` batch hands over from the core at once.
_STREAM_BATCH = 64


def _drain(batch: builtins.list[_T]) -> Iterator[_T]:
    """The items of ``batch`` in order, each let go of as it is handed over: a message the
    caller does not keep is freed then, not when the whole batch (up to 8 MiB) is done."""
    batch.reverse()
    while batch:
        yield batch.pop()


@dataclasses.dataclass(frozen=True, kw_only=True)
class _ImapOptions(_client.ClientOptions):
    """The IMAP client's own options, beside those every client has."""

    fetch_batch: int


class _ImapBase(_client.SessionClientBase):
    def __init__(
        self,
        host: str,
        port: int | None = None,
        *,
        tls: _TlsMode = "auto",
        cafile: str | os.PathLike[str] | None = None,
        cadata: str | bytes | None = None,
        verify: bool = True,
        tls_hostname: str | None = None,
        allow_insecure_auth: bool = False,
        timeout: float | None = 60.0,
        connect_timeout: float | None = None,
        fetch_batch: int = 128,
        transcript: bool = False,
    ) -> None:
        options = _ImapOptions.of(**_client.arguments(locals()), ports=(143, 993))
        self._start(_mailprims.ImapClientCore, options)

    def _info(self) -> _mailprims.ImapSessionInfo:
        return self._core.info()

    @property
    def state(self) -> str:
        """``"not authenticated"``, ``"authenticated"``, ``"selected"`` or ``"logout"``."""
        return self._info().state or "logout"

    @property
    def authenticated(self) -> bool:
        """Whether the session is logged in."""
        return self.state in ("authenticated", "selected")

    @property
    def selected(self) -> str | None:
        """The selected mailbox's name."""
        return self._info().selected

    @property
    def enabled(self) -> builtins.list[str]:
        """Extensions in force after ENABLE (``"UTF8=ACCEPT"``, ``"CONDSTORE"``...)."""
        return self._info().enabled

    def close(self) -> None:
        """Close the connection without LOGOUT."""
        self._core.close()

    # The core calls whose arguments take more than passing on, written once for both
    # clients: each returns the value (ImapClient) or an awaitable of it (AsyncImapClient).

    def _id(self, fields: dict[str, str | None] | None) -> Any:
        return self._core.id(None if fields is None else builtins.list(fields.items()))

    def _list(self, pattern: str, reference: str, status: bool, items: Sequence[str]) -> Any:
        return self._core.list(reference, pattern, status, builtins.list(items))

    def _fetch(self, uids: Uids, items: str | Iterable[str], changed_since: int | None) -> Any:
        """None for no UIDs (a search that found nothing): no command to send."""
        wanted = _uids(uids)
        return self._core.fetch(wanted, _items(items), changed_since) if wanted else None

    def _get_flags(self, uids: Uids) -> Any:
        """None for no UIDs, as :meth:`_fetch`."""
        wanted = _uids(uids)
        return self._core.get_flags(wanted) if wanted else None

    def _stream(self, uids: Iterable[int], parse: bool) -> Any:
        return self._core.fetch_messages([int(u) for u in uids], parse)

    def _store(
        self,
        uids: Uids,
        flags: str | Iterable[str],
        mode: str,
        silent: bool,
        unchanged_since: int | None,
    ) -> Any:
        return self._core.store(_uids(uids), mode, _flags(flags), silent, unchanged_since)

    def _append(
        self,
        mailbox: str,
        message: bytes | Message,
        flags: str | Iterable[str],
        date: datetime.datetime | None,
    ) -> Any:
        return self._core.append(mailbox, bytes(message), _flags(flags), _date(date))

    def _expunge(self, uids: Uids | None) -> Any:
        return self._core.expunge() if uids is None else self._core.uid_expunge(_uids(uids))

    def __repr__(self) -> str:
        state = self.state if self.connected else "not connected"
        return f"<{type(self).__name__} {self.host}:{self.port} {state}>"


class ImapClient(_ImapBase):
    """A blocking IMAP client over one connection.

    ``tls``: ``"auto"`` (implicit TLS on port 993, otherwise STARTTLS when offered),
    ``"starttls"`` (required: fails with :class:`~mailprims.TlsError` if not offered),
    ``"implicit"`` (port 993 by default), or ``"none"``. Certificates are verified against the
    system's roots, or ``cafile``/``cadata`` (PEM); ``verify=False`` turns verification off.
    Passwords are never sent over an unencrypted connection unless ``allow_insecure_auth=True``.
    ``timeout`` bounds connecting and each read or write (IDLE waits as long as asked).
    ``transcript=True`` records the dialogue (see :attr:`transcript`), credentials redacted.
    ``fetch_batch``: UIDs per UID FETCH of :meth:`fetch_messages`.

    The connection opens on :meth:`connect`, ``with``, or the first login; leaving the ``with``
    block logs out. Every message command works by UID on the selected mailbox.
    """

    _blocking = True

    def connect(self) -> str:
        """Connect (and STARTTLS or TLS as configured); returns the greeting's text."""
        greeting: str = self._core.connect()
        return greeting

    def _ensure_connected(self) -> None:
        if not self.connected:
            self.connect()

    def capabilities(self, *, refresh: bool = False) -> builtins.list[str]:
        """The server's capabilities in upper case (``"IMAP4REV1"``, ``"IDLE"``,
        ``"AUTH=PLAIN"``...): those it announced in this state (they change after STARTTLS and
        login), or asked for afresh with ``refresh=True``."""
        caps: builtins.list[str] = self._core.capabilities(refresh)
        return caps

    def has_capability(self, name: str) -> bool:
        """Whether the server offers ``name`` (any case)."""
        return name.upper() in self.capabilities()

    def starttls(self) -> None:
        """Switch to TLS now (``tls="starttls"`` does this on connecting)."""
        self._core.starttls()

    def login(self, user: str, password: str, *, method: _LoginMethod = "auto") -> None:
        """Log in with a password: AUTHENTICATE PLAIN when the server offers it, else LOGIN
        (``method="login"`` or ``"plain"`` to choose). Capabilities are refreshed and
        UTF8=ACCEPT, IMAP4rev2 and CONDSTORE enabled when offered."""
        self._ensure_connected()
        self._core.login(user, password, method)

    def authenticate(
        self,
        mechanism: Literal["PLAIN", "XOAUTH2"],
        user: str,
        secret: str,
        *,
        authzid: str | None = None,
    ) -> None:
        """AUTHENTICATE with ``PLAIN`` (``secret`` is the password; ``authzid`` to act as
        another user) or ``XOAUTH2`` (``secret`` is the OAuth 2.0 access token)."""
        self._ensure_connected()
        self._core.authenticate(mechanism, user, secret, authzid)

    def id(self, fields: dict[str, str | None] | None = None) -> dict[str, str | None] | None:
        """ID (RFC 2971): send ``fields`` (or nothing), get the server's, if it tells."""
        return _id_fields(self._id(fields))

    def enable(self, *names: str) -> builtins.list[str]:
        """ENABLE extensions (RFC 5161); returns those the server enabled."""
        enabled: builtins.list[str] = self._core.enable(builtins.list(names))
        return enabled

    def noop(self) -> builtins.list[IdleEvent]:
        """NOOP: the changes the server reported since the last command."""
        events: builtins.list[IdleEvent] = self._core.noop()
        return events

    def alerts(self) -> builtins.list[str]:
        """``[ALERT]`` texts the server sent since the last call (show them to the user)."""
        alerts: builtins.list[str] = self._core.take_alerts()
        return alerts

    def logout(self) -> None:
        """LOGOUT and close."""
        self._core.logout()

    # ---- mailboxes ----

    def list(
        self,
        pattern: str = "*",
        reference: str = "",
        *,
        status: bool = False,
        status_items: Sequence[str] = (),
    ) -> builtins.list[Mailbox]:
        """Mailboxes matching ``pattern`` (``*`` any depth, ``%`` one level), with their
        special use when the server tells it; with ``status=True`` each one's STATUS too (in
        the same command with LIST-STATUS)."""
        boxes: builtins.list[Mailbox] = self._list(pattern, reference, status, status_items)
        return boxes

    def list_subscribed(self, pattern: str = "*", reference: str = "") -> builtins.list[Mailbox]:
        """The subscribed mailboxes (LSUB, or LIST (SUBSCRIBED) on IMAP4rev2)."""
        boxes: builtins.list[Mailbox] = self._core.lsub(reference, pattern)
        return boxes

    def namespace(self) -> Namespaces:
        """NAMESPACE (RFC 2342)."""
        ns: Namespaces = self._core.namespace()
        return ns

    def create(self, mailbox: str) -> None:
        """CREATE a mailbox."""
        self._core.create(mailbox)

    def delete(self, mailbox: str) -> None:
        """DELETE a mailbox."""
        self._core.delete(mailbox)

    def rename(self, old: str, new: str) -> None:
        """RENAME a mailbox."""
        self._core.rename(old, new)

    def subscribe(self, mailbox: str) -> None:
        """SUBSCRIBE to a mailbox."""
        self._core.subscribe(mailbox)

    def unsubscribe(self, mailbox: str) -> None:
        """UNSUBSCRIBE from a mailbox."""
        self._core.unsubscribe(mailbox)

    def status(self, mailbox: str, items: Sequence[str] = ()) -> StatusResult:
        """STATUS of a mailbox (default: MESSAGES UIDNEXT UIDVALIDITY UNSEEN, and
        HIGHESTMODSEQ with CONDSTORE)."""
        result: StatusResult = self._core.status(mailbox, builtins.list(items))
        return result

    def select(self, mailbox: str = "INBOX", *, readonly: bool = False) -> MailboxStatus:
        """SELECT (or EXAMINE with ``readonly=True``) a mailbox."""
        result: MailboxStatus = self._core.select(mailbox, readonly)
        return result

    def examine(self, mailbox: str = "INBOX") -> MailboxStatus:
        """EXAMINE: select read-only."""
        return self.select(mailbox, readonly=True)

    def close_mailbox(self) -> None:
        """CLOSE: leave the mailbox, expunging messages marked ``\\Deleted``."""
        self._core.close_mailbox()

    def unselect(self) -> None:
        """UNSELECT: leave the mailbox without expunging."""
        self._core.unselect()

    # ---- messages ----

    def search(self, criteria: str | Search = "ALL") -> builtins.list[int]:
        """UID SEARCH: the UIDs matching ``criteria``, a :class:`Search` or IMAP text
        (``"UNSEEN FROM alice"``; no line breaks or literals)."""
        uids: builtins.list[int] = self._core.search(_criteria(criteria))
        return uids

    def fetch(
        self, uids: Uids, items: str | Iterable[str], *, changed_since: int | None = None
    ) -> dict[int, FetchResult]:
        """UID FETCH: ``{uid: FetchResult}`` of ``items`` such as ``"FLAGS"``,
        ``"INTERNALDATE"``, ``"RFC822.SIZE"``, ``"ENVELOPE"``, ``"BODYSTRUCTURE"``, ``"MODSEQ"``,
        ``"BODY.PEEK[HEADER]"``, ``"BODY.PEEK[1]<0.1024>"`` (a partial), or ``"FAST"``;
        ``changed_since``: only messages changed after that mod-sequence (CONDSTORE)."""
        result: dict[int, FetchResult] | None = self._fetch(uids, items, changed_since)
        return {} if result is None else result

    def fetch_messages(self, uids: Iterable[int]) -> Iterator[tuple[int, Message]]:
        """``(uid, message)`` for each UID, whole messages (BODY.PEEK[]) parsed as they
        arrive, in pipelined batches: memory holds a batch, not the mailbox. UIDs no longer
        in the mailbox are skipped. Another command before the end abandons the stream."""
        stream = self._stream(uids, True)
        while batch := stream.next_batch(_STREAM_BATCH):
            yield from _drain(batch)

    def fetch_messages_bytes(self, uids: Iterable[int]) -> Iterator[tuple[int, bytes]]:
        """``(uid, octets)`` for each UID: :meth:`fetch_messages` without parsing."""
        stream = self._stream(uids, False)
        while batch := stream.next_batch(_STREAM_BATCH):
            yield from _drain(batch)

    def store(
        self,
        uids: Uids,
        flags: str | Iterable[str],
        *,
        mode: Literal["set", "add", "remove"] = "add",
        silent: bool = True,
        unchanged_since: int | None = None,
    ) -> StoreResult:
        """UID STORE: add, remove or replace flags; ``unchanged_since``: only where the
        mod-sequence is not higher (CONDSTORE)."""
        result: StoreResult = self._store(uids, flags, mode, silent, unchanged_since)
        return result

    def add_flags(self, uids: Uids, flags: str | Iterable[str]) -> None:
        """Add flags (``"\\\\Seen"``, ``"$Label"``)."""
        self.store(uids, flags, mode="add")

    def remove_flags(self, uids: Uids, flags: str | Iterable[str]) -> None:
        """Remove flags."""
        self.store(uids, flags, mode="remove")

    def set_flags(self, uids: Uids, flags: str | Iterable[str]) -> None:
        """Replace the flags."""
        self.store(uids, flags, mode="set")

    def get_flags(self, uids: Uids) -> dict[int, tuple[str, ...]]:
        """UID FETCH (FLAGS): ``{uid: ("\\Seen", "$Label", ...)}`` for the messages of
        ``uids`` (``"1:*"`` for the whole mailbox) that the server answered for; UIDs no
        longer in the mailbox are absent.

        The answers are folded in the core as they arrive, without a :class:`FetchResult`
        per message: messages with the same flags share one tuple (immutable, so sharing
        is safe), and each flag is one ``str``. Flags are as the server sent them
        (``\\Recent`` included, which belongs to the session that saw a message first).
        Responses the server sends meanwhile about other changes (a new message, an
        expunge, another session's flag change without a UID) are kept for :meth:`noop`."""
        result: dict[int, tuple[str, ...]] | None = self._get_flags(uids)
        return {} if result is None else result

    def copy(self, uids: Uids, mailbox: str) -> CopyResult | None:
        """UID COPY; the new UIDs when the server has UIDPLUS."""
        result: CopyResult | None = self._core.copy(_uids(uids), mailbox)
        return result

    def move(self, uids: Uids, mailbox: str) -> CopyResult | None:
        """UID MOVE (RFC 6851), or COPY, STORE ``\\Deleted`` and UID EXPUNGE where the
        server has no MOVE; the new UIDs when the server has UIDPLUS."""
        result: CopyResult | None = self._core.move(_uids(uids), mailbox)
        return result

    def append(
        self,
        mailbox: str,
        message: bytes | Message,
        *,
        flags: str | Iterable[str] = (),
        date: datetime.datetime | None = None,
    ) -> AppendResult | None:
        """APPEND a message (non-synchronising literal with LITERAL+); the new UID when the
        server has UIDPLUS. ``date`` is the internal date (default: now, by the server)."""
        result: AppendResult | None = self._append(mailbox, message, flags, date)
        return result

    def expunge(self, uids: Uids | None = None) -> builtins.list[int]:
        """EXPUNGE the messages marked ``\\Deleted`` (only ``uids`` with UID EXPUNGE,
        UIDPLUS); the expunged sequence numbers as the server reported them."""
        numbers: builtins.list[int] = self._expunge(uids)
        return numbers

    def idle(self, *, timeout: float | None = None) -> Iterator[IdleEvent]:
        """IDLE (RFC 2177): the server's changes as they happen, until ``timeout`` seconds
        pass without one (None: forever). Renewed before the 29-minute limit; leaving the
        loop (``break``, an exception, Ctrl-C) ends it with DONE::

            for event in client.idle():
                if event.kind == "exists":
                    break
        """
        self._core.idle_start()
        try:
            while (event := self._core.idle_wait(timeout)) is not None:
                yield event
        finally:
            if self.connected:
                with contextlib.suppress(MailError):
                    self._core.idle_done()

    def __enter__(self) -> ImapClient:
        self._ensure_connected()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        if self.connected:
            with contextlib.suppress(MailError):
                self._core.logout()
        self.close()


class AsyncImapClient(_ImapBase):
    """The asyncio IMAP client: the options and methods of :class:`ImapClient`, awaitable;
    :meth:`fetch_messages` and :meth:`idle` are async iterators.

    Cancelling a call (``asyncio.timeout``, ``task.cancel()``) closes the connection, except
    while waiting in IDLE, which is then ended with DONE.
    """

    _blocking = False

    async def connect(self) -> str:
        """Connect (and STARTTLS or TLS as configured); returns the greeting's text."""
        greeting: str = await self._core.connect()
        return greeting

    async def _ensure_connected(self) -> None:
        if not self.connected:
            await self.connect()

    async def capabilities(self, *, refresh: bool = False) -> builtins.list[str]:
        """The server's capabilities (see :meth:`ImapClient.capabilities`)."""
        caps: builtins.list[str] = await self._core.capabilities(refresh)
        return caps

    async def has_capability(self, name: str) -> bool:
        """Whether the server offers ``name`` (any case)."""
        return name.upper() in await self.capabilities()

    async def starttls(self) -> None:
        """Switch to TLS now."""
        await self._core.starttls()

    async def login(self, user: str, password: str, *, method: _LoginMethod = "auto") -> None:
        """Log in with a password (see :meth:`ImapClient.login`)."""
        await self._ensure_connected()
        await self._core.login(user, password, method)

    async def authenticate(
        self,
        mechanism: Literal["PLAIN", "XOAUTH2"],
        user: str,
        secret: str,
        *,
        authzid: str | None = None,
    ) -> None:
        """AUTHENTICATE with ``PLAIN`` or ``XOAUTH2`` (see :meth:`ImapClient.authenticate`)."""
        await self._ensure_connected()
        await self._core.authenticate(mechanism, user, secret, authzid)

    async def id(self, fields: dict[str, str | None] | None = None) -> dict[str, str | None] | None:
        """ID (RFC 2971)."""
        return _id_fields(await self._id(fields))

    async def enable(self, *names: str) -> builtins.list[str]:
        """ENABLE extensions (RFC 5161)."""
        enabled: builtins.list[str] = await self._core.enable(builtins.list(names))
        return enabled

    async def noop(self) -> builtins.list[IdleEvent]:
        """NOOP: the changes the server reported since the last command."""
        events: builtins.list[IdleEvent] = await self._core.noop()
        return events

    async def alerts(self) -> builtins.list[str]:
        """``[ALERT]`` texts the server sent since the last call."""
        alerts: builtins.list[str] = await self._core.take_alerts()
        return alerts

    async def logout(self) -> None:
        """LOGOUT and close."""
        await self._core.logout()

    async def list(
        self,
        pattern: str = "*",
        reference: str = "",
        *,
        status: bool = False,
        status_items: Sequence[str] = (),
    ) -> builtins.list[Mailbox]:
        """Mailboxes matching ``pattern`` (see :meth:`ImapClient.list`)."""
        boxes: builtins.list[Mailbox] = await self._list(pattern, reference, status, status_items)
        return boxes

    async def list_subscribed(
        self, pattern: str = "*", reference: str = ""
    ) -> builtins.list[Mailbox]:
        """The subscribed mailboxes."""
        boxes: builtins.list[Mailbox] = await self._core.lsub(reference, pattern)
        return boxes

    async def namespace(self) -> Namespaces:
        """NAMESPACE (RFC 2342)."""
        ns: Namespaces = await self._core.namespace()
        return ns

    async def create(self, mailbox: str) -> None:
        """CREATE a mailbox."""
        await self._core.create(mailbox)

    async def delete(self, mailbox: str) -> None:
        """DELETE a mailbox."""
        await self._core.delete(mailbox)

    async def rename(self, old: str, new: str) -> None:
        """RENAME a mailbox."""
        await self._core.rename(old, new)

    async def subscribe(self, mailbox: str) -> None:
        """SUBSCRIBE to a mailbox."""
        await self._core.subscribe(mailbox)

    async def unsubscribe(self, mailbox: str) -> None:
        """UNSUBSCRIBE from a mailbox."""
        await self._core.unsubscribe(mailbox)

    async def status(self, mailbox: str, items: Sequence[str] = ()) -> StatusResult:
        """STATUS of a mailbox."""
        result: StatusResult = await self._core.status(mailbox, builtins.list(items))
        return result

    async def select(self, mailbox: str = "INBOX", *, readonly: bool = False) -> MailboxStatus:
        """SELECT (or EXAMINE with ``readonly=True``) a mailbox."""
        result: MailboxStatus = await self._core.select(mailbox, readonly)
        return result

    async def examine(self, mailbox: str = "INBOX") -> MailboxStatus:
        """EXAMINE: select read-only."""
        return await self.select(mailbox, readonly=True)

    async def close_mailbox(self) -> None:
        """CLOSE: leave the mailbox, expunging messages marked ``\\Deleted``."""
        await self._core.close_mailbox()

    async def unselect(self) -> None:
        """UNSELECT: leave the mailbox without expunging."""
        await self._core.unselect()

    async def search(self, criteria: str | Search = "ALL") -> builtins.list[int]:
        """UID SEARCH (see :meth:`ImapClient.search`)."""
        uids: builtins.list[int] = await self._core.search(_criteria(criteria))
        return uids

    async def fetch(
        self, uids: Uids, items: str | Iterable[str], *, changed_since: int | None = None
    ) -> dict[int, FetchResult]:
        """UID FETCH (see :meth:`ImapClient.fetch`)."""
        call = self._fetch(uids, items, changed_since)
        result: dict[int, FetchResult] = {} if call is None else await call
        return result

    async def fetch_messages(self, uids: Iterable[int]) -> AsyncIterator[tuple[int, Message]]:
        """``(uid, message)`` for each UID, streamed (see :meth:`ImapClient.fetch_messages`)."""
        stream = self._stream(uids, True)
        while batch := await stream.next_batch(_STREAM_BATCH):
            for item in _drain(batch):
                yield item

    async def fetch_messages_bytes(self, uids: Iterable[int]) -> AsyncIterator[tuple[int, bytes]]:
        """``(uid, octets)`` for each UID, streamed, not parsed."""
        stream = self._stream(uids, False)
        while batch := await stream.next_batch(_STREAM_BATCH):
            for item in _drain(batch):
                yield item

    async def store(
        self,
        uids: Uids,
        flags: str | Iterable[str],
        *,
        mode: Literal["set", "add", "remove"] = "add",
        silent: bool = True,
        unchanged_since: int | None = None,
    ) -> StoreResult:
        """UID STORE (see :meth:`ImapClient.store`)."""
        result: StoreResult = await self._store(uids, flags, mode, silent, unchanged_since)
        return result

    async def add_flags(self, uids: Uids, flags: str | Iterable[str]) -> None:
        """Add flags."""
        await self.store(uids, flags, mode="add")

    async def remove_flags(self, uids: Uids, flags: str | Iterable[str]) -> None:
        """Remove flags."""
        await self.store(uids, flags, mode="remove")

    async def set_flags(self, uids: Uids, flags: str | Iterable[str]) -> None:
        """Replace the flags."""
        await self.store(uids, flags, mode="set")

    async def get_flags(self, uids: Uids) -> dict[int, tuple[str, ...]]:
        """UID FETCH (FLAGS): ``{uid: flags}`` (see :meth:`ImapClient.get_flags`)."""
        call = self._get_flags(uids)
        result: dict[int, tuple[str, ...]] = {} if call is None else await call
        return result

    async def copy(self, uids: Uids, mailbox: str) -> CopyResult | None:
        """UID COPY."""
        result: CopyResult | None = await self._core.copy(_uids(uids), mailbox)
        return result

    async def move(self, uids: Uids, mailbox: str) -> CopyResult | None:
        """UID MOVE, with a fallback (see :meth:`ImapClient.move`)."""
        result: CopyResult | None = await self._core.move(_uids(uids), mailbox)
        return result

    async def append(
        self,
        mailbox: str,
        message: bytes | Message,
        *,
        flags: str | Iterable[str] = (),
        date: datetime.datetime | None = None,
    ) -> AppendResult | None:
        """APPEND a message (see :meth:`ImapClient.append`)."""
        result: AppendResult | None = await self._append(mailbox, message, flags, date)
        return result

    async def expunge(self, uids: Uids | None = None) -> builtins.list[int]:
        """EXPUNGE (or UID EXPUNGE of ``uids``)."""
        numbers: builtins.list[int] = await self._expunge(uids)
        return numbers

    async def idle(self, *, timeout: float | None = None) -> AsyncIterator[IdleEvent]:
        """IDLE as an async iterator (see :meth:`ImapClient.idle`); leaving the loop or
        cancelling the task ends it with DONE."""
        await self._core.idle_start()
        try:
            while (event := await self._core.idle_wait(timeout)) is not None:
                yield event
        finally:
            if self.connected:
                with contextlib.suppress(MailError):
                    await self._core.idle_done()

    async def __aenter__(self) -> AsyncImapClient:
        await self._ensure_connected()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        if self.connected:
            with contextlib.suppress(MailError):
                await self._core.logout()
        self.close()
