"""Option checks the SMTP and POP3 clients share."""

from __future__ import annotations

import os
import pathlib

__all__ = ["cadata", "seconds", "tls_mode"]


def tls_mode(tls: str, port: int, implicit_port: int) -> str:
    """The core's TLS mode for ``tls=``: ``"auto"`` is implicit TLS on the protocol's TLS
    port (465 for SMTP, 995 for POP3) and STARTTLS/STLS when offered elsewhere."""
    if tls == "auto":
        return "implicit" if port == implicit_port else "opportunistic"
    if tls in ("starttls", "implicit", "none"):
        return tls
    raise ValueError(f"tls must be 'auto', 'starttls', 'implicit' or 'none', not {tls!r}")


def cadata(cafile: str | os.PathLike[str] | None, cadata: str | bytes | None) -> bytes | None:
    """The PEM trust anchors from ``cafile=`` or ``cadata=`` (at most one of them)."""
    if cafile is not None and cadata is not None:
        raise ValueError("give cafile or cadata, not both")
    if cafile is not None:
        return pathlib.Path(cafile).read_bytes()
    if isinstance(cadata, str):
        return cadata.encode()
    return cadata


def seconds(value: float | None) -> float | None:
    return None if value is None else float(value)
