"""RFC 2047 encoded words in header values.

>>> from mailprims import encoded_word
>>> encoded_word.decode("=?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>")
'André Pirard <PIRARD@vm1.ulg.ac.be>'
>>> encoded_word.encode("Привет")
'=?utf-8?B?0J/RgNC40LLQtdGC?='
"""

from __future__ import annotations

from mailprims import _mailprims

# Annotations only: typing and the aliases module are not imported with the package
# (issue 14: import time). Type checkers read `TYPE_CHECKING = False` as True.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from mailprims._typing import Buffer

__all__ = ["decode", "encode"]


def encode(text: str, *, charset: str = "utf-8") -> str:
    """Encode ``text`` as one or more encoded words in ``charset``.

    B or Q is chosen by whichever is shorter. Words are at most 75 characters, split on
    character boundaries, and separated by single spaces, where a header writer may fold.
    Raises :class:`~mailprims.CodecError` for an unknown charset or a character the charset
    cannot represent.
    """
    return _mailprims.encoded_word_encode(text, charset)


def decode(value: str | Buffer) -> str:
    """Decode every encoded word in a header value; other text is kept as it is.

    Whitespace between adjacent encoded words is dropped (RFC 2047 §6.2); adjacent words in one
    charset are decoded together so characters split across words survive. Every charset that
    ``encoding_rs`` knows is supported (UTF-8, ISO-8859-*, windows-125x, KOI8-R, Shift_JIS,
    ISO-2022-JP, GB18030, Big5, EUC-KR, ...). Words in unknown charsets and malformed words keep
    their raw text; this never raises for bad input. Raw ``bytes`` are read as UTF-8, or
    windows-1252 when they are not valid UTF-8.
    """
    return _mailprims.encoded_word_decode(value)
