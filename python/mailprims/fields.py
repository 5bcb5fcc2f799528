"""Structured header fields beyond RFC 5322, read into plain objects.

- ``Authentication-Results`` (RFC 8601) and ``ARC-Authentication-Results`` (RFC 8617):
  :class:`AuthenticationResults` holding :class:`AuthResult` objects.
- ``DKIM-Signature`` (RFC 6376) and ``ARC-Message-Signature``: :class:`DkimSignature`;
  ``ARC-Seal``: :class:`ArcSeal`; the three ARC fields of one instance: :class:`ArcSet`.
- ``List-Id`` (RFC 2919), the ``List-*`` URL fields (RFC 2369) and one-click unsubscribe
  (RFC 8058): :class:`ListInfo`.

The grammars are read in Rust (``src/message/authres.rs``, ``tag_list.rs``,
``list_headers.rs``), one file per grammar like the other header readers, so that they
share the parser's guarantees: ``cargo test`` covers them, and the fuzz target and the
mutation test run them on every field of every mutated corpus message, so no input makes
them panic. This module only gives the pieces their meaning (which tag is which), a table
lookup that gains nothing from Rust. Messages expose them as
``msg.authentication_results``, ``msg.dkim_signatures``, ``msg.arc_sets`` and
``msg.list_info``. Nothing here verifies a signature: these are what the fields *say*.
Only results your own server added can be trusted (RFC 8601 §5): check ``authserv_id``.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mailprims import _mailprims

if TYPE_CHECKING:
    from mailprims._mailprims import Message

__all__ = [
    "ArcSeal",
    "ArcSet",
    "AuthResult",
    "AuthenticationResults",
    "DkimSignature",
    "ListInfo",
]


def _raw_values(msg: Message, name: str) -> list[str]:
    # The raw value (not RFC 2047-decoded: these grammars have no encoded words), with its
    # folding, which the grammars treat as white space.
    return [h.raw_value.decode("utf-8", "replace") for h in msg.headers.fields(name)]


@dataclass(frozen=True)
class AuthResult:
    """One method's result in an Authentication-Results field (RFC 8601 §2.2).

    ``method`` (``spf``, ``dkim``, ``dmarc``, ``arc``, ``auth``, ``iprev``...) and ``result``
    (``pass``, ``fail``, ``softfail``, ``neutral``, ``none``, ``temperror``, ``permerror``,
    ``policy``...) are lowercase. ``properties`` maps ``"ptype.property"`` to its value
    (``{"smtp.mailfrom": "example.net"}``; the first wins if one repeats; a property written
    without a ptype, as Microsoft's ``action=none``, has just its name). ``comments`` hold
    the receiver's explanations; ``authserv_id`` says who evaluated.
    """

    method: str
    result: str
    reason: str | None = None
    properties: Mapping[str, str] = field(default_factory=dict)
    comments: tuple[str, ...] = ()
    method_version: str | None = None
    authserv_id: str | None = None

    def __str__(self) -> str:
        text = f"{self.method}={self.result}"
        if self.reason is not None:
            text += f" reason={self.reason!r}"
        return " ".join([text, *(f"{k}={v}" for k, v in self.properties.items())])

    def to_dict(self) -> dict[str, Any]:
        """The result as plain data (for JSON)."""
        return {
            "authserv_id": self.authserv_id,
            "method": self.method,
            "method_version": self.method_version,
            "result": self.result,
            "reason": self.reason,
            "properties": dict(self.properties),
            "comments": list(self.comments),
        }


@dataclass(frozen=True)
class AuthenticationResults:
    """An Authentication-Results (or ARC-Authentication-Results) field.

    ``authserv_id`` is who evaluated (``None`` when the field leaves it out, as Microsoft
    365 does), ``version`` the optional field version, ``instance`` the ARC ``i=``, and
    ``results`` the :class:`AuthResult` list (empty for ``none``: nothing was checked).
    """

    authserv_id: str | None
    results: tuple[AuthResult, ...] = ()
    version: str | None = None
    instance: int | None = None

    @classmethod
    def parse(cls, value: str, *, arc: bool = False) -> AuthenticationResults:
        """Read a field value (after the colon); ``arc=True`` for ARC-Authentication-Results.

        Never raises: what does not fit RFC 8601's grammar is skipped.
        """
        parsed = _mailprims.authres_parse(value, arc)
        results = tuple(
            AuthResult(
                method=r.method,
                result=r.result,
                reason=r.reason,
                properties=_first_wins(
                    (f"{p.ptype}.{p.name}" if p.ptype else p.name, p.value) for p in r.properties
                ),
                comments=tuple(r.comments),
                method_version=r.method_version,
                authserv_id=parsed.authserv_id,
            )
            for r in parsed.results
        )
        return cls(parsed.authserv_id, results, parsed.version, parsed.instance)

    def get(self, method: str) -> AuthResult | None:
        """The first result for ``method`` (``"dkim"``, ``"spf"``...), or ``None``."""
        method = method.lower()
        return next((r for r in self.results if r.method == method), None)

    def to_dict(self) -> dict[str, Any]:
        """The field as plain data (for JSON)."""
        return {
            "authserv_id": self.authserv_id,
            "version": self.version,
            "instance": self.instance,
            "results": [r.to_dict() for r in self.results],
        }


def _first_wins(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in pairs:
        out.setdefault(k, v)
    return out


def _timestamp(value: str | None) -> datetime.datetime | None:
    if value is None or not value.isdigit() or len(value) > 12:
        return None
    try:
        return datetime.datetime.fromtimestamp(int(value), datetime.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def _compact(value: str | None) -> str | None:
    return None if value is None else "".join(value.split())


def _instance(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() and len(value) < 10 else None


@dataclass(frozen=True)
class DkimSignature:
    """A DKIM-Signature (RFC 6376 §3.5) or ARC-Message-Signature (RFC 8617 §4.1.2) field.

    The tags under their meanings: ``domain`` (``d=``), ``selector`` (``s=``), ``algorithm``
    (``a=``), ``headers`` (``h=``, the signed field names), ``canonicalization`` (``c=``,
    ``simple/simple`` when absent), ``identity`` (``i=``), ``body_length`` (``l=``),
    ``timestamp`` and ``expiration`` (``t=``, ``x=`` as UTC datetimes), ``body_hash``
    (``bh=``), ``signature`` (``b=``, white space removed), ``copied_headers`` (``z=``),
    ``instance`` (ARC ``i=``). ``tags`` has every tag as written; ``problems`` lists what
    makes the field invalid by §3.2 and §6.1.1 (a repeated tag, a missing required tag).
    """

    domain: str | None
    selector: str | None
    algorithm: str | None
    headers: tuple[str, ...]
    canonicalization: str
    body_hash: str | None
    signature: str | None
    version: str | None = None
    identity: str | None = None
    body_length: int | None = None
    query_methods: str | None = None
    timestamp: datetime.datetime | None = None
    expiration: datetime.datetime | None = None
    copied_headers: tuple[str, ...] = ()
    instance: int | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    problems: tuple[str, ...] = ()

    @classmethod
    def parse(cls, value: str, *, arc: bool = False) -> DkimSignature:
        """Read a DKIM-Signature value; ``arc=True`` for ARC-Message-Signature. Never raises."""
        parsed = _mailprims.tag_list_parse(value)
        t = dict(parsed.tags)
        problems = [f"tag {name}= repeated (RFC 6376 §3.2)" for name in parsed.duplicates]
        if parsed.malformed:
            problems.append(f"{parsed.malformed} tag-spec(s) not of the form name=value")
        required = (
            ("i", "a", "b", "bh", "d", "h", "s") if arc else ("v", "a", "b", "bh", "d", "h", "s")
        )
        problems += [f"required tag {name}= missing" for name in required if name not in t]
        length = t.get("l")
        return cls(
            domain=t.get("d"),
            selector=t.get("s"),
            algorithm=t.get("a"),
            headers=tuple(h for h in (_compact(t.get("h")) or "").split(":") if h),
            canonicalization=t.get("c") or "simple/simple",
            body_hash=_compact(t.get("bh")),
            signature=_compact(t.get("b")),
            version=t.get("v"),
            identity=t.get("i") if not arc else None,
            body_length=int(length) if length and length.isdigit() and len(length) < 20 else None,
            query_methods=t.get("q"),
            timestamp=_timestamp(t.get("t")),
            expiration=_timestamp(t.get("x")),
            copied_headers=tuple(z for z in (_compact(t.get("z")) or "").split("|") if z),
            instance=_instance(t.get("i")) if arc else None,
            tags=t,
            problems=tuple(problems),
        )

    def to_dict(self) -> dict[str, Any]:
        """The signature as plain data (for JSON; datetimes in ISO 8601)."""
        return {
            "domain": self.domain,
            "selector": self.selector,
            "algorithm": self.algorithm,
            "headers": list(self.headers),
            "canonicalization": self.canonicalization,
            "identity": self.identity,
            "body_length": self.body_length,
            "timestamp": _iso(self.timestamp),
            "expiration": _iso(self.expiration),
            "instance": self.instance,
            "tags": dict(self.tags),
            "problems": list(self.problems),
        }


def _iso(d: datetime.datetime | None) -> str | None:
    return None if d is None else d.isoformat()


@dataclass(frozen=True)
class ArcSeal:
    """An ARC-Seal field (RFC 8617 §4.1.3).

    ``chain_validation`` is the ``cv=`` the sealer recorded for the chain it received:
    ``none`` (first hop), ``pass`` or ``fail``.
    """

    instance: int | None
    chain_validation: str | None
    domain: str | None
    selector: str | None
    algorithm: str | None
    timestamp: datetime.datetime | None
    signature: str | None
    tags: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, value: str) -> ArcSeal:
        """Read an ARC-Seal value. Never raises."""
        t = dict(_mailprims.tag_list_parse(value).tags)
        return cls(
            instance=_instance(t.get("i")),
            chain_validation=t["cv"].lower() if "cv" in t else None,
            domain=t.get("d"),
            selector=t.get("s"),
            algorithm=t.get("a"),
            timestamp=_timestamp(t.get("t")),
            signature=_compact(t.get("b")),
            tags=t,
        )


@dataclass(frozen=True)
class ArcSet:
    """The three ARC fields one intermediary added (RFC 8617 §4.1), by instance ``i``.

    A field the set lacks is ``None`` (a broken chain).
    """

    instance: int
    seal: ArcSeal | None
    message_signature: DkimSignature | None
    authentication_results: AuthenticationResults | None

    @property
    def sealer(self) -> str | None:
        """The domain that sealed this set."""
        return self.seal.domain if self.seal else None

    def to_dict(self) -> dict[str, Any]:
        """The set as plain data (for JSON)."""
        ar = self.authentication_results
        return {
            "instance": self.instance,
            "sealer": self.sealer,
            "chain_validation": self.seal.chain_validation if self.seal else None,
            "authentication_results": ar.to_dict() if ar else None,
            "message_signature": self.message_signature.to_dict()
            if self.message_signature
            else None,
        }


@dataclass(frozen=True)
class ListInfo:
    """The mailing-list fields of a message.

    ``id`` and ``name`` come from List-Id (RFC 2919); ``help``, ``subscribe``,
    ``unsubscribe``, ``post``, ``owner`` and ``archive`` are the URL lists of RFC 2369, in
    order of preference; ``posting_allowed`` is ``False`` for ``List-Post: NO``, ``None``
    without List-Post; ``one_click`` is true when RFC 8058 one-click unsubscription is
    offered (List-Unsubscribe-Post: List-Unsubscribe=One-Click and an HTTPS URL to POST to).
    """

    id: str | None = None
    name: str | None = None
    help: tuple[str, ...] = ()
    subscribe: tuple[str, ...] = ()
    unsubscribe: tuple[str, ...] = ()
    post: tuple[str, ...] = ()
    owner: tuple[str, ...] = ()
    archive: tuple[str, ...] = ()
    posting_allowed: bool | None = None
    unsubscribe_post: str | None = None

    @property
    def one_click(self) -> bool:
        """RFC 8058 §3.1: one-click unsubscription is offered."""
        return (self.unsubscribe_post or "").replace(" ", "").lower() == (
            "list-unsubscribe=one-click"
        ) and any(u.lower().startswith("https:") for u in self.unsubscribe)

    def to_dict(self) -> dict[str, Any]:
        """The list fields as plain data (for JSON)."""
        return {
            "id": self.id,
            "name": self.name,
            "help": list(self.help),
            "subscribe": list(self.subscribe),
            "unsubscribe": list(self.unsubscribe),
            "post": list(self.post),
            "owner": list(self.owner),
            "archive": list(self.archive),
            "posting_allowed": self.posting_allowed,
            "one_click": self.one_click,
        }


_LIST_URL_FIELDS = ("help", "subscribe", "unsubscribe", "post", "owner", "archive")


# ---- what Message's properties call (src/python/message.rs) ----


def authentication_results_of(msg: Message) -> list[AuthResult]:
    """``msg.authentication_results``: every result of every Authentication-Results field."""
    return [
        r
        for v in _raw_values(msg, "Authentication-Results")
        for r in AuthenticationResults.parse(v).results
    ]


def dkim_signatures_of(msg: Message) -> list[DkimSignature]:
    """``msg.dkim_signatures``."""
    return [DkimSignature.parse(v) for v in _raw_values(msg, "DKIM-Signature")]


def arc_sets_of(msg: Message) -> list[ArcSet]:
    """``msg.arc_sets``: ARC sets grouped by instance, lowest (first intermediary) first."""
    seals: dict[int, ArcSeal] = {}
    signatures: dict[int, DkimSignature] = {}
    results: dict[int, AuthenticationResults] = {}
    for v in _raw_values(msg, "ARC-Seal"):
        s = ArcSeal.parse(v)
        if s.instance is not None:
            seals.setdefault(s.instance, s)
    for v in _raw_values(msg, "ARC-Message-Signature"):
        m = DkimSignature.parse(v, arc=True)
        if m.instance is not None:
            signatures.setdefault(m.instance, m)
    for v in _raw_values(msg, "ARC-Authentication-Results"):
        a = AuthenticationResults.parse(v, arc=True)
        if a.instance is not None:
            results.setdefault(a.instance, a)
    return [
        ArcSet(i, seals.get(i), signatures.get(i), results.get(i))
        for i in sorted(seals.keys() | signatures.keys() | results.keys())
    ]


def list_info_of(msg: Message) -> ListInfo | None:
    """``msg.list_info``: ``None`` when the message has no List-* field."""
    headers = msg.headers
    found = False
    urls: dict[str, tuple[str, ...]] = {}
    posting_allowed = None
    for name in _LIST_URL_FIELDS:
        values = _raw_values(msg, f"List-{name}")
        if not values:
            continue
        found = True
        parsed = [_mailprims.list_urls_parse(v) for v in values]
        urls[name] = tuple(u for p in parsed for u in p.urls)
        if name == "post":
            posting_allowed = not any(p.no for p in parsed)
    list_id = headers.get("List-Id")
    description = identifier = None
    if list_id is not None:
        found = True
        parsed_id = _mailprims.list_id_parse(list_id)
        description, identifier = parsed_id.description, parsed_id.id
    unsubscribe_post = headers.get("List-Unsubscribe-Post")
    if not found and unsubscribe_post is None:
        return None
    return ListInfo(
        id=identifier,
        name=description,
        posting_allowed=posting_allowed,
        unsubscribe_post=unsubscribe_post,
        **urls,
    )
