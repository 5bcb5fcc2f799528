"""The path a message took: its Received fields as a table of hops, with delays.

``msg.trace()`` returns a :class:`Trace`: the hops oldest first (hop 1 is the first server
that received the message), each with the time its server stamped and the delay since
the previous stamped hop, as header analyzers (Microsoft's Message Header Analyzer,
Google's Messageheader, MXToolbox) show them. Clocks on the way are not synchronised: a
negative delay means the later server's clock is behind (skew), not time travel, and is
flagged. ``transit_time`` is the last stamp minus the first, ``delivered_after`` the last
stamp minus the Date field (when the author's client wrote the message).

A trace renders as a table in Jupyter, as text with ``str()``, as a pandas DataFrame with
:meth:`Trace.to_pandas` and as a timeline with :meth:`Trace.plot` (matplotlib).
"""

from __future__ import annotations

import datetime
import importlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

if TYPE_CHECKING:
    from mailprims._mailprims import Message, Received

__all__ = ["Hop", "Trace", "format_delay"]

# RFC 3848 protocol names that say TLS was used (ESMTPS, ESMTPSA, LMTPS, UTF8SMTPS...);
# Gmail writes SMTPS.
_TLS_PROTOCOLS = frozenset(
    {
        "esmtps",
        "esmtpsa",
        "lmtps",
        "lmtpsa",
        "utf8smtps",
        "utf8smtpsa",
        "utf8lmtps",
        "utf8lmtpsa",
        "smtps",
    }
)


def format_delay(delta: datetime.timedelta | None) -> str:
    """A delay the way header analyzers print it: ``'0 s'``, ``'41 s'``, ``'2 min 5 s'``,
    ``'1 h 3 min'``, ``'-41 s'``; ``''`` for ``None``."""
    if delta is None:
        return ""
    seconds = round(delta.total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        parts = [f"{days} d", f"{hours} h"] if hours else [f"{days} d"]
    elif hours:
        parts = [f"{hours} h", f"{minutes} min"] if minutes else [f"{hours} h"]
    elif minutes:
        parts = [f"{minutes} min", f"{secs} s"] if secs else [f"{minutes} min"]
    else:
        parts = [f"{secs} s"]
    return sign + " ".join(parts)


@dataclass(frozen=True)
class Hop:
    """One Received field, as a row of the trace.

    ``number`` counts from 1 at the oldest hop. ``from_host`` is the name the sender gave
    (EHLO), ``from_ip`` and ``from_rdns`` what the receiver saw; ``by_host`` the receiver.
    ``tls`` is ``True`` when the hop records TLS (a TLS note, or an RFC 3848 protocol such
    as ESMTPS), ``None`` when it does not say. ``delay`` is the time since the previous
    hop that has a date (``None`` for the first, or without a date); negative means clock
    skew (``skewed``). ``received`` is the parsed field itself.
    """

    number: int
    from_host: str | None
    from_ip: str | None
    from_rdns: str | None
    by_host: str | None
    protocol: str | None
    tls: bool | None
    tls_version: str | None
    date: datetime.datetime | None
    delay: datetime.timedelta | None
    received: Received

    @property
    def skewed(self) -> bool:
        """The delay is negative: this server's clock is behind the previous one's."""
        return self.delay is not None and self.delay < datetime.timedelta(0)

    @property
    def sender(self) -> str:
        """The sending side as analyzers show it: ``name (rdns [ip])``, the name being the
        one it gave (EHLO) and the parenthesis what the receiver saw."""
        name = self.from_host or ""
        seen = []
        if self.from_rdns:
            seen.append(self.from_rdns)
        literal = f"[{self.from_ip}]" if self.from_ip else None
        if literal and literal.lower() != name.lower():
            seen.append(literal)
        if not seen:
            return name
        return f"{name} ({' '.join(seen)})" if name else " ".join(seen)

    @property
    def tls_label(self) -> str:
        """``'TLSv1.3'``, ``'yes'`` (TLS without a version), or ``''``."""
        if not self.tls:
            return ""
        return self.tls_version or "yes"

    def to_dict(self) -> dict[str, Any]:
        """The hop as plain data (for JSON; the date in ISO 8601, the delay in seconds)."""
        return {
            "hop": self.number,
            "from": self.from_host,
            "from_ip": self.from_ip,
            "from_rdns": self.from_rdns,
            "by": self.by_host,
            "protocol": self.protocol,
            "tls": self.tls,
            "tls_version": self.tls_version,
            "date": None if self.date is None else self.date.isoformat(),
            "delay_seconds": None if self.delay is None else self.delay.total_seconds(),
            "id": self.received.id,
            "for": self.received.for_,
        }


def _uses_tls(r: Received) -> bool | None:
    if r.tls is not None or r.tls_version is not None or r.tls_cipher is not None:
        return True
    if r.protocol is not None and r.protocol.lower() in _TLS_PROTOCOLS:
        return True
    return None


class Trace(Sequence[Hop]):
    """The Received hops of a message, oldest first (see the module documentation)."""

    # A dict: each slot's value is its attribute's docstring.
    __slots__ = {
        "created": "The message's Date field: when the author's client wrote it.",
        "hops": "The hops, oldest first (a tuple of Hop).",
    }

    def __init__(self, hops: Sequence[Hop], created: datetime.datetime | None = None) -> None:
        self.hops: tuple[Hop, ...] = tuple(hops)
        #: The message's Date field: when the author's client wrote it.
        self.created = created

    @classmethod
    def from_received(
        cls, received: Sequence[Received], created: datetime.datetime | None = None
    ) -> Trace:
        """A trace from Received fields in message order (newest first, as
        ``msg.received`` has them)."""
        hops: list[Hop] = []
        previous: datetime.datetime | None = None
        for number, r in enumerate(reversed(received), 1):
            date = r.date
            delay = date - previous if date is not None and previous is not None else None
            if date is not None:
                previous = date
            hops.append(
                Hop(
                    number=number,
                    from_host=r.from_host,
                    from_ip=r.from_ip,
                    from_rdns=r.from_rdns,
                    by_host=r.by_host,
                    protocol=r.protocol,
                    tls=_uses_tls(r),
                    tls_version=r.tls_version,
                    date=date,
                    delay=delay,
                    received=r,
                )
            )
        return cls(hops, created)

    # ---- the sequence ----

    def __len__(self) -> int:
        return len(self.hops)

    @overload
    def __getitem__(self, index: int) -> Hop: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Hop]: ...
    def __getitem__(self, index: int | slice) -> Hop | Sequence[Hop]:
        return self.hops[index]

    def __iter__(self) -> Iterator[Hop]:
        return iter(self.hops)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Trace):
            return NotImplemented
        return (self.hops, self.created) == (other.hops, other.created)

    __hash__ = None  # type: ignore[assignment]

    # ---- summary ----

    @property
    def _dated(self) -> list[datetime.datetime]:
        return [h.date for h in self.hops if h.date is not None]

    @property
    def first_received(self) -> datetime.datetime | None:
        """The oldest hop's date (the first server's stamp)."""
        dated = self._dated
        return dated[0] if dated else None

    @property
    def delivered(self) -> datetime.datetime | None:
        """The newest hop's date (the last server's stamp)."""
        dated = self._dated
        return dated[-1] if dated else None

    @property
    def transit_time(self) -> datetime.timedelta | None:
        """Last stamp minus first stamp (negative when clocks disagree), or ``None`` with
        fewer than two dated hops."""
        dated = self._dated
        return dated[-1] - dated[0] if len(dated) >= 2 else None

    @property
    def delivered_after(self) -> datetime.timedelta | None:
        """Last stamp minus the Date field, or ``None`` without both."""
        last = self.delivered
        return last - self.created if last is not None and self.created is not None else None

    @property
    def skewed(self) -> list[Hop]:
        """The hops whose delay is negative (clock skew)."""
        return [h for h in self.hops if h.skewed]

    def to_dicts(self) -> list[dict[str, Any]]:
        """The hops as plain data (for JSON)."""
        return [h.to_dict() for h in self.hops]

    # ---- rendering ----

    def rows(self) -> list[list[str]]:
        """The table as text cells: hop, delay, from, by, with, TLS, time (UTC)."""
        out = []
        for h in self.hops:
            delay = format_delay(h.delay)
            if h.skewed:
                delay += " (clock skew)"
            out.append(
                [
                    str(h.number),
                    delay,
                    h.sender,
                    h.by_host or "",
                    h.protocol or "",
                    h.tls_label,
                    _utc(h.date),
                ]
            )
        return out

    HEADINGS = ("Hop", "Delay", "From", "By", "With", "TLS", "Time (UTC)")

    def summary(self) -> str:
        """One line: hops, transit time, delivery time, skew."""
        parts = [f"{len(self.hops)} hop{'s' if len(self.hops) != 1 else ''}"]
        if self.transit_time is not None:
            parts.append(f"transit {format_delay(self.transit_time)}")
        after = self.delivered_after
        if after is not None and after < datetime.timedelta(0):
            parts.append(f"last stamp {format_delay(-after)} before its Date (clock skew)")
        elif after is not None:
            parts.append(f"delivered {format_delay(after)} after its Date")
        skewed = len(self.skewed)
        if skewed:
            parts.append(f"{skewed} negative delay{'s' if skewed != 1 else ''} (clock skew)")
        return ", ".join(parts)

    def __str__(self) -> str:
        rows = [list(self.HEADINGS), *self.rows()]
        widths = [max(len(r[i]) for r in rows) for i in range(len(self.HEADINGS))]
        lines = [
            "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
            for r in rows
        ]
        lines.insert(1, "  ".join("-" * w for w in widths))
        lines.append(self.summary())
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<Trace {self.summary()}>"

    def _repr_html_(self) -> str:
        """HTML for Jupyter (every value escaped)."""
        from mailprims import _display

        return _display.trace_html(self)

    def to_pandas(self) -> Any:
        """The hops as a ``pandas.DataFrame`` (one row per hop, dates in UTC, delays as
        ``Timedelta``). Needs pandas."""
        pd = _optional("pandas", "Trace.to_pandas()")
        frame = pd.DataFrame(
            {
                "hop": [h.number for h in self.hops],
                "from": [h.from_host for h in self.hops],
                "from_ip": [h.from_ip for h in self.hops],
                "by": [h.by_host for h in self.hops],
                "protocol": [h.protocol for h in self.hops],
                "tls": [h.tls for h in self.hops],
                "date": pd.to_datetime([_as_utc(h.date) for h in self.hops], utc=True),
                "delay": pd.to_timedelta([h.delay for h in self.hops]),
                "clock_skew": [h.skewed for h in self.hops],
            }
        )
        return frame.set_index("hop")

    def plot(self, ax: Any = None) -> Any:
        """A timeline of the hops (matplotlib): one bar per hop from the previous stamp to
        its own, negative delays in red. Returns the Axes. Needs matplotlib."""
        plt = _optional("matplotlib.pyplot", "Trace.plot()", package="matplotlib")
        if ax is None:
            _, ax = plt.subplots(figsize=(8, 0.45 * max(len(self.hops), 2) + 1))
        start = self.first_received
        labels = []
        for i, h in enumerate(self.hops):
            labels.append(f"{h.number}: {h.by_host or '?'}")
            if h.date is None or start is None:
                continue
            end = (h.date - start).total_seconds()
            width = h.delay.total_seconds() if h.delay is not None else 0.0
            color = "tab:red" if h.skewed else "tab:blue"
            ax.barh(i, width, left=end - width, color=color, height=0.5)
            ax.plot([end], [i], marker="o", color=color)
        ax.set_yticks(range(len(self.hops)), labels)
        ax.invert_yaxis()
        ax.set_xlabel("seconds since the first hop")
        ax.set_title(self.summary())
        ax.axvline(0, color="grey", linewidth=0.5)
        return ax


def _as_utc(d: datetime.datetime | None) -> datetime.datetime | None:
    return None if d is None else d.astimezone(datetime.timezone.utc)


def _utc(d: datetime.datetime | None) -> str:
    return "" if d is None else d.astimezone(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _optional(module: str, what: str, *, package: str | None = None) -> Any:
    """Import an optional dependency, or say clearly what to install."""
    package = package or module
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(
            f"{what} needs {package}, which is not installed: pip install {package}"
        ) from e


def trace_of(msg: Message) -> Trace:
    """``msg.trace()``."""
    return Trace.from_received(msg.received, msg.date)
