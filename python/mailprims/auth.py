"""E-mail authentication: DKIM signing and verification (RFC 6376, Ed25519 by RFC 8463),
ARC (RFC 8617), SPF (RFC 7208), DMARC (RFC 7489), and the Authentication-Results field
(RFC 8601).

Signing::

    key = DkimKey.generate("ed25519")            # or DkimKey.load(pem_text_or_path)
    print(key.dns_record("2026", "example.org"))  # publish this TXT record
    signer = DkimSigner("example.org", "2026", key)
    signed = signer.sign(message)                 # a new Message, DKIM-Signature on top

Checking::

    verifier = Verifier()                         # system DNS; nameservers=[...] to choose
    report = verifier.verify(message, ip="192.0.2.7", helo="mx.example.net",
                             mail_from="bounce@example.net")
    report.dkim[0].result, report.spf.result, report.dmarc.disposition
    report.header("mx.example.com")               # an Authentication-Results field

Verification never raises for what a message or a DNS server says: problems are results
(``fail``, ``permerror``; DNS trouble and the verifier's time limit give ``temperror``).
Exceptions (:class:`mailprims.AuthError`) are for your side: a key that cannot be read or
sign, bad options. The Rust core underneath is Stalwart's ``mail-auth`` with ring; SPF's
processing limits, DMARC with ``pct`` and the public suffix list, the signature cap and the
time bound are mailprims'.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from mailprims._mailprims import (
    ArcResult,
    ArcSealer,
    AuthReport,
    DkimKey,
    DkimResult,
    DkimSigner,
    DmarcResult,
    SpfResult,
    Verifier,
    auth_sign_all,
)

if TYPE_CHECKING:
    from mailprims._mailprims import Message

__all__ = [
    "ArcResult",
    "ArcSealer",
    "AuthReport",
    "DkimKey",
    "DkimResult",
    "DkimSigner",
    "DmarcResult",
    "SpfResult",
    "Verifier",
    "sign",
]


def sign(message: Message | bytes | str, signers: Iterable[DkimSigner]) -> Message:
    """Sign ``message`` with every signer (an RSA and an Ed25519 key, say): a new
    :class:`~mailprims.Message` with one DKIM-Signature per signer, the first signer's on
    top."""
    return auth_sign_all(message, list(signers))


_default: Verifier | None = None


def _verify_message(msg: Message, verifier: Verifier | None, **kwargs: Any) -> AuthReport:
    """``msg.verify(verifier, ip=..., helo=..., mail_from=...)``."""
    global _default
    if verifier is None:
        if _default is None:
            _default = Verifier()
        verifier = _default
    return verifier.verify(msg, **kwargs)


_COLORS = {
    "pass": "#1a7f37",
    "fail": "#cf222e",
    "softfail": "#bc4c00",
    "policy": "#bc4c00",
    "permerror": "#cf222e",
    "temperror": "#9a6700",
    "neutral": "#57606a",
    "none": "#57606a",
}
_CELL = 'style="text-align:left;vertical-align:top;padding:2px 8px;border-bottom:1px solid #ddd"'


def _esc(value: object) -> str:
    return "" if value is None else html.escape(str(value), quote=True)


def _result(value: str) -> str:
    color = _COLORS.get(value, "#57606a")
    return f'<b style="color:{color}">{_esc(value)}</b>'


def _report_html(report: AuthReport) -> str:
    """The HTML table of ``report._repr_html_()``; every value escaped."""
    rows: list[tuple[str, str, str]] = []
    for d in report.dkim:
        what = f"d={d.domain or '?'} s={d.selector or '?'} a={d.algorithm or '?'}"
        if d.body_length is not None:
            what += f" l={d.body_length}"
        rows.append(("DKIM", d.result, what + (f" — {d.reason}" if d.reason else "")))
    if not report.dkim:
        rows.append(("DKIM", "none", "no DKIM-Signature"))
    if report.dkim_skipped:
        rows.append(("DKIM", "none", f"{report.dkim_skipped} more signatures not checked"))
    s = report.spf
    if s is not None:
        what = f"{s.identity}={s.sender if s.identity == 'mailfrom' else s.domain} ip={s.ip}"
        detail = s.explanation or s.reason
        rows.append(("SPF", s.result, what + (f" — {detail}" if detail else "")))
    m = report.dmarc
    what = f"from={m.domain or '?'}"
    if m.applied_policy is not None:
        what += f" policy={m.applied_policy} pct={m.pct} disposition={m.disposition}"
        what += f" (aligned: dkim={m.dkim_aligned}, spf={m.spf_aligned})"
    rows.append(("DMARC", m.result, what + (f" — {m.reason}" if m.reason else "")))
    a = report.arc
    what = f"{a.instances} set(s)" + (f" by {', '.join(a.sealers)}" if a.sealers else "")
    rows.append(("ARC", a.result, what + (f" — {a.reason}" if a.reason else "")))
    body = "".join(
        f"<tr><th {_CELL}>{_esc(method)}</th><td {_CELL}>{_result(result)}</td>"
        f"<td {_CELL}>{_esc(what)}</td></tr>"
        for method, result, what in rows
    )
    return (
        '<table style="border-collapse:collapse;text-align:left;font-size:90%">'
        f"<tr><th {_CELL}>check</th><th {_CELL}>result</th><th {_CELL}>details</th></tr>"
        f"{body}</table>"
    )
