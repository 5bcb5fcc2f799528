"""mailprims.quoted_printable against RFC 2045 §6.7 and the stdlib (quopri/binascii)."""

from __future__ import annotations

import binascii
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailprims import quoted_printable as qp

try:
    from test.test_quopri import QuopriTestCase

    STDLIB_CASES = list(QuopriTestCase.STRINGS)
    STDLIB_HEADER_CASES = list(QuopriTestCase.HSTRINGS)
except ImportError:  # the interpreter was built without its test package
    STDLIB_CASES = []
    STDLIB_HEADER_CASES = []


def crlf(data: bytes) -> bytes:
    return re.sub(rb"\r?\n", b"\r\n", data)


def test_stdlib_cases_are_present() -> None:
    assert STDLIB_CASES, "CPython's test.test_quopri is needed for the differential cases"


@pytest.mark.parametrize(("plain", "encoded"), STDLIB_CASES)
def test_stdlib_quopri_cases(plain: bytes, encoded: bytes) -> None:
    assert qp.decode(encoded) == plain
    assert qp.encode(plain) == crlf(encoded)
    assert binascii.a2b_qp(qp.encode(plain)) == crlf(plain)


@pytest.mark.parametrize(("plain", "encoded"), STDLIB_HEADER_CASES)
def test_stdlib_header_cases(plain: bytes, encoded: bytes) -> None:
    assert qp.decode(encoded, header=True) == plain
    assert qp.decode(qp.encode(plain, header=True), header=True) == plain


def test_rfc2045_rules() -> None:
    assert qp.encode(b"a=b") == b"a=3Db"  # rule 1: '=' is always encoded
    assert qp.encode("café".encode()) == b"caf=C3=A9"
    assert qp.encode(b"end  \r\nnext ") == b"end =20\r\nnext=20"  # rule 3
    assert qp.encode(b"x" * 76) == b"x" * 76  # rule 5: 76 fit before a hard break
    assert qp.encode(b"x" * 77) == b"x" * 75 + b"=\r\nxx"
    assert qp.encode(b"a\n.\nb") == b"a\r\n=2E\r\nb"  # a lone dot would end SMTP DATA
    assert qp.encode(b"a\rb") == b"a=0Db"  # a bare CR is not a line break
    assert qp.encode(b"a\r\nb", binary=True) == b"a=0D=0Ab"


def test_decoding_is_lenient() -> None:
    assert qp.decode(b"soft=\r\nbreak") == b"softbreak"
    assert qp.decode(b"soft=  \r\nbreak") == b"softbreak"  # transport padding
    assert qp.decode(b"bad=ZZ and =3") == b"bad=ZZ and =3"
    assert qp.decode(b"lower=c3=a9") == "loweré".encode()
    assert qp.decode(b"trailing   \r\nspace") == b"trailing\r\nspace"
    assert qp.decode("ascii str =41") == b"ascii str A"


mail_text = st.lists(
    st.one_of(
        st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x24F), max_size=120),
        st.sampled_from(["\n", "\r\n", " \n", "\t\r\n", ".", "=", "From "]),
    ),
    max_size=30,
).map("".join)


@given(mail_text)
def test_text_round_trip_and_line_lengths(text: str) -> None:
    data = text.encode()
    encoded = qp.encode(data)
    lines = encoded.split(b"\r\n")
    assert all(len(line) <= 76 for line in lines)
    assert all(not line.endswith((b" ", b"\t")) for line in lines)
    assert all(line != b"." for line in lines)
    assert max(encoded, default=0) < 128
    assert qp.decode(encoded) == crlf(data)
    assert binascii.a2b_qp(encoded) == crlf(data)


@given(st.binary(max_size=2000))
def test_binary_round_trip(data: bytes) -> None:
    encoded = qp.encode(data, binary=True)
    assert all(len(line) <= 76 for line in encoded.split(b"\r\n"))
    assert qp.decode(encoded) == data
    assert binascii.a2b_qp(encoded) == data


@given(st.binary(max_size=500))
def test_header_round_trip(data: bytes) -> None:
    encoded = qp.encode(data, header=True)
    assert re.fullmatch(rb"[A-Za-z0-9!*+\-/_=]*", encoded)
    assert qp.decode(encoded, header=True) == data
    assert binascii.a2b_qp(encoded, header=True) == data


@given(st.binary(max_size=1000))
def test_decode_stdlib_encoding(data: bytes) -> None:
    # binascii keeps bare LF line endings, which the decoder keeps too.
    encoded = binascii.b2a_qp(data, quotetabs=False, istext=False)
    assert qp.decode(encoded) == binascii.a2b_qp(encoded)


@given(st.binary(max_size=500))
def test_decode_never_raises(junk: bytes) -> None:
    assert isinstance(qp.decode(junk), bytes)
    assert isinstance(qp.decode(junk, header=True), bytes)


def test_argument_types() -> None:
    with pytest.raises(TypeError):
        qp.encode("text")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        qp.decode(12)  # type: ignore[arg-type]
    assert qp.encode(bytearray(b"a=b")) == qp.encode(memoryview(b"a=b")) == b"a=3Db"
