"""``mailprims.to_dataframe``: a mailbox as a pandas DataFrame, one row per message."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator
from typing import Any

from mailprims._mailprims import Message
from mailprims.store import Maildir, Mbox
from mailprims.trace import _optional

__all__ = ["COLUMNS", "to_dataframe"]

#: The columns of :func:`to_dataframe`, in order.
COLUMNS = (
    "date",
    "from",
    "from_email",
    "to",
    "cc",
    "subject",
    "message_id",
    "in_reply_to",
    "content_type",
    "size",
    "parts",
    "attachments",
    "has_text",
    "has_html",
    "hops",
    "transit",
    "spf",
    "dkim",
    "dmarc",
    "list_id",
    "defects",
)


def _keyed(messages: Any) -> tuple[Iterator[tuple[Any, Message]], str | None]:
    if isinstance(messages, Maildir):
        return iter(messages.items()), "key"
    if isinstance(messages, Mbox):
        return ((i, Message.parse(data)) for i, data in messages.items_bytes()), "index"
    return ((None, m) for m in messages), None


def _utc(d: datetime.datetime | None) -> datetime.datetime | None:
    return None if d is None else d.astimezone(datetime.timezone.utc)


def _row(msg: Message) -> dict[str, Any]:
    results = msg.authentication_results
    verdict: dict[str, str | None] = {"spf": None, "dkim": None, "dmarc": None}
    # The newest field first: the receiving server's own verdict wins over upstream ones.
    for r in results:
        if r.method in verdict and verdict[r.method] is None:
            verdict[r.method] = r.result
    trace = msg.trace() if msg.received else None
    info = msg.list_info
    sender = msg.from_
    return {
        "date": _utc(msg.date),
        "from": str(sender[0]) if sender else None,
        "from_email": sender[0].email if sender else None,
        "to": ", ".join(str(a) for a in msg.to),
        "cc": ", ".join(str(a) for a in msg.cc),
        "subject": msg.subject,
        "message_id": msg.message_id,
        "in_reply_to": msg.in_reply_to[0] if msg.in_reply_to else None,
        "content_type": msg.content_type.mime_type,
        "size": msg.size,
        "parts": sum(1 for p in msg.walk() if not p.is_multipart),
        "attachments": len(msg.attachments),
        "has_text": msg.text is not None,
        "has_html": msg.html is not None,
        "hops": len(msg.received),
        "transit": trace.transit_time if trace is not None else None,
        **verdict,
        "list_id": info.id if info is not None else None,
        "defects": len(msg.defects),
    }


def to_dataframe(messages: Iterable[Message] | Maildir | Mbox) -> Any:
    """One row per message: the main fields of a mailbox, ready for pandas.

    ``messages`` is any iterable of :class:`mailprims.Message` (a list, ``parse_many``'s
    result) or a :class:`mailprims.Maildir` or :class:`mailprims.Mbox`, whose keys become
    the index. Columns (:data:`COLUMNS`): ``date`` (UTC), ``from``, ``from_email``, ``to``,
    ``cc``, ``subject``, ``message_id``, ``in_reply_to``, ``content_type``, ``size``,
    ``parts`` (leaf parts), ``attachments``, ``has_text``, ``has_html``, ``hops`` (Received
    fields), ``transit`` (first to last Received stamp), ``spf``, ``dkim``, ``dmarc`` (the
    newest Authentication-Results verdict of each), ``list_id``, ``defects`` (count).
    Needs pandas (``ImportError`` saying so otherwise).
    """
    pd = _optional("pandas", "mailprims.to_dataframe()")
    items, index_name = _keyed(messages)
    keys: list[Any] = []
    rows: list[dict[str, Any]] = []
    for key, msg in items:
        if not isinstance(msg, Message):
            raise TypeError(
                f"to_dataframe() expects mailprims.Message objects, not {type(msg).__name__}"
            )
        keys.append(key)
        rows.append(_row(msg))
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    frame["date"] = pd.to_datetime(frame["date"], utc=True)
    frame["transit"] = pd.to_timedelta(frame["transit"])
    if index_name is not None:
        frame.index = pd.Index(keys, name=index_name)
    return frame
