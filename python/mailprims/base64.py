"""Base64 as MIME uses it (RFC 4648 §4 alphabet, RFC 2045 §6.8 line length).

>>> from mailprims import base64
>>> base64.encode(bytes.fromhex("14fb9c03d97e"))
b'FPucA9l+'
>>> base64.decode(b"FPuc\\r\\nA9l+")
b'\\x14\\xfb\\x9c\\x03\\xd9~'
"""

from __future__ import annotations

from mailprims import _mailprims

# Annotations only: typing and the aliases module are not imported with the package
# (issue 14: import time). Type checkers read `TYPE_CHECKING = False` as True.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from mailprims._typing import Buffer

__all__ = ["decode", "encode"]


def encode(data: Buffer, *, wrap: int | None = 76) -> bytes:
    """Encode ``data`` (bytes, bytearray, memoryview) as Base64.

    Lines are ``wrap`` characters long (76 is the MIME limit) and separated by CRLF, with no
    line break after the last line; ``wrap=None`` gives one line. Large inputs are encoded with
    the GIL released.
    """
    return _mailprims.base64_encode(data, wrap)


def decode(data: Buffer | str, *, strict: bool = False) -> bytes:
    """Decode Base64 from bytes-like data or an ASCII ``str``.

    The default is what a mail client needs: line breaks, whitespace and any other byte
    outside the alphabet are skipped, missing padding is tolerated, decoding stops after the
    first padding, and it never fails. With ``strict=True`` the input must be exactly RFC 4648
    (alphabet only, canonical padding, no line breaks), otherwise :class:`~mailprims.CodecError`
    is raised naming the offending byte and its offset.
    """
    return _mailprims.base64_decode(data, strict)
