"""Quoted-printable (RFC 2045 §6.7) and its RFC 2047 "Q" header variant.

>>> from mailprims import quoted_printable as qp
>>> qp.encode("café = coffee\\n".encode())
b'caf=C3=A9 =3D coffee\\r\\n'
>>> qp.decode(b"caf=C3=A9 =3D=\\r\\n coffee").decode()
'café = coffee'
"""

from __future__ import annotations

from mailprims import _mailprims

# Annotations only: typing and the aliases module are not imported with the package
# (issue 14: import time). Type checkers read `TYPE_CHECKING = False` as True.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from mailprims._typing import Buffer

__all__ = ["decode", "encode"]


def encode(data: Buffer, *, header: bool = False, binary: bool = False) -> bytes:
    """Encode bytes as quoted-printable.

    Body form (default): lines of at most 76 characters with ``=`` soft breaks, ``=XX`` for
    non-printable bytes and ``=``, trailing spaces and tabs encoded, CRLF and LF kept as hard
    line breaks (written as CRLF), a line holding only ``.`` encoded. With ``binary=True``
    every CR and LF byte is encoded too, so arbitrary bytes round-trip exactly.

    With ``header=True``: the RFC 2047 "Q" encoding, space as ``_``, only letters, digits and
    ``!*+-/`` literal, no line breaks.
    """
    return _mailprims.qp_encode(data, header, binary)


def decode(data: Buffer | str, *, header: bool = False) -> bytes:
    """Decode quoted-printable from bytes-like data or an ASCII ``str``.

    Lenient as real mail needs: malformed ``=`` sequences are kept literally, lowercase hex is
    accepted, soft breaks may carry trailing whitespace, trailing whitespace on a line is
    removed (RFC 2045 §6.7 rule 3). Line endings are kept as they are. With ``header=True``,
    ``_`` decodes to a space.
    """
    return _mailprims.qp_decode(data, header)
