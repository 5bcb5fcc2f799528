"""Issue 12, parsing: one regression test per bug that other mail libraries' test mails showed.

What is right comes from the stdlib (``email`` with ``policy.default``), the RFCs
(2045, 2047, 2231, 5322) and common mail clients; each test says which. The figures before and
after each fix come from ``benches/parsing_hardening.py``.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import time

import mailprims as mp


def stdlib(data: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)  # type: ignore[return-value]


def kinds(msg: mp.Message) -> list[str]:
    return [d.kind for d in msg.defects]


# 1. A parameter folded onto the next line right after its "=" (or just before it).


def test_boundary_folded_after_the_equals_sign_keeps_the_parts() -> None:
    data = (
        b"From: a@example.com\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary=\r\n "XX"\r\n\r\n'
        b"--XX\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
        b"--XX\r\nContent-Type: application/pdf; name=\r\n a.pdf\r\n"
        b'Content-Disposition: attachment; filename=\r\n\t"report.pdf"\r\n\r\nJVBE\r\n'
        b"--XX--\r\n"
    )
    msg = mp.Message.parse(data)
    assert [p.content_type.mime_type for p in msg.walk()] == [
        "multipart/mixed",
        "text/plain",
        "application/pdf",
    ]
    assert [a.filename for a in msg.attachments] == ["report.pdf"]
    # The stdlib reads the same.
    theirs = stdlib(data)
    assert theirs.get_boundary() == "XX"
    assert [p.get_filename() for p in theirs.iter_attachments()] == ["report.pdf"]


def test_parameter_folded_before_the_equals_sign() -> None:
    data = b"Content-Type: multipart/mixed; boundary\r\n =XX\r\n\r\n--XX\r\n\r\na\r\n--XX--\r\n"
    msg = mp.Message.parse(data)
    assert msg.content_type.params["boundary"] == stdlib(data).get_boundary() == "XX"
    assert len(msg.root.parts) == 1


# 2. A message/rfc822 body that starts with an mbox "From " line.


def test_attached_message_after_an_mbox_from_line_keeps_its_headers() -> None:
    data = (
        b"From: a@example.com\r\nSubject: outer\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: message/rfc822\r\n\r\n"
        b"From someone@example.org Mon Jun 10 14:00:00 2024\r\n"
        b"From: inner@example.org\r\nSubject: inner\r\n\r\nbody\r\n"
    )
    inner = mp.Message.parse(data).root.message
    assert inner is not None
    assert (inner.subject, [a.email for a in inner.from_]) == ("inner", ["inner@example.org"])
    assert inner.text == "body\r\n"
    assert "invalid-header-line" in kinds(inner)
    theirs = stdlib(data).get_payload()[0]
    assert theirs["subject"] == "inner"


# 3. Raw 8-bit bytes inside an encoded word of a legacy charset.


def test_raw_8bit_bytes_in_an_encoded_word_are_decoded_once() -> None:
    for raw, text in [
        (b"Subject: =?iso-8859-1?Q?caf\xe9?=\r\n\r\n", "café"),
        (b"Subject: =?koi8-r?Q?\xf0\xd2\xc9?= x\r\n\r\n", "При x"),
    ]:
        assert mp.Message.parse(raw).subject == str(stdlib(raw)["subject"]) == text
    msg = mp.Message.parse(b"From: =?iso-8859-1?Q?Andr\xe9?= <a@example.com>\r\n\r\n")
    assert msg.from_[0].name == "André"


# 4. Encoded words in UTF-7.


def test_utf7_encoded_words_are_decoded() -> None:
    raw = b"Subject: =?utf-7?B?SGkgK0FPay0=?= =?UTF-7?Q?+AOk-?=\r\n\r\n"
    assert mp.Message.parse(raw).subject == str(stdlib(raw)["subject"]) == "Hi éé"


def test_encoded_word_in_an_unknown_charset_is_a_defect() -> None:
    msg = mp.Message.parse(b"From: a@example.com\r\nSubject: =?x-nope?Q?abc?=\r\n\r\n")
    assert msg.subject == "=?x-nope?Q?abc?="
    assert "unknown-charset" in kinds(msg)


# 5. Addresses separated by whitespace only, and unquoted multi-word names.


def test_addresses_without_commas_are_split_and_reported() -> None:
    cases = {
        b"a@b.example c@d.example": [("", "a@b.example"), ("", "c@d.example")],
        b"a@b.example Bob <c@d.example>": [("", "a@b.example"), ("Bob", "c@d.example")],
        b"Ann Bee <a@b.example> Cy Dee <c@d.example>": [
            ("Ann Bee", "a@b.example"),
            ("Cy Dee", "c@d.example"),
        ],
        b"John Smith john@x.example": [("John Smith", "john@x.example")],
    }
    for value, expected in cases.items():
        msg = mp.Message.parse(b"From: x@y.example\r\nTo: " + value + b"\r\n\r\n")
        assert [(a.name, a.email) for a in msg.to] == expected, value
        assert "invalid-address" in kinds(msg), value
    # What getaddresses makes of the angle-bracket form (it agrees on the addresses).
    assert [
        e for _, e in email.utils.getaddresses(["Ann Bee <a@b.example> Cy Dee <c@d.example>"])
    ] == [
        "a@b.example",
        "c@d.example",
    ]
    ok = mp.Message.parse(b"From: x@y.example\r\nTo: A <a@b.example>, c@d.example\r\n\r\n")
    assert "invalid-address" not in kinds(ok)


# 6. Obsolete zone names in any case.


def test_obsolete_zone_names_in_any_case() -> None:
    for zone, hours in [
        ("EST", -5),
        ("est", -5),
        ("Est", -5),
        ("pdt", -7),
        ("Cst", -6),
        ("gmt", 0),
    ]:
        raw = f"Date: Fri, 21 Nov 1997 09:55:06 {zone}\r\n\r\n".encode()
        ours = mp.Message.parse(raw).date
        assert ours is not None and ours == stdlib(raw)["date"].datetime, zone
        offset = ours.utcoffset()
        assert offset is not None and offset.total_seconds() == hours * 3600, zone


# 7. An unquoted "@" in a display name.


def test_at_sign_in_a_display_name_keeps_its_spacing() -> None:
    msg = mp.Message.parse(b"From: John@Home <john@example.com>\r\n\r\n")
    assert [(a.name, a.email) for a in msg.from_] == [("John@Home", "john@example.com")]
    msg = mp.Message.parse(b"From: support@bank.example <x@evil.example>\r\n\r\n")
    assert [(a.name, a.email) for a in msg.from_] == [("support@bank.example", "x@evil.example")]


# 8. A UTF-8 header with one invalid byte.


def test_utf8_header_with_one_bad_byte_stays_utf8() -> None:
    raw = "Subject: café naïve ".encode() + b"\xff x\r\n\r\n"
    msg = mp.Message.parse(raw)
    assert msg.subject == str(stdlib(raw)["subject"]) == "café naïve \ufffd x"
    assert "undecodable-header" in kinds(msg)
    # Latin-1 text stays Latin-1 (it is not UTF-8 with errors).
    assert mp.Message.parse(b"Subject: \xe9t\xe9 \xe0 l'\xeele\r\n\r\n").subject == "été à l'île"


# 9. RFC 2231 continuations in linear time.


def _continuations(n: int) -> bytes:
    segs = "".join(f";\r\n filename*{i}*=%41%42%43" for i in range(n))
    return (
        f"Content-Type: text/plain\r\nContent-Disposition: attachment{segs}\r\n\r\nx\r\n".encode()
    )


def _best_parse_time(data: bytes) -> float:
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        mp.Message.parse(data)
        best = min(best, time.perf_counter() - t0)
    return best


def test_rfc2231_continuations_parse_in_linear_time() -> None:
    # Growth, not a time: four times the sections must take about four times as long
    # (the quadratic join took 25 times as long from 100,000 to 400,000 sections). Both
    # sizes are past the CPU caches, whose edge alone doubles the time per section.
    small, large = _continuations(25_000), _continuations(100_000)
    assert mp.Message.parse(large).root.filename == "ABC" * 100_000
    ratio = _best_parse_time(large) / _best_parse_time(small)
    assert ratio < 9, ratio
