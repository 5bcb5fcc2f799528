"""HTML renderings for Jupyter (``_repr_html_``) of messages, parts, headers and traces.

Mail is hostile input: every value that comes from a message goes through
:func:`html.escape` (quotes included), and a message's HTML body is shown as escaped
source, never rendered. The markup is plain tables and ``<details>`` with inline styles,
no scripts, so it reads the same in Jupyter, VS Code and nbviewer.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mailprims._mailprims import Headers, Message, Part
    from mailprims.fields import AuthResult
    from mailprims.trace import Trace

__all__ = ["headers_html", "message_html", "part_html", "trace_html"]

PREVIEW_CHARS = 2000
VALUE_CHARS = 1000

_TABLE = 'style="border-collapse:collapse;text-align:left;font-size:90%"'
_CELL = 'style="text-align:left;vertical-align:top;padding:2px 8px;border-bottom:1px solid #ddd"'
_NAME = (
    'style="text-align:left;vertical-align:top;padding:2px 8px;white-space:nowrap;'
    'font-weight:600;border-bottom:1px solid #ddd"'
)
_PRE = 'style="white-space:pre-wrap;word-break:break-word;max-height:24em;overflow:auto;margin:0"'


def esc(value: object) -> str:
    """``html.escape`` of ``str(value)`` (``''`` for ``None``)."""
    return "" if value is None else html.escape(str(value), quote=True)


def _clip(text: str, limit: int) -> str:
    return (
        text if len(text) <= limit else text[:limit] + f"… ({len(text) - limit:,} more characters)"
    )


def _table(rows: Iterable[tuple[str, str]], headings: tuple[str, ...] = ()) -> str:
    """Rows of already-escaped cells (name, value)."""
    out = [f"<table {_TABLE}>"]
    if headings:
        out.append("<tr>" + "".join(f"<th {_NAME}>{esc(h)}</th>" for h in headings) + "</tr>")
    for name, value in rows:
        out.append(f"<tr><th {_NAME}>{name}</th><td {_CELL}>{value}</td></tr>")
    out.append("</table>")
    return "".join(out)


def _details(summary: str, body: str, *, open_: bool = False) -> str:
    return f"<details{' open' if open_ else ''}><summary>{summary}</summary>{body}</details>"


def headers_html(headers: Headers) -> str:
    """A table of every field, in order: name and decoded value."""
    rows = [(esc(name), esc(_clip(value, VALUE_CHARS))) for name, value in headers.items()]
    if not rows:
        return "<p><em>no header fields</em></p>"
    return _table(rows)


def _size(n: int) -> str:
    if n < 1024:
        return f"{n:,} bytes"
    if n < 1024 * 1024:
        return f"{n / 1024:,.1f} KiB"
    return f"{n / (1024 * 1024):,.1f} MiB"


def _part_label(part: Part) -> str:
    ct = part.content_type
    bits = [f"<code>{esc(ct.mime_type)}</code>"]
    if part.charset:
        bits.append(f"charset={esc(part.charset)}")
    if part.filename:
        bits.append(f"<strong>{esc(part.filename)}</strong>")
    if part.disposition:
        bits.append(esc(part.disposition))
    if part.transfer_encoding:
        bits.append(esc(part.transfer_encoding))
    if not part.is_multipart:
        bits.append(f"({esc(_size(len(part.payload)))})")
    return " ".join(bits)


def _tree(part: Part, depth: int = 0) -> str:
    """The MIME tree as nested lists; attached messages are entered."""
    label = _part_label(part)
    children = part.parts
    inner = part.message
    if inner is not None and depth < 20:
        label += f" — <em>{esc(inner.subject or '(no subject)')}</em>"
        children = [inner.root]
    if not children or depth >= 20:
        return f"<li>{label}</li>"
    items = "".join(_tree(c, depth + 1) for c in children)
    return f"<li>{label}<ul>{items}</ul></li>"


def _preview(text: str | None, html_source: str | None) -> str:
    if text is not None:
        return f"<pre {_PRE}>{esc(_clip(text, PREVIEW_CHARS))}</pre>"
    if html_source is not None:
        return (
            "<p><em>HTML body, shown as source (not rendered):</em></p>"
            f"<pre {_PRE}>{esc(_clip(html_source, PREVIEW_CHARS))}</pre>"
        )
    return "<p><em>no text body</em></p>"


def _addresses(addrs: Iterable[object]) -> str:
    return esc(", ".join(str(a) for a in addrs))


def message_html(msg: Message) -> str:
    """Summary, MIME tree, authentication results, trace, body preview and defects."""
    summary = [
        ("From", _addresses(msg.from_)),
        ("To", _addresses(msg.to)),
    ]
    if msg.cc:
        summary.append(("Cc", _addresses(msg.cc)))
    summary += [
        ("Subject", esc(msg.subject)),
        ("Date", esc(msg.date.isoformat() if msg.date else msg.headers.get("Date"))),
        ("Message-ID", esc(msg.message_id)),
        ("Type", f"<code>{esc(msg.content_type.mime_type)}</code>, {esc(_size(msg.size))}"),
    ]
    attachments = msg.attachments
    if attachments:
        names = ", ".join(p.filename or p.content_type.mime_type for p in attachments)
        summary.append(("Attachments", esc(names)))
    out = ['<div class="mailprims-message">', _table(summary)]
    out.append(_details(f"Header fields ({len(msg.headers)})", headers_html(msg.headers)))
    out.append(_details("MIME structure", f"<ul>{_tree(msg.root)}</ul>", open_=True))
    results = msg.authentication_results
    if results:
        out.append(_details(f"Authentication results ({len(results)})", auth_html(results)))
    if msg.received:
        trace = msg.trace()
        title = esc(f"Received trace: {trace.summary()}")
        out.append(_details(title, trace_html(trace, caption=False)))
    out.append(_details("Body", _preview(msg.text, msg.html), open_=True))
    defects = msg.defects
    if defects:
        items = "".join(f"<li><code>{esc(d.kind)}</code>: {esc(d.message)}</li>" for d in defects)
        out.append(_details(f"Defects ({len(defects)})", f"<ul>{items}</ul>"))
    out.append("</div>")
    return "".join(out)


def part_html(part: Part) -> str:
    """The part's label, header fields, sub-parts and a preview of its text."""
    out = [f"<div>{_part_label(part)}"]
    out.append(_details(f"Header fields ({len(part.headers)})", headers_html(part.headers)))
    if part.is_multipart or part.message is not None:
        out.append(f"<ul>{_tree(part)}</ul>")
    elif part.text is not None:
        out.append(f"<pre {_PRE}>{esc(_clip(part.text, PREVIEW_CHARS))}</pre>")
    out.append("</div>")
    return "".join(out)


_RESULT_COLOURS = {
    "pass": "#1a7f37",
    "fail": "#cf222e",
    "softfail": "#bc4c00",
    "permerror": "#cf222e",
}


def auth_html(results: Iterable[AuthResult]) -> str:
    """A table of :class:`mailprims.fields.AuthResult` objects."""
    rows = []
    for r in results:
        colour = _RESULT_COLOURS.get(r.result, "inherit")
        props = " ".join(f"{k}={v}" for k, v in r.properties.items())
        cells = [
            esc(r.authserv_id),
            esc(r.method),
            f'<span style="color:{colour};font-weight:600">{esc(r.result)}</span>',
            esc(r.reason or "; ".join(r.comments)),
            esc(props),
        ]
        rows.append("<tr>" + "".join(f"<td {_CELL}>{c}</td>" for c in cells) + "</tr>")
    head = "".join(
        f"<th {_NAME}>{h}</th>"
        for h in ("Evaluated by", "Method", "Result", "Reason / comment", "Properties")
    )
    return f"<table {_TABLE}><tr>{head}</tr>{''.join(rows)}</table>"


def trace_html(trace: Trace, *, caption: bool = True) -> str:
    """The hops table: delay bars in proportion to the positive delays (as Microsoft's
    analyzer draws them), negative delays in red. ``caption``: the summary above it (off
    where the summary is already shown, as in a message's trace section)."""
    total = sum(h.delay.total_seconds() for h in trace if h.delay is not None and not h.skewed)
    head = "".join(f"<th {_NAME}>{esc(h)}</th>" for h in trace.HEADINGS)
    rows = []
    for hop, cells in zip(trace, trace.rows(), strict=True):
        delay = esc(cells[1])
        if hop.skewed:
            delay = f'<span style="color:#cf222e" title="negative delay: clock skew">{delay}</span>'
        elif hop.delay is not None and total > 0:
            pct = 100 * hop.delay.total_seconds() / total
            delay += (
                f'<div style="background:#0969da;height:4px;width:{pct:.0f}%;min-width:1px"></div>'
            )
        tds = [esc(cells[0]), delay, *(esc(c) for c in cells[2:])]
        rows.append("<tr>" + "".join(f"<td {_CELL}>{c}</td>" for c in tds) + "</tr>")
    title = f"<caption style='text-align:left'>{esc(trace.summary())}</caption>" if caption else ""
    return f"<table {_TABLE}>{title}<tr>{head}</tr>{''.join(rows)}</table>"
