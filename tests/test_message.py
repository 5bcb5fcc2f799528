"""The Message API: inputs, fields, the MIME tree, payloads, defects, pickling, interop."""

from __future__ import annotations

import base64
import copy
import datetime
import email
import email.policy
import gc
import os
import pickle
import signal
import threading
import time
import tracemalloc
from email.message import EmailMessage
from pathlib import Path

import pytest

import mailprims as mp

CORPUS = Path(__file__).parent / "corpus"

# The seed chapter's first example (RFC 5322 form, CRLF line endings).
HELLO = (
    b"From: Bob Smith <Bob@machine.example>\r\n"
    b"To: Alice Doe <alice@example.net>, Alice Smith <Alice@machine.example>\r\n"
    b"Subject: Hello\r\n"
    b"Date: Mon, 8 Mar 2010 19:55:06 -0600\r\n"
    b"\r\n"
    b'This is the "Hello world" of email messages.\r\n'
    b"This is the second line of the body\r\n"
)


def corpus(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


# --- inputs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "wrap", [bytes, bytearray, memoryview, lambda b: b.decode("ascii")], ids=repr
)
def test_every_bytes_like_and_str_input(wrap: object) -> None:
    msg = mp.Message.parse(wrap(HELLO))  # type: ignore[operator]
    assert msg.subject == "Hello"
    assert bytes(msg) == HELLO


def test_bytes_input_is_not_copied() -> None:
    # Zero-copy: the message reads the caller's bytes object and hands back that object.
    msg = mp.Message.parse(HELLO)
    assert bytes(msg) is HELLO
    assert msg.as_bytes() is HELLO


def test_bytearray_is_copied_so_later_changes_do_not_leak_in() -> None:
    data = bytearray(HELLO)
    msg = mp.Message.parse(data)
    data[:4] = b"XXXX"
    assert msg.from_[0].email == "Bob@machine.example"
    assert bytes(msg) == HELLO


def test_str_with_surrogateescape_round_trips() -> None:
    raw = b"Subject: caf\xe9\r\n\r\nbody\r\n"
    msg = mp.Message.parse(raw.decode("ascii", "surrogateescape"))
    assert bytes(msg) == raw
    assert msg.subject == "café"


@pytest.mark.parametrize("bad", [None, 42, 1.5, ["From: a"], {"a": 1}, object()])
def test_wrong_argument_types_raise_type_error(bad: object) -> None:
    with pytest.raises(TypeError):
        mp.Message.parse(bad)  # type: ignore[arg-type]


def test_parse_file(tmp_path: Path) -> None:
    path = tmp_path / "hello.eml"
    path.write_bytes(HELLO)
    assert mp.Message.parse_file(path) == mp.Message.parse(HELLO)
    assert mp.Message.parse_file(str(path)).subject == "Hello"
    with pytest.raises(FileNotFoundError) as e:
        mp.Message.parse_file(tmp_path / "missing.eml")
    assert e.value.filename == str(tmp_path / "missing.eml")
    with pytest.raises(TypeError):
        mp.Message.parse_file(42)  # type: ignore[arg-type]


# --- header fields (RFC 5322 §3.6) ----------------------------------------------------


def test_seed_chapter_hello_world() -> None:
    msg = mp.Message.parse(HELLO)
    assert msg.subject == "Hello"
    assert msg.from_ == [mp.Address("Bob Smith", "Bob@machine.example")]
    assert [a.email for a in msg.to] == ["alice@example.net", "Alice@machine.example"]
    assert msg.date == datetime.datetime(
        2010, 3, 8, 19, 55, 6, tzinfo=datetime.timezone(datetime.timedelta(hours=-6))
    )
    assert msg.cc == msg.bcc == msg.reply_to == msg.sender == []
    assert msg.message_id is None
    assert msg.text == (
        'This is the "Hello world" of email messages.\r\nThis is the second line of the body\r\n'
    )
    assert msg.html is None
    assert msg.attachments == []
    assert msg.defects == []


def test_headers_mapping() -> None:
    msg = mp.Message.parse(corpus("seed/received-trace.eml"))
    h = msg.headers
    assert len(h) == 13
    assert list(h)[:2] == ["Received", "Received"]
    assert h["subject"] == h["SUBJECT"] == "Re: [rrg] Recommendation and what happens next"
    assert "message-id" in h and "X-Missing" not in h and 42 not in h
    with pytest.raises(KeyError):
        h["X-Missing"]
    assert h.get("X-Missing") is None
    assert h.get("X-Missing", "dflt") == "dflt"
    received = h.get_all("received")
    assert len(received) == 7
    # Unfolded (RFC 5322 §2.2.3): no line breaks remain, the folding whitespace does.
    assert received[0].startswith("from smtp3.sgssi.ucl.ac.be (Unknown [10.1.5.3])  by mmp")
    assert all("\n" not in v for v in received)
    assert h.get_all("X-Missing") == []
    assert h.keys()[-1] == "Message-id"
    assert h.items()[-1] == ("Message-id", "<4B94D336.7030504@firstpr.com.au>")
    assert len(h.values()) == 13


def test_header_raw_bytes_and_offsets_are_exact() -> None:
    data = corpus("seed/received-trace.eml")
    msg = mp.Message.parse(data)
    fields = msg.headers.fields()
    # Concatenated raw fields are the header section, byte for byte.
    assert b"".join(f.raw for f in fields) == data[: data.index(b"\n\n") + 1]
    first = fields[0]
    assert data[first.offset : first.offset + len(first.raw)] == first.raw
    assert first.raw_value.startswith(b" from smtp3.sgssi.ucl.ac.be")
    assert b"\n  by mmp.sipr-dc.ucl.ac.be" in first.raw_value
    assert msg.headers.get_raw("Subject") == b" Re: [rrg] Recommendation and what happens next"
    assert [f.name for f in msg.headers.fields("received")] == ["Received"] * 7
    assert str(fields[-1]) == "Message-id: <4B94D336.7030504@firstpr.com.au>"
    assert fields[-1] == msg.headers.fields()[-1]
    assert repr(fields[-4]) == "Header('Subject', 'Re: [rrg] Recommendation and what happens next')"


def test_rfc2047_and_8bit_header_values() -> None:
    msg = mp.Message.parse(corpus("feature/charsets.eml"))
    assert msg.subject == "こんにちは、世界 € 100"
    assert msg.from_[0].name == "André Pirard"
    assert msg.to[0].name == "Иван Петров"
    eight = mp.Message.parse(corpus("feature/8bit-headers.eml"))
    assert eight.subject == "Größe und Maße ✓"  # RFC 6532 UTF-8
    assert eight.to[0].name == "Jürgen Groß"  # Latin-1, not UTF-8
    assert [d.kind for d in eight.defects] == ["undecodable-header"]


def test_dates_rfc5322_section_3_3_and_4_3() -> None:
    def date(value: str) -> datetime.datetime | None:
        return mp.Message.parse(f"Date: {value}\r\n\r\n").date

    utc = datetime.timezone.utc
    assert date("Thu, 13 Feb 1969 23:32:54 -0330") == datetime.datetime(
        1969, 2, 14, 3, 2, 54, tzinfo=utc
    )
    # -0000: UTC with the local zone unknown; still an aware datetime.
    d = date("Fri, 21 Nov 1997 09:55:06 -0000")
    assert d is not None and d.tzinfo is utc
    # Obsolete zones (§4.3) and two-digit years.
    assert date("21 Nov 97 09:55:06 GMT") == datetime.datetime(1997, 11, 21, 9, 55, 6, tzinfo=utc)
    est = date("Fri, 21 Nov 1997 09:55:06 EST")
    assert est is not None and est.utcoffset() == datetime.timedelta(hours=-5)
    assert date("Fri, 21 Nov 1997 09:55:06 PDT").utcoffset() == datetime.timedelta(hours=-7)  # type: ignore[union-attr]
    assert date("not a date") is None
    assert date("Mon, 30 Feb 2009 10:00:00 +0000") is None


def test_ids_without_angle_brackets() -> None:
    msg = mp.Message.parse(corpus("rfc/rfc5322-a2-reply-to-reply.eml"))
    assert msg.message_id == "abcd.1234@local.machine.test"
    assert msg.in_reply_to == ["3456@example.net"]
    assert msg.references == ["1234@local.machine.example", "3456@example.net"]
    # RFC 5322 A.6.3: CFWS inside the id is not part of it.
    assert mp.Message.parse(corpus("rfc/rfc5322-a6-3-obsolete-white-space.eml")).message_id == (
        "1234@local.machine.example"
    )


def test_mime_version_and_content_type_params() -> None:
    msg = mp.Message.parse(corpus("rfc/rfc2046-5-1-1-simple-boundary.eml"))
    assert msg.mime_version == "1.0"
    ct = msg.content_type
    assert (ct.type, ct.subtype, ct.mime_type) == ("multipart", "mixed", "multipart/mixed")
    assert ct.params == {"boundary": "simple boundary"}
    assert str(ct) == 'multipart/mixed; boundary="simple boundary"'
    assert ct == mp.ContentType("multipart", "mixed", {"boundary": "simple boundary"})
    assert repr(ct) == "ContentType('multipart', 'mixed', {'boundary': 'simple boundary'})"
    assert mp.Message.parse(b"Subject: x\r\n\r\n").content_type == mp.ContentType("text", "plain")


# --- Received (RFC 5321 §4.4) ---------------------------------------------------------


def test_received_trace_of_the_seed_chapter() -> None:
    trace = mp.Message.parse(corpus("seed/received-trace.eml")).received
    assert len(trace) == 7
    sun, postfix, _, _, amavis, _, first = trace
    assert (sun.from_host, sun.from_ip, sun.by_host, sun.protocol) == (
        "smtp3.sgssi.ucl.ac.be",
        "10.1.5.3",
        "mmp.sipr-dc.ucl.ac.be",
        "ESMTTP",
    )
    assert sun.id == "0KYY00L85LI5JLE0@mmp.sipr-dc.ucl.ac.be"
    assert sun.date == datetime.datetime(
        2010, 3, 8, 11, 37, 17, tzinfo=datetime.timezone(datetime.timedelta(hours=1))
    )
    assert (postfix.from_rdns, postfix.id) == ("mail.ietf.org", "B92351C60D7")
    assert (amavis.by_host, amavis.for_, amavis.id) == (
        "localhost",
        "rrg@core3.amsl.com",
        "erw8ih2v8VQa",
    )
    # Newest first: the first hop (the sender's own relay) is at the bottom.
    assert first.from_host == "[10.0.0.6]" and first.from_rdns == "wira.firstpr.com.au"
    assert first.date is not None and sun.date is not None
    assert sun.date - first.date == datetime.timedelta(seconds=40)


def test_received_tls_details() -> None:
    trace = mp.Message.parse(corpus("feature/received-forms.eml")).received
    postfix = trace[3]
    assert postfix.tls_version == "TLSv1.3" and postfix.tls_cipher == "TLS_AES_256_GCM_SHA384"
    assert postfix.tls is not None and postfix.tls.startswith("using TLSv1.3 with cipher")
    assert trace[2].protocol == "Microsoft SMTP Server"
    assert trace[0].tls is None


# --- MIME tree ------------------------------------------------------------------------


def test_rfc2046_example_tree() -> None:
    msg = mp.Message.parse(corpus("rfc/rfc2046-5-1-1-simple-boundary.eml"))
    root = msg.root
    assert root.is_multipart and root.content_type.mime_type == "multipart/mixed"
    assert len(msg.parts) == 2
    implicit, explicit = msg.parts
    # Preamble and epilogue are not parts (RFC 2046 §5.1.1); the CRLF before a delimiter
    # belongs to the delimiter.
    assert implicit.text == (
        "This is implicitly typed plain US-ASCII text.\nIt does NOT end with a linebreak."
    )
    assert explicit.charset == "us-ascii"
    assert explicit.text is not None and explicit.text.endswith("linebreak.\n")
    assert [p.content_type.mime_type for p in msg.walk()] == [
        "multipart/mixed",
        "text/plain",
        "text/plain",
    ]


def test_payload_decoding_and_charsets() -> None:
    msg = mp.Message.parse(corpus("feature/charsets.eml"))
    qp, koi8, jis, b64 = msg.parts
    assert qp.transfer_encoding == "quoted-printable"
    assert qp.payload == "Voilà le café déjà prêt, très bien.".encode("latin-1")
    assert qp.text == "Voilà le café déjà prêt, très bien."
    assert koi8.text == "Привет, мир!"
    assert jis.text == "こんにちは、世界"
    assert b64.payload == "Grüße aus Köln — ✓\n".encode()
    assert msg.text is not None and msg.text.count("\n") == 4


def test_nested_message_rfc822() -> None:
    msg = mp.Message.parse(corpus("feature/nested-rfc822.eml"))
    attached = msg.attachments
    assert len(attached) == 1 and attached[0].filename == "report.eml"
    inner = attached[0].message
    assert inner is not None
    assert inner.subject == "Quarterly report"
    assert inner.from_[0].email == "analyst@example.org"
    assert inner.text == "Revenue is up."
    assert inner.html == "<p>Revenue is <b>up</b>.</p>"
    assert bytes(inner).startswith(b"From: Analyst") and bytes(inner).endswith(b"--inner--\n")
    assert attached[0].payload == bytes(inner)
    # walk() descends into attached messages, like email.message.Message.walk().
    assert [p.content_type.mime_type for p in msg.walk()] == [
        "multipart/mixed",
        "text/plain",
        "message/rfc822",
        "multipart/alternative",
        "text/plain",
        "text/html",
    ]
    assert msg.text == "See the message below."


def test_encoded_message_part_is_decoded_then_parsed() -> None:
    msg = mp.Message.parse(corpus("feature/encoded-rfc822.eml"))
    inner = msg.attachments[0].message
    assert inner is not None and inner.subject == "Encoded inside"
    assert inner.text == "Inner body.\n"
    assert [d.kind for d in msg.defects] == ["encoded-message"]


def test_digest_parts_default_to_message_rfc822() -> None:
    msg = mp.Message.parse(corpus("feature/digest.eml"))
    subjects = [p.message.subject for p in msg.parts if p.message is not None]
    assert subjects == ["First post", "Re: First post"]
    assert all(p.content_type.mime_type == "message/rfc822" for p in msg.parts)


def test_alternative_related_bodies_and_inline_image() -> None:
    msg = mp.Message.parse(corpus("feature/alternative-related.eml"))
    assert msg.subject == "Weekly news — issue 42"
    assert msg.text == "Issue 42 — read it online."
    assert msg.html is not None and 'src="cid:logo@example.com"' in msg.html
    (logo,) = msg.attachments
    assert logo.content_id == "logo@example.com"
    assert logo.disposition == "inline" and logo.filename == "logo.png"
    assert logo.payload.startswith(b"\x89PNG\r\n\x1a\n")
    assert logo.text is None


def test_rfc2231_and_rfc2047_filenames() -> None:
    pdf, csv = mp.Message.parse(corpus("feature/rfc2231-filenames.eml")).attachments
    assert pdf.filename == "€ rates.pdf"
    assert pdf.content_type.params["name"] == "€ rates.pdf"
    assert pdf.payload.startswith(b"%PDF-1.4")
    assert csv.filename == "Größe.csv"
    assert csv.disposition == "attachment"


def test_uuencode_payload() -> None:
    msg = mp.Message.parse(corpus("feature/uuencode.eml"))
    assert msg.root.payload == b"Cat"


def test_part_bytes_are_exact() -> None:
    data = corpus("rfc/rfc2046-5-1-1-simple-boundary.eml")
    explicit = mp.Message.parse(data).parts[1]
    assert explicit.as_bytes() == (
        b"Content-type: text/plain; charset=us-ascii\n\n"
        b"This is explicitly typed plain US-ASCII text.\nIt DOES end with a linebreak.\n"
    )
    assert explicit.headers["content-type"] == "text/plain; charset=us-ascii"


def test_large_base64_attachment_decodes_exactly() -> None:
    blob = bytes(range(256)) * 4096 + b"tail"
    data = (
        b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(blob).replace(b"\n", b"\r\n")
    )
    part = mp.Message.parse(data).root
    assert part.payload == blob


# --- defects: malformed mail never raises ----------------------------------------------


@pytest.mark.parametrize(
    ("name", "kinds"),
    [
        ("malformed/close-boundary-missing.eml", ["close-boundary-not-found"]),
        ("malformed/start-boundary-missing.eml", ["start-boundary-not-found"]),
        ("malformed/multipart-without-boundary.eml", ["multipart-without-boundary"]),
        ("malformed/no-header-separator.eml", ["missing-header-body-separator"]),
        ("malformed/no-headers.eml", ["no-headers"]),
        ("malformed/truncated-base64.eml", ["invalid-base64"]),
        ("malformed/long-line.eml", ["line-too-long"]),
        ("malformed/content-type-garbage.eml", ["invalid-content-type"]),
        (
            "malformed/bad-date-and-duplicates.eml",
            ["duplicate-header", "duplicate-header", "invalid-date", "invalid-address"],
        ),
        ("feature/missing-headers.eml", ["missing-required-header"] * 2),
    ],
)
def test_defects(name: str, kinds: list[str]) -> None:
    msg = mp.Message.parse(corpus(name))
    assert [d.kind for d in msg.defects] == kinds
    for d in msg.defects:
        assert d.message and (d.offset is None or 0 <= d.offset <= len(bytes(msg)))


def test_mixed_line_endings_and_bare_lf() -> None:
    lf = HELLO.replace(b"\r\n", b"\n")
    assert mp.Message.parse(lf).defects == []  # LF-only storage is normal
    mixed = HELLO.replace(b"Subject: Hello\r\n", b"Subject: Hello\n")
    msg = mp.Message.parse(mixed)
    assert msg.subject == "Hello"
    assert [d.kind for d in msg.defects] == ["mixed-line-endings"]
    assert bytes(msg) == mixed


def test_defect_objects() -> None:
    d = mp.Defect("no-headers", "text", 3)
    assert (d.kind, d.message, d.offset) == ("no-headers", "text", 3)
    assert str(d) == "no-headers: text"
    assert repr(d) == "Defect('no-headers', 'text', offset=3)"
    same = mp.Defect("no-headers", "text", 3)
    assert d == same and hash(d) == hash(same)


# --- value semantics, pickling, interop --------------------------------------------------


def test_equality_hash_and_pickle() -> None:
    a = mp.Message.parse(HELLO)
    b = mp.Message.parse(bytearray(HELLO))
    assert a == b and hash(a) == hash(b)
    assert a != mp.Message.parse(HELLO + b"x")
    assert a != HELLO  # not equal to its bytes: different types
    for proto in range(2, pickle.HIGHEST_PROTOCOL + 1):
        c = pickle.loads(pickle.dumps(a, protocol=proto))
        assert c == a and c.subject == "Hello"
    nested = mp.Message.parse(corpus("feature/nested-rfc822.eml")).attachments[0].message
    assert pickle.loads(pickle.dumps(nested)) == nested
    assert copy.deepcopy(a) == a


def test_value_objects_pickle() -> None:
    msg = mp.Message.parse(corpus("seed/received-trace.eml"))
    values = [*msg.from_, msg.content_type, *msg.received, mp.Defect("x", "y")]
    values.append(mp.Address("A", "a@b", "G"))
    for v in values:
        assert pickle.loads(pickle.dumps(v)) == v


def test_reprs() -> None:
    msg = mp.Message.parse(HELLO)
    assert repr(msg) == (
        "<Message from='Bob Smith <Bob@machine.example>' subject='Hello' "
        f"type=text/plain parts=1 size={len(HELLO)}>"
    )
    assert repr(msg.root) == "<Part text/plain body=83 bytes>"
    assert repr(msg.headers) == "<Headers: 4 fields: From, To, Subject, Date>"
    r = mp.Message.parse(corpus("rfc/rfc5322-a4-trace.eml")).received[1]
    assert repr(r) == (
        "Received(from_host='node.example', by_host='x.y.test', date=datetime.datetime(1997, "
        "11, 21, 10, 1, 22, tzinfo=datetime.timezone(datetime.timedelta(days=-1, seconds=64800))))"
    )


def test_to_and_from_email_message() -> None:
    msg = mp.Message.parse(corpus("feature/nested-rfc822.eml"))
    em = msg.to_email_message()
    assert isinstance(em, EmailMessage)
    assert em["subject"] == msg.subject
    back = mp.Message.from_email_message(em)
    assert back.subject == msg.subject
    assert [p.content_type.mime_type for p in back.walk()] == [
        p.content_type.mime_type for p in msg.walk()
    ]
    built = EmailMessage()
    built["From"] = "Zoë <z@example.com>"
    built["Subject"] = "Grüße"
    built.set_content("hi ✓\n")
    ours = mp.Message.from_email_message(built)
    assert (ours.subject, ours.from_[0].name, ours.text) == ("Grüße", "Zoë", "hi ✓\n")
    compat = email.message_from_bytes(HELLO)  # compat32 policy works too
    assert mp.Message.from_email_message(compat).subject == "Hello"
    with pytest.raises(TypeError):
        mp.Message.from_email_message(HELLO)  # type: ignore[arg-type]


# --- Address ----------------------------------------------------------------------------


def test_address() -> None:
    a = mp.Address("Bob Smith", "bob@example.com")
    assert (a.name, a.email, a.group, a.username, a.domain) == (
        "Bob Smith",
        "bob@example.com",
        None,
        "bob",
        "example.com",
    )
    assert str(a) == "Bob Smith <bob@example.com>"
    assert str(mp.Address("Smith, Bob", "b@x.test")) == '"Smith, Bob" <b@x.test>'
    assert str(mp.Address(email="b@x.test")) == "b@x.test"
    assert repr(a) == "Address(name='Bob Smith', email='bob@example.com')"
    assert a == mp.Address.parse('"Bob Smith" <bob@example.com>')
    assert mp.Address.parse("bob@example.com (Bob Smith)") == a
    assert mp.Address.parse(b"=?utf-8?q?Zo=C3=AB?= <z@x.test>").name == "Zoë"
    assert len({a, mp.Address("Bob Smith", "bob@example.com")}) == 1


def test_address_parse_errors() -> None:
    with pytest.raises(mp.AddressError) as e:
        mp.Address.parse("no address here")
    assert isinstance(e.value, ValueError) and e.value.text == "no address here"
    with pytest.raises(mp.AddressError):
        mp.Address.parse("a@x.test, b@x.test")
    with pytest.raises(TypeError):
        mp.Address.parse(42)  # type: ignore[arg-type]


def test_address_parse_list_keeps_group_names() -> None:
    # RFC 5322 Appendix A.1.3.
    got = mp.Address.parse_list(
        "A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;, Pete <p@s.test>"
    )
    assert [(x.name, x.email, x.group) for x in got] == [
        ("Ed Jones", "c@a.test", "A Group"),
        ("", "joe@where.test", "A Group"),
        ("John", "jdoe@one.test", "A Group"),
        ("Pete", "p@s.test", None),
    ]
    assert mp.Address.parse_list("Undisclosed recipients:;") == []
    assert mp.Address.parse_list("") == []


# --- laziness and threads ---------------------------------------------------------------


def test_reading_the_subject_converts_nothing_else() -> None:
    blob = bytes(range(256)) * 40_000  # ~10 MiB attachment
    data = (
        b"From: a@example.com\r\nSubject: big\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nhi\r\n--b\r\n"
        b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(blob)
        + b"\r\n--b--\r\n"
    )
    tracemalloc.start()
    try:
        msg = mp.Message.parse(data)
        assert msg.subject == "big"
        assert msg.from_[0].email == "a@example.com"
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # No payload was decoded into a Python object: far below the attachment's size.
    assert peak < 256 * 1024
    assert msg.attachments[0].payload == blob


def test_concurrent_first_access_is_consistent() -> None:
    msg = mp.Message.parse(corpus("feature/nested-rfc822.eml"))
    results: list[object] = []

    def read() -> None:
        results.append((msg.subject, tuple(msg.to), msg.text, tuple(p.payload for p in msg.walk())))

    threads = [threading.Thread(target=read) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(results) == 8 and len(set(results)) == 1


def test_parse_many() -> None:
    items = [HELLO.replace(b"Subject: Hello", f"Subject: n{i}".encode()) for i in range(1000)]
    msgs = mp.parse_many(items, threads=2)
    assert [m.subject for m in msgs] == [f"n{i}" for i in range(1000)]
    assert msgs == [mp.Message.parse(x) for x in items]
    assert bytes(msgs[7]) is items[7]
    assert mp.parse_many(iter(items[:3])) == msgs[:3]  # any iterable, default threads
    assert mp.parse_many([]) == []
    mixed = mp.parse_many([HELLO, bytearray(HELLO), memoryview(HELLO), HELLO.decode()])
    assert len(set(mixed)) == 1


def test_parse_many_from_many_threads_at_once() -> None:
    # The worker threads are shared: callers queue behind each other but all finish.
    items = [HELLO.replace(b"Subject: Hello", f"Subject: n{i}".encode()) for i in range(500)]
    expected = [f"n{i}" for i in range(500)]
    results: list[bool] = []

    def run() -> None:
        for _ in range(5):
            results.append([m.subject for m in mp.parse_many(items, threads=3)] == expected)

    threads = [threading.Thread(target=run) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert results == [True] * 30


def test_message_objects_are_not_tracked_by_the_cycle_collector(tmp_path: Path) -> None:
    # A Message cannot be part of a cycle; untracked, big results cost the collector nothing.
    msg = mp.Message.parse(HELLO)
    assert not gc.is_tracked(msg)
    assert not any(gc.is_tracked(m) for m in mp.parse_many([HELLO] * 100, threads=2))
    assert not any(gc.is_tracked(m) for m in mp.parse_many([HELLO] * 3, threads=1))
    path = tmp_path / "hello.eml"
    path.write_bytes(HELLO)
    built = mp.Message.build(
        from_="a@example.org", to="b@example.org", subject="x", text="y", attachments=[msg]
    )
    attached = built.attachments[0].message
    assert attached is not None
    others = [
        mp.Message.parse_file(path),
        mp.Message.from_email_message(email.message_from_bytes(HELLO)),
        built,
        attached,
        msg.reply("ok", from_="alice@example.net"),
        msg.forward("c@example.org", from_="alice@example.net"),
        msg.edit().set_header("Subject", "Edited").build(),
    ]
    assert not any(gc.is_tracked(m) for m in others)
    assert msg.subject == "Hello" and msg.parts is not None  # caches still work


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_parse_many_after_fork() -> None:
    # A forked child has none of the parent's worker threads: it starts its own.
    items = [HELLO] * 1000
    assert len(mp.parse_many(items, threads=2)) == 1000  # the parent's workers exist now
    pid = os.fork()
    if pid == 0:  # the child: exit status says whether it parsed everything
        ok = False
        try:
            ok = [m.subject for m in mp.parse_many(items, threads=2)] == ["Hello"] * 1000
        finally:
            os._exit(0 if ok else 1)
    deadline = time.monotonic() + 30
    while (waited := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    if waited[0] == 0:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail("parse_many() hung in a forked child")
    assert os.waitstatus_to_exitcode(waited[1]) == 0


def test_parse_many_errors() -> None:
    with pytest.raises(ValueError):
        mp.parse_many([HELLO], threads=0)
    with pytest.raises(TypeError):
        mp.parse_many(HELLO)
    with pytest.raises(TypeError):
        mp.parse_many(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        mp.parse_many([HELLO, 42])  # type: ignore[list-item]


def test_stdlib_agrees_on_a_message_we_read() -> None:
    msg = mp.Message.parse(corpus("rfc/rfc5322-a1-2-mailbox-types.eml"))
    theirs = email.message_from_bytes(bytes(msg), policy=email.policy.default)
    assert [(a.display_name, a.addr_spec) for a in theirs["cc"].addresses] == [
        (a.name, a.email) for a in msg.cc
    ]
