"""MIME header parameters (``Content-Type``, ``Content-Disposition``) and RFC 2231.

>>> from mailprims import params
>>> params.decode("attachment; filename*=UTF-8''%E2%82%AC%20rates.pdf")
('attachment', {'filename': '€ rates.pdf'})
>>> params.encode("filename", "€ rates.pdf")
"filename*=utf-8''%E2%82%AC%20rates.pdf"
"""

from __future__ import annotations

from mailprims import _mailprims

# Annotations only: typing and the aliases module are not imported with the package
# (issue 14: import time). Type checkers read `TYPE_CHECKING = False` as True.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from mailprims._typing import Buffer

__all__ = ["decode", "encode"]


def decode(value: str | Buffer) -> tuple[str, dict[str, str]]:
    """Split a header value into its main value and its parameters.

    Parameter names are lowercased; RFC 2231 continuations (``name*0``, ``name*1*``...),
    charsets and languages are decoded, as are RFC 2047 encoded words inside quoted values
    (not standard, but common for file names). Never raises for malformed input.
    """
    return _mailprims.params_decode(value)


def encode(name: str, value: str, *, charset: str = "utf-8") -> str:
    """Format one parameter: ``name=value``, quoted when needed, or RFC 2231 for non-ASCII
    values (split into continuation sections when long). CR, LF and NUL are refused with
    :class:`~mailprims.CodecError`."""
    return _mailprims.params_encode(name, value, charset)
