"""mailprims.encoded_word (RFC 2047) and mailprims.params (RFC 2231)."""

from __future__ import annotations

import base64 as std_base64
import binascii
import email.header
import email.utils

import pytest
from hypothesis import given
from hypothesis import strategies as st

import mailprims
from mailprims import encoded_word, params

RFC2047_SECTION8 = [
    ("=?ISO-8859-1?Q?a?=", "a"),
    ("=?ISO-8859-1?Q?a?= b", "a b"),
    ("=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=", "ab"),
    ("=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=", "ab"),
    ("=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=", "ab"),
    ("=?ISO-8859-1?Q?a_b?=", "a b"),
    ("=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=", "a b"),
    ("=?US-ASCII?Q?Keith_Moore?= <moore@cs.utk.edu>", "Keith Moore <moore@cs.utk.edu>"),
    ("=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>", "Keld Jørn Simonsen <keld@dkuug.dk>"),
    (
        "=?ISO-8859-1?Q?Olle_J=E4rnefors?= <ojarnef@admin.kth.se>",
        "Olle Järnefors <ojarnef@admin.kth.se>",
    ),
    (
        "=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=\r\n"
        "    =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=",
        "If you can read this you understand the example.",
    ),
]


@pytest.mark.parametrize(("raw", "decoded"), RFC2047_SECTION8)
def test_rfc2047_examples(raw: str, decoded: str) -> None:
    assert encoded_word.decode(raw) == decoded
    assert encoded_word.decode(raw.encode()) == decoded


@pytest.mark.parametrize(
    ("charset", "text"),
    [
        ("koi8-r", "Привет"),
        ("windows-1251", "Привет"),
        ("shift_jis", "日本語"),
        ("iso-2022-jp", "日本語"),
        ("gb18030", "中文"),
        ("big5", "中文"),
        ("euc-kr", "한글"),
        ("iso-8859-15", "€"),
        ("iso-8859-7", "Ελληνικά"),
        ("utf-8", "lower case q"),
    ],
)
def test_charsets(charset: str, text: str) -> None:
    # Vectors come from Python's own codecs, so this is a cross-check of the two tables.
    data = text.encode(charset)
    b_word = f"=?{charset}?B?{std_base64.b64encode(data).decode()}?="
    q_word = f"=?{charset.upper()}*en?q?{binascii.b2a_qp(data, header=True).decode()}?="
    assert encoded_word.decode(b_word) == text
    assert encoded_word.decode(q_word) == text


def test_broken_words_keep_raw_text() -> None:
    for raw in ["=?x-unknown?Q?abc?=", "=?utf-8?X?abc?=", "=?utf-8?Q?no end", "a =? b ?= c"]:
        assert encoded_word.decode(raw) == raw
    assert encoded_word.decode("=?utf-8?B?w6k=?= =?utf-8?Q?=C3?= =?utf-8?Q?=A9?=") == "éé"
    assert encoded_word.decode(b"caf\xe9 =?utf-8?Q?=C3=A9?=") == "café é"


@given(st.text(max_size=300), st.sampled_from(["utf-8", "UTF-8", "utf-8"]))
def test_encode_round_trip(text: str, charset: str) -> None:
    encoded = encoded_word.encode(text, charset=charset)
    words = encoded.split(" ")
    assert all(len(w) <= 75 for w in words)
    assert all(w.startswith(f"=?{charset}?") and w.endswith("?=") for w in words)
    assert encoded.isascii()
    assert encoded_word.decode(encoded) == text
    # the stdlib reads what we write
    assert str(email.header.make_header(email.header.decode_header(encoded))) == text


# C1 controls (U+0080-U+009F) are refused: WHATWG reads those bytes as windows-1252.
@given(
    st.text(
        alphabet=st.characters(max_codepoint=0xFF, exclude_categories=["Cs", "Cc"]), max_size=200
    )
)
def test_encode_latin1(text: str) -> None:
    encoded = encoded_word.encode(text, charset="iso-8859-1")
    assert encoded_word.decode(encoded) == text


@given(st.text(max_size=200))
def test_decode_never_raises(value: str) -> None:
    assert isinstance(encoded_word.decode(value), str)


def test_encode_picks_b_or_q_by_size() -> None:
    assert encoded_word.encode("café au lait") == "=?utf-8?Q?caf=C3=A9_au_lait?="
    assert encoded_word.encode("Привет") == "=?utf-8?B?0J/RgNC40LLQtdGC?="
    assert encoded_word.encode("日本語" * 20, charset="iso-2022-jp").count("=?") > 1


def test_encode_errors() -> None:
    with pytest.raises(mailprims.CodecError, match="cannot be encoded"):
        encoded_word.encode("€", charset="iso-8859-1")
    with pytest.raises(mailprims.CodecError, match="unknown charset"):
        encoded_word.encode("x", charset="no-such-charset")
    with pytest.raises(mailprims.CodecError):
        encoded_word.encode("x", charset="utf-16")
    with pytest.raises(TypeError):
        encoded_word.encode(b"bytes")  # type: ignore[arg-type]


RFC2231_CASES = [
    (
        'message/external-body; access-type=URL;\r\n URL*0="ftp://";\r\n'
        ' URL*1="cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar"',
        "url",
        "ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar",
    ),
    (
        "application/x-stuff; title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A",
        "title",
        "This is ***fun***",
    ),
    (
        "application/x-stuff; title*0*=us-ascii'en'This%20is%20even%20more%20;"
        ' title*1*=%2A%2A%2Afun%2A%2A%2A%20; title*2="isn\'t it!"',
        "title",
        "This is even more ***fun*** isn't it!",
    ),
    ("attachment; filename*=UTF-8''%E2%82%AC%20rates.pdf", "filename", "€ rates.pdf"),
    ('attachment; filename="=?utf-8?B?4oKsIHJhdGVzLnBkZg==?="', "filename", "€ rates.pdf"),
    ("attachment; filename*1*=%82%AC.txt; filename*0*=utf-8''%E2", "filename", "€.txt"),
    ('text/plain; charset="us-ascii"; format=flowed', "format", "flowed"),
    ('multipart/mixed; boundary="simple boundary"', "boundary", "simple boundary"),
]


@pytest.mark.parametrize(("value", "name", "expected"), RFC2231_CASES)
def test_params_decode(value: str, name: str, expected: str) -> None:
    main, found = params.decode(value)
    assert found[name] == expected
    assert main == value.split(";")[0]


@given(
    st.text(
        alphabet=st.characters(exclude_characters="\r\n\x00", exclude_categories=["Cs"]),
        min_size=1,
        max_size=150,
    )
)
def test_params_round_trip_and_stdlib_agrees(value: str) -> None:
    formatted = params.encode("filename", value)
    assert all(ord(c) < 128 for c in formatted)
    header = f"attachment; {formatted}"
    assert params.decode(header) == ("attachment", {"filename": value})
    msg = email.message_from_string(f"Content-Disposition: {header}\n\n")
    expected = value.strip()  # the stdlib strips file names
    if len(expected) >= 2 and expected[0] == "<" and expected[-1] == ">":
        # stdlib quirk: get_filename() unquotes twice (email.utils.unquote also removes
        # angle brackets), so filename="<x>" reads as "x".
        expected = expected[1:-1]
    assert msg.get_filename() == expected


def test_params_decode_folds_comments_and_raw_bytes() -> None:
    # Issue 12: a fold right after "=" (or before it), an RFC 2045 comment, raw Latin-1
    # inside an RFC 2047 word; the stdlib reads each the same way.
    assert params.decode(b'multipart/mixed; boundary=\r\n "XX"') == (
        "multipart/mixed",
        {"boundary": "XX"},
    )
    assert params.decode("attachment; filename\r\n =a.pdf")[1] == {"filename": "a.pdf"}
    assert params.decode("text/plain; charset=us-ascii (Plain text)")[1] == {"charset": "us-ascii"}
    assert params.decode(b'attachment; filename="=?iso-8859-1?Q?caf\xe9?=.txt"')[1] == {
        "filename": "caf\u00e9.txt"
    }


def test_params_refuse_injection() -> None:
    for bad in ("a\r\nBcc: x@example.com", "a\nb", "a\x00b"):
        with pytest.raises(mailprims.CodecError):
            params.encode("filename", bad)


def test_stdlib_reads_our_folded_address() -> None:
    name = encoded_word.encode("Jürgen Müller")
    assert email.utils.parseaddr(f"{name} <j@example.de>")[1] == "j@example.de"
