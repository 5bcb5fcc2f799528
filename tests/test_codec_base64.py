"""mailprims.base64 against RFC 4648, the textbook chapter, and the stdlib."""

from __future__ import annotations

import base64 as std_base64
import binascii
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

import mailprims
from mailprims import base64


def as_types(data: bytes) -> list[object]:
    return [data, bytearray(data), memoryview(data)]


@pytest.mark.parametrize(
    ("hexdata", "encoded"),
    [("14fb9c03d97e", b"FPucA9l+"), ("14", b"FA=="), ("14fb", b"FPs=")],
)
def test_seed_chapter_examples(hexdata: str, encoded: bytes) -> None:
    data = bytes.fromhex(hexdata)
    for value in as_types(data):
        assert base64.encode(value) == encoded
    for value in [*as_types(encoded), encoded.decode()]:
        assert base64.decode(value) == data
        assert base64.decode(value, strict=True) == data


@pytest.mark.parametrize(
    ("plain", "encoded"),
    [
        (b"", b""),
        (b"f", b"Zg=="),
        (b"fo", b"Zm8="),
        (b"foo", b"Zm9v"),
        (b"foob", b"Zm9vYg=="),
        (b"fooba", b"Zm9vYmE="),
        (b"foobar", b"Zm9vYmFy"),
    ],
)
def test_rfc4648_section10_vectors(plain: bytes, encoded: bytes) -> None:
    assert base64.encode(plain) == encoded
    assert base64.decode(encoded, strict=True) == plain


def mime_reference(data: bytes, wrap: int = 76) -> bytes:
    """What RFC 2045 asks for, built from the stdlib: CRLF between 76-character lines."""
    flat = std_base64.b64encode(data)
    return b"\r\n".join(flat[i : i + wrap] for i in range(0, len(flat), wrap))


@pytest.mark.parametrize("length", range(301))
def test_every_length_matches_stdlib(length: int) -> None:
    data = bytes((i * 37 + length) & 0xFF for i in range(length))
    assert base64.encode(data, wrap=None) == std_base64.b64encode(data)
    assert base64.encode(data) == mime_reference(data)
    assert base64.encode(data) == std_base64.encodebytes(data).replace(b"\n", b"\r\n").rstrip(
        b"\r\n"
    )
    assert base64.decode(base64.encode(data)) == data
    assert base64.decode(std_base64.encodebytes(data)) == data


@pytest.mark.parametrize("size", [1 << 16, (1 << 20) + 1, 5 * (1 << 20) + 2])
def test_large_inputs(size: int) -> None:
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    encoded = base64.encode(data)
    assert encoded == mime_reference(data)
    assert base64.decode(encoded) == data
    assert base64.decode(memoryview(encoded)) == data
    flat = base64.encode(bytearray(data), wrap=None)
    assert base64.decode(flat, strict=True) == data


@given(st.binary(max_size=4096), st.integers(min_value=1, max_value=200))
def test_round_trip_any_wrap(data: bytes, wrap: int) -> None:
    encoded = base64.encode(data, wrap=wrap)
    assert encoded == mime_reference(data, wrap)
    assert all(len(line) <= wrap for line in encoded.split(b"\r\n"))
    assert base64.decode(encoded) == data


@given(st.binary(max_size=2048))
def test_decode_agrees_with_binascii(data: bytes) -> None:
    for encoded in (std_base64.b64encode(data), std_base64.encodebytes(data)):
        assert base64.decode(encoded) == binascii.a2b_base64(encoded)


@given(st.binary(max_size=1024), st.data())
def test_lenient_decode_skips_whitespace_anywhere(data: bytes, draw: st.DataObject) -> None:
    encoded = bytearray(std_base64.b64encode(data))
    for _ in range(draw.draw(st.integers(0, 20))):
        pos = draw.draw(st.integers(0, len(encoded)))
        encoded[pos:pos] = draw.draw(st.sampled_from([b" ", b"\t", b"\r\n", b"\n", b"\r"]))
    assert base64.decode(bytes(encoded)) == data
    assert binascii.a2b_base64(bytes(encoded)) == data


@given(st.binary(max_size=512))
def test_lenient_decode_never_raises(junk: bytes) -> None:
    out = base64.decode(junk)
    assert isinstance(out, bytes)
    assert len(out) <= len(junk) * 3 // 4 + 2


def test_lenient_decode_repairs_like_a_mail_client() -> None:
    assert base64.decode(b"QQ") == b"A"  # missing padding
    assert base64.decode(b"QUI") == b"AB"
    assert base64.decode(b"QQ==QQ==") == b"A"  # stops at the first padding, like binascii
    assert base64.decode(b"Q!Q==") == b"A"  # junk skipped
    assert base64.decode(b"Q") == b""  # a dangling character is dropped


@pytest.mark.parametrize(
    ("data", "offset", "byte"),
    [
        (b"QUJD\r\nREVG", 4, ord("\r")),
        (b"QUJD REVG", 4, ord(" ")),
        (b"QU!D", 2, ord("!")),
        (b"Q=JD", 1, ord("=")),
        (b"QR==", 1, ord("R")),  # non-canonical trailing bits
        (b"QUJ", 3, None),
    ],
)
def test_strict_decode_names_byte_and_offset(data: bytes, offset: int, byte: int | None) -> None:
    with pytest.raises(mailprims.CodecError) as info:
        base64.decode(data, strict=True)
    err = info.value
    assert isinstance(err, ValueError)
    assert isinstance(err, mailprims.MailError)
    assert err.offset == offset
    assert err.byte == byte
    assert f"offset {offset}" in str(err)
    assert err.codec == "base64"
    again = pickle.loads(pickle.dumps(err))
    assert (type(again), again.offset, again.byte, str(again)) == (
        type(err),
        err.offset,
        err.byte,
        str(err),
    )


def test_argument_types() -> None:
    with pytest.raises(TypeError, match="not 'str'"):
        base64.encode("text")  # type: ignore[arg-type]
    for bad in (None, 3, [1, 2], object()):
        with pytest.raises(TypeError):
            base64.encode(bad)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            base64.decode(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ASCII"):
        base64.decode("QUJD€")
    with pytest.raises(TypeError):
        base64.encode(memoryview(b"abcdef")[::2])  # not contiguous
    with pytest.raises(ValueError, match="wrap"):
        base64.encode(b"x", wrap=0)


def test_memoryview_slices_are_not_copied_wrongly() -> None:
    data = b"xxhello worldyy"
    assert base64.encode(memoryview(data)[2:-2]) == std_base64.b64encode(b"hello world")
