"""Building messages: ``Message.build``, ``MessageBuilder`` and ``Attachment``.

Every built message is read back by mailprims and by the stdlib
(``email.message_from_bytes(policy=email.policy.default)``), which must both find exactly
what was given; the wire form is checked against RFC 5322 §2.1.1 (CRLF, lines of at most
998 octets, header lines folded at 78), RFC 2045/2047/2231 (7-bit output, encoded words,
file names) and RFC 2046 §5.1.1 (boundaries). The seed chapter's three example messages are
rebuilt, and the SMTP client sends a built message to aiosmtpd.
"""

from __future__ import annotations

import datetime
import email
import email.message
import email.policy
import email.utils
import pathlib
import re
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from smtp_peers import Recorder, aiosmtpd_server

import mailprims as mp

CORPUS = pathlib.Path(__file__).parent / "corpus"


def stdlib(m: mp.Message) -> email.message.EmailMessage:
    parsed = email.message_from_bytes(bytes(m), policy=email.policy.default)
    assert isinstance(parsed, email.message.EmailMessage)
    return parsed


def header_section(data: bytes) -> bytes:
    return data.split(b"\r\n\r\n", 1)[0]


def header_lines(data: bytes) -> list[bytes]:
    """Every header line of the message and of its parts."""
    out = []
    for block in re.split(rb"\r\n--[^\r\n]*\r\n", data):
        out.extend(header_section(block).split(b"\r\n"))
    return out


def check_wire_form(data: bytes, *, seven_bit: bool = True) -> None:
    # RFC 5322 §2.1: CRLF line endings, no bare CR or LF.
    assert all(data[i - 1 : i] == b"\r" for i in range(len(data)) if data[i : i + 1] == b"\n")
    assert all(data[i + 1 : i + 2] == b"\n" for i in range(len(data)) if data[i : i + 1] == b"\r")
    lines = data.split(b"\r\n")
    # RFC 5322 §2.1.1: at most 998 octets a line.
    assert max(len(line) for line in lines) <= 998
    if seven_bit:
        assert data.isascii()
    # Header lines are folded at 78 wherever there is whitespace to fold at.
    for line in header_lines(data):
        if len(line) > 78:
            body = line.split(b":", 1)[1] if not line[:1].isspace() else line
            assert not re.search(rb"\S[ \t]+\S", body.strip()), line


# ---------------------------------------------------------------------------------------
# The seed chapter's examples


def test_seed_hello_world_comes_out_with_the_same_header_lines() -> None:
    """The seed chapter's first message (after RFC 5322 Appendix A.1.1)."""
    m = mp.Message.build(
        from_="Bob Smith <Bob@machine.example>",
        to=["Alice Doe <alice@example.net>", mp.Address("Alice Smith", "Alice@machine.example")],
        subject="Hello",
        headers={"Date": "Mon, 8 Mar 2010 19:55:06 -0600"},
        text='This is the "Hello world" of email messages.\nThis is the second line of the body\n',
    )
    data = bytes(m)
    for line in (
        b"From: Bob Smith <Bob@machine.example>\r\n",
        b"To: Alice Doe <alice@example.net>, Alice Smith <Alice@machine.example>\r\n",
        b"Subject: Hello\r\n",
        b"Date: Mon, 8 Mar 2010 19:55:06 -0600\r\n",
        b"MIME-Version: 1.0\r\n",
    ):
        assert line in header_section(data) + b"\r\n"
    assert data.endswith(
        b'\r\n\r\nThis is the "Hello world" of email messages.\r\n'
        b"This is the second line of the body\r\n"
    )
    assert m.message_id is not None and m.message_id.endswith("@machine.example")
    assert m.defects == []
    check_wire_form(data)


def test_seed_rfc2046_multipart_example() -> None:
    """RFC 2046 §5.1.1's example (the seed chapter's multipart message): same header
    fields, same two parts."""
    original = mp.Message.parse((CORPUS / "rfc/rfc2046-5-1-1-simple-boundary.eml").read_bytes())
    b = mp.MessageBuilder(
        from_=original.from_,
        to=original.to,
        subject=original.subject,
        date=original.headers["Date"],
    )
    for part in original.parts:
        # The corpus file has LF line endings; the canonical form (RFC 2046 §4.1.1) is CRLF.
        crlf = part.payload.replace(b"\n", b"\r\n")
        b.add_attachment(mp.Attachment(None, crlf, "text/plain; charset=us-ascii", inline=True))
    built = b.build()
    for name in ("From", "To", "Date", "Subject", "MIME-Version"):
        assert built.headers.fields(name)[0].raw == original.headers.fields(name)[0].raw.replace(
            b"\n", b"\r\n"
        )
    assert built.content_type.mime_type == "multipart/mixed"
    assert [p.payload for p in built.parts] == [
        p.payload.replace(b"\n", b"\r\n") for p in original.parts
    ]
    assert [p.transfer_encoding for p in built.parts] == ["7bit", "7bit"]
    assert [p.text for p in built.parts] == [
        "This is implicitly typed plain US-ASCII text.\r\nIt does NOT end with a linebreak.",
        "This is explicitly typed plain US-ASCII text.\r\nIt DOES end with a linebreak.\r\n",
    ]
    check_wire_form(bytes(built))


ALICE_BODY = (
    "Hello Bob\nThis is a small message containing 4 lines of text.\nBest regards,\nAlice\n"
)


def alice_message(**extra: Any) -> mp.Message:
    """Alice's message from the seed chapter's SMTP session."""
    return mp.Message.build(
        from_='"Alice Doe" <alice@example.org>',
        to="Bob Smith <bob@example.com>",
        subject="Hello",
        headers={"Date": "Mon, 9 Mar 2010 18:22:32 +0100"},
        text=ALICE_BODY,
        **extra,
    )


def test_seed_alice_message() -> None:
    m = alice_message()
    section = header_section(bytes(m)) + b"\r\n"
    assert b"To: Bob Smith <bob@example.com>\r\n" in section
    assert b"Date: Mon, 9 Mar 2010 18:22:32 +0100\r\n" in section
    assert b"Subject: Hello\r\n" in section
    # "Alice Doe" needs no quotes (RFC 5322 §3.2.3: atoms); the address reads the same.
    assert b"From: Alice Doe <alice@example.org>\r\n" in section
    assert m.from_ == [mp.Address("Alice Doe", "alice@example.org")]
    assert m.date == datetime.datetime(
        2010, 3, 9, 18, 22, 32, tzinfo=datetime.timezone(datetime.timedelta(hours=1))
    )
    assert m.text == ALICE_BODY.replace("\n", "\r\n")


def test_smtp_client_sends_a_built_message_and_strips_bcc() -> None:
    """End to end against aiosmtpd: the envelope comes from the built headers, Bcc is kept
    in the Message but never transmitted (RFC 5322 §3.6.3)."""
    m = alice_message(bcc="Carol <carol@example.com>")
    assert m.bcc == [mp.Address("Carol", "carol@example.com")]
    handler = Recorder()
    with (
        aiosmtpd_server(handler) as server,
        mp.SmtpClient("127.0.0.1", server.port, tls="none", timeout=5) as client,
    ):
        result = client.send(m)
    (got,) = handler.messages
    assert got.mail_from == "alice@example.org"
    assert got.rcpt_tos == ["bob@example.com", "carol@example.com"]
    assert result.accepted == got.rcpt_tos
    assert b"Bcc" not in got.content and b"carol@" not in got.content
    received = mp.Message.parse(got.content)
    assert received.text == m.text and received.message_id == m.message_id


# ---------------------------------------------------------------------------------------
# Structure, encodings, defaults


def test_structure_text_html_inline_images_and_attachments() -> None:
    m = mp.Message.build(
        from_="a@example.com",
        to="b@example.com",
        subject="Report",
        text="See the chart.",
        html='<p>See <img src="cid:chart@example.com"></p>',
        attachments=[
            mp.Attachment("chart.png", b"\x89PNG\r\n", inline=True, content_id="chart@example.com"),
            ("rates.csv", b"a,b\r\n1,2\r\n"),
            ("data.bin", bytes(range(256))),
        ],
    )
    types = [p.content_type.mime_type for p in m.walk()]
    assert types == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "multipart/related",
        "text/html",
        "image/png",
        "text/csv",
        "application/octet-stream",
    ]
    png, csv, data = m.attachments
    assert (png.content_id, png.disposition, png.payload) == (
        "chart@example.com",
        "inline",
        b"\x89PNG\r\n",
    )
    assert (csv.filename, csv.transfer_encoding, csv.payload) == (
        "rates.csv",
        "7bit",
        b"a,b\r\n1,2\r\n",
    )
    assert (data.transfer_encoding, data.payload) == ("base64", bytes(range(256)))
    assert m.mime_version == "1.0" and m.defects == []
    check_wire_form(bytes(m))
    # The stdlib sees the same structure.
    em = stdlib(m)
    assert em.get_body(("html",)).get_content().startswith("<p>See")  # type: ignore[union-attr]
    assert [p.get_filename() for p in em.iter_attachments()] == ["rates.csv", "data.bin"]


def test_defaults_date_message_id_mime_version() -> None:
    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    m = mp.Message.build(from_="Zoë <zoe@sub.example.org>", text="x")
    after = datetime.datetime.now(datetime.timezone.utc)
    assert m.date is not None and before <= m.date <= after
    # RFC 5322 §3.6.4: unique, with the sender's domain on the right.
    assert m.message_id is not None
    left, right = m.message_id.split("@")
    assert right == "sub.example.org" and len(left) > 20
    other = mp.Message.build(from_="zoe@sub.example.org", text="x")
    assert other.message_id != m.message_id
    assert m.mime_version == "1.0"
    assert re.search(
        rb"\r\nDate: \w{3}, \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}\r\n", bytes(m)
    )


def test_dates_from_datetime() -> None:
    tz = datetime.timezone(datetime.timedelta(hours=-6))
    m = mp.MessageBuilder(
        from_="a@example.com", date=datetime.datetime(2010, 3, 8, 19, 55, 6, tzinfo=tz)
    ).build()
    assert m.headers["Date"] == "Mon, 8 Mar 2010 19:55:06 -0600"
    naive = datetime.datetime(2020, 1, 2, 3, 4, 5)
    m = mp.MessageBuilder(from_="a@example.com", date=naive).build()
    assert m.date == naive.astimezone()
    with pytest.raises(ValueError, match="1900"):
        mp.MessageBuilder(from_="a@example.com", date=datetime.datetime(1800, 1, 1, tzinfo=tz))
    with pytest.raises(ValueError, match="date"):
        mp.MessageBuilder(from_="a@example.com", date="yesterday")


def test_transfer_encodings_per_part() -> None:
    m = mp.Message.build(
        from_="a@example.com",
        text="plain ascii\n",
        html="<p>Voilà, the summary of the meeting.</p>",
        attachments=[("long.txt", ("x" * 200 + "\r\n").encode())],
    )
    text, html = m.parts[0].parts
    assert text.transfer_encoding == "7bit"
    assert html.transfer_encoding == "quoted-printable"
    assert m.attachments[0].transfer_encoding == "base64"
    japanese = mp.Message.build(from_="a@example.com", text="日本語のテキスト" * 20)
    assert japanese.root.transfer_encoding == "base64"
    assert japanese.text == "日本語のテキスト" * 20 + "\r\n"


def test_eight_bit_and_utf8_output() -> None:
    m = mp.Message.build(from_="a@example.com", text="Grüße\n", eight_bit=True)
    assert m.root.transfer_encoding == "8bit" and "Grüße".encode() in bytes(m)
    assert b"=?" not in bytes(m)
    u = mp.Message.build(
        from_="Jürgen <jürgen@bücher.example>", subject="Grüße", text="x", utf8=True
    )
    assert "From: Jürgen <jürgen@bücher.example>\r\n".encode() in bytes(u)
    assert "Subject: Grüße\r\n".encode() in bytes(u)
    assert u.from_ == [mp.Address("Jürgen", "jürgen@bücher.example")]
    assert u.message_id is not None and u.message_id.endswith("@bücher.example")
    check_wire_form(bytes(u), seven_bit=False)
    with pytest.raises(mp.AddressError, match="utf8=True"):
        mp.Message.build(from_="jürgen@bücher.example", text="x")


def test_boundaries_are_random_and_not_in_the_content() -> None:
    """RFC 2046 §5.1.1: the boundary must not appear in the encapsulated parts. A body
    that contains `--=_` lines of its own still parses into the given parts."""
    tricky = "".join(f"--=_{i:032x}\n" for i in range(50))
    messages = [
        mp.Message.build(from_="a@example.com", text=tricky, html=tricky, attachments=[("a", b"x")])
        for _ in range(3)
    ]
    boundaries = set()
    for m in messages:
        for p in m.walk():
            if p.is_multipart:
                b = p.content_type.params["boundary"]
                boundaries.add(b)
                delimiters = re.findall(
                    rb"(?m)^--" + re.escape(b.encode()) + rb"(--)?\r$", bytes(m)
                )
                assert len(delimiters) == len(p.parts) + 1
        assert m.text == tricky.replace("\n", "\r\n")
    assert len(boundaries) == 6


def test_attachment_objects_and_type_guessing(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(b"%PDF-1.4\n")
    a = mp.Attachment.from_path(path)
    assert (a.filename, a.content_type, a.data, a.inline) == (
        "report.pdf",
        "application/pdf",
        b"%PDF-1.4\n",
        False,
    )
    assert mp.Attachment("x.tar.gz", b"").content_type == "application/octet-stream"
    assert mp.Attachment("noext", b"").content_type == "application/octet-stream"
    assert mp.Attachment("notes.txt", "text").content_type == "text/plain"
    assert mp.Attachment("a.bin", b"", "Text/Plain; Charset=us-ascii").content_type == (
        "text/plain; charset=us-ascii"
    )
    img = mp.Attachment("logo.png", b"\x89PNG", inline=True, content_id="<logo@x>")
    assert (img.content_id, img.inline) == ("logo@x", True)
    assert "logo.png" in repr(img)
    m = mp.Message.build(
        from_="a@example.com", attachments=[path, str(path), a, ("bytes.dat", bytearray(b"ab"))]
    )
    assert [p.filename for p in m.attachments] == ["report.pdf"] * 3 + ["bytes.dat"]
    assert m.attachments[3].payload == b"ab"
    with pytest.raises(FileNotFoundError):
        mp.Attachment.from_path(tmp_path / "missing")
    with pytest.raises(TypeError):
        mp.Message.build(from_="a@example.com", attachments=[42])
    with pytest.raises(TypeError, match="a list of attachments"):
        mp.Message.build(from_="a@example.com", attachments=str(path))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="in a list"):
        mp.Message.build(from_="a@example.com", attachments=("a.txt", b"x"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="multipart"):
        mp.Attachment("a", b"", "multipart/mixed")
    with pytest.raises(ValueError, match="type/subtype"):
        mp.Attachment("a", b"", "nonsense")


def test_non_ascii_file_names_in_rfc2231_and_rfc2047() -> None:
    """RFC 2231 ``filename*`` for readers that follow the RFCs, RFC 2047 in ``name`` for
    those that only know encoded words; both fold within 78 columns."""
    name = "Größe — ein sehr langer Dateiname für den Bericht des Jahres 2026.pdf"
    m = mp.Message.build(from_="a@example.com", attachments=[(name, b"%PDF")])
    (part,) = m.attachments
    raw = part.as_bytes()
    assert b"filename*0*=UTF-8''Gr%C3%B6%C3%9Fe" in raw
    assert b'name="=?utf-8?' in raw
    assert part.filename == name
    (theirs,) = stdlib(m).iter_attachments()
    assert theirs.get_filename() == name
    assert theirs.get_param("name") == name  # decoded from the encoded words alone
    check_wire_form(bytes(m))


def test_attached_message_is_kept_as_it_is() -> None:
    inner = mp.Message.parse(b"Subject: inner\r\nFrom: x@example.com\r\n\r\nInner \xe9 body\r\n")
    m = mp.Message.build(from_="a@example.com", text="see attached", attachments=[inner])
    part = m.attachments[0]
    assert part.content_type.mime_type == "message/rfc822"
    assert part.transfer_encoding == "8bit"  # RFC 2046 §5.2.1: never base64
    assert part.message is not None and part.message.as_bytes() == bytes(inner)
    assert stdlib(m).get_payload()[1].get_content()["subject"] == "inner"  # type: ignore[index]


def test_message_builder_full_control() -> None:
    b = mp.MessageBuilder(from_="a@example.com", to=["b@example.com"], subject="s")
    b.add_header("X-Mailer", "mailprims").add_header(
        "Received", "from a by b; Mon, 8 Mar 2010 19:55:06 -0600"
    )
    b.add_header("Received", "from c by d; Mon, 8 Mar 2010 19:55:05 -0600")
    b.set_header("Subject", "replaced").set_header("Sender", mp.Address("Sec", "sec@example.com"))
    b.set_header("Message-ID", "<fixed@example.com>").set_header("References", ["<r1@x>", "r2@x"])
    b.text = "body"
    b.html = None
    b.remove_header("X-Nothing")
    assert ("Subject", "replaced") in b.headers
    with pytest.raises(ValueError, match="only once"):
        b.add_header("subject", "again")
    with pytest.raises(ValueError, match="written by the builder"):
        b.set_header("Content-Type", "text/html")
    with pytest.raises(ValueError, match="not a valid header field name"):
        b.set_header("Bad Name", "x")
    with pytest.raises(TypeError):
        b.set_header("Subject", 42)
    m = b.build()
    assert m.subject == "replaced" and m.message_id == "fixed@example.com"
    assert m.references == ["r1@x", "r2@x"]
    assert m.sender == [mp.Address("Sec", "sec@example.com")]
    assert m.headers.get_all("Received")[1].startswith("from c by d")
    assert m.headers["X-Mailer"] == "mailprims"
    assert b.as_bytes().startswith(b"From: a@example.com\r\nTo: b@example.com\r\n")
    assert "MessageBuilder" in repr(b)
    with pytest.raises(ValueError, match="From"):
        mp.MessageBuilder(to="b@example.com").build()
    # RFC 5322 §3.6.2: several authors need a Sender.
    authors = mp.MessageBuilder(from_="a@example.com, b@example.com")
    with pytest.raises(ValueError, match="Sender"):
        authors.build()
    assert len(authors.set_header("Sender", "a@example.com").build().from_) == 2


def test_to_email_message_on_built_messages() -> None:
    m = alice_message(cc=["c@example.com"], reply_to="r@example.com")
    em = m.to_email_message()
    assert em["From"] == "Alice Doe <alice@example.org>"
    assert em["Cc"] == "c@example.com"
    assert em["Reply-To"] == "r@example.com"
    assert em.get_content() == ALICE_BODY.replace("\n", "\r\n")


# ---------------------------------------------------------------------------------------
# Header injection


BREAKS = ["\r\nBcc: evil@example.com", "\rX", "\nX", "\0X"]


@pytest.mark.parametrize("brk", BREAKS, ids=["crlf", "cr", "lf", "nul"])
def test_header_injection_is_refused(brk: str) -> None:
    """CR, LF and NUL can never reach the output, wherever they are given."""

    def build(**kwargs: Any) -> mp.Message:
        return mp.Message.build(**{"from_": "a@example.com", **kwargs})

    parsed = mp.Message.parse(b"From: a@example.com\r\nTo: b@example.com\r\n\r\nhi\r\n")
    attempts: list[tuple[type[Exception], Callable[[], object]]] = [
        (ValueError, lambda: build(subject="hi" + brk)),
        (mp.AddressError, lambda: build(from_="a@example.com" + brk)),
        (mp.AddressError, lambda: build(from_=f"A{brk} <a@example.com>")),
        (mp.AddressError, lambda: build(to="b@example.com" + brk)),
        (mp.AddressError, lambda: build(to=[mp.Address("B" + brk, "b@example.com")])),
        (mp.AddressError, lambda: build(to=[mp.Address("B", "b@example.com" + brk)])),
        (mp.AddressError, lambda: build(cc=["c@example.com", "d@example.com" + brk])),
        (ValueError, lambda: build(headers={"X-Tag": "v" + brk})),
        (ValueError, lambda: build(headers={"X-Tag" + brk: "v"})),
        (ValueError, lambda: build(headers={"Message-ID": "<a" + brk + "@b>"})),
        (ValueError, lambda: build(attachments=[("a" + brk + ".txt", b"x")])),
        (ValueError, lambda: mp.Attachment("a", b"x", content_id="c" + brk)),
        (ValueError, lambda: mp.Attachment("a", b"x", "text/plain; x=" + brk)),
        (ValueError, lambda: mp.MessageBuilder(from_="a@example.com").set_header("X-A", brk)),
        (ValueError, lambda: parsed.reply("x", headers={"X-Tag": "v" + brk})),
        (ValueError, lambda: parsed.edit().set_header("Subject", "s" + brk)),
        (ValueError, lambda: parsed.edit().add_header("X" + brk, "s")),
        (mp.AddressError, lambda: parsed.forward("b@example.com" + brk)),
        (mp.AddressError, lambda: parsed.reply("x", from_="me@example.com" + brk)),
    ]
    for i, (exc, attempt) in enumerate(attempts):
        with pytest.raises(exc):
            attempt()
            pytest.fail(f"attempt {i} was not refused")


def test_invalid_addresses_name_the_text() -> None:
    for bad in ["bob", "bob@", "@example.com", "a b@example.com", "a..b@example.com", "<>"]:
        with pytest.raises(mp.AddressError) as info:
            mp.Message.build(from_="a@example.com", to=bad)
        assert info.value.text == bad
        assert isinstance(info.value, ValueError)


# ---------------------------------------------------------------------------------------
# Round trips (hypothesis)

# Text without lone surrogates (which cannot be encoded) and without NUL, CR, LF in
# header values.
HEADER_TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\0"), max_size=120
)
NAME = HEADER_TEXT.filter(lambda s: s == s.strip()).map(lambda s: s[:60].strip())
LOCAL = st.from_regex(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,16}(\.[A-Za-z0-9_-]{1,8})?", fullmatch=True
)
DOMAIN = st.sampled_from(
    ["example.com", "mail.example.org", "xn--bcher-kva.example", "[192.0.2.1]"]
)
EMAIL = st.builds(lambda local, domain: f"{local}@{domain}", LOCAL, DOMAIN)
ADDRESS = st.builds(mp.Address, NAME, EMAIL)
BODY = st.text(st.characters(blacklist_categories=("Cs",)), max_size=400)
FILENAME = (
    st.text(
        st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\0"),
        min_size=1,
        max_size=80,
    )
    .filter(lambda s: s == s.strip() and s != "")
    .filter(lambda s: not (mp.Attachment(s, b"").content_type.startswith("message/")))
)
ATTACHMENT = st.tuples(FILENAME, st.binary(max_size=600))
OFFSET = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(
    lambda m: datetime.timezone(datetime.timedelta(minutes=m))
)
DATE = st.builds(
    lambda d, tz: d.replace(tzinfo=tz),
    st.datetimes(datetime.datetime(1970, 1, 1), datetime.datetime(2100, 1, 1)).map(
        lambda d: d.replace(microsecond=0)
    ),
    OFFSET,
)


def lines(text: str) -> str:
    return re.sub(r"\r\n|\r|\n", "\n", text)


def ended(text: str) -> str:
    """``text`` with LF line breaks and, as the builder makes it, a final one."""
    text = lines(text)
    return text if not text or text.endswith("\n") else text + "\n"


@given(
    sender=ADDRESS,
    to=st.lists(ADDRESS, min_size=1, max_size=4),
    cc=st.lists(ADDRESS, max_size=3),
    subject=HEADER_TEXT,
    text=st.none() | BODY,
    html=st.none() | BODY,
    attachments=st.lists(ATTACHMENT, max_size=3),
    date=DATE,
    tag=HEADER_TEXT,
)
def test_round_trip_through_mailprims_and_the_stdlib(
    sender: mp.Address,
    to: list[mp.Address],
    cc: list[mp.Address],
    subject: str,
    text: str | None,
    html: str | None,
    attachments: list[tuple[str, bytes]],
    date: datetime.datetime,
    tag: str,
) -> None:
    m = mp.MessageBuilder(
        from_=sender,
        to=to,
        cc=cc,
        subject=subject,
        date=date,
        text=text,
        html=html,
        attachments=attachments,
        headers={"X-Tag": tag},
    ).build()
    data = bytes(m)
    check_wire_form(data)

    # mailprims reads back what was given.
    assert m.defects == []
    assert m.from_ == [sender]
    assert m.to == to and m.cc == cc
    assert m.subject == subject
    assert m.headers["X-Tag"] == tag
    assert m.date == date and m.date is not None and m.date.utcoffset() == date.utcoffset()
    if text is None and html is None and not attachments:
        assert m.text == ""  # a message needs a body: an empty text/plain one
    else:
        assert m.text == (None if text is None else ended(text).replace("\n", "\r\n"))
    assert m.html == (None if html is None else ended(html).replace("\n", "\r\n"))
    assert [(a.filename, a.payload) for a in m.attachments] == attachments

    # So does the stdlib, but for two bugs of its display-name reader in the Pythons this
    # runs on: the whitespace between adjacent encoded words is kept (CPython gh-128110,
    # RFC 2047 §6.2 says to drop it) and whitespace inside an encoded word becomes one space.
    em = stdlib(m)

    def squeeze(s: str) -> str:
        return "".join(s.split())

    for header, expected in (("from", [sender]), ("to", to), ("cc", cc)):
        got = [(a.display_name, a.addr_spec) for a in em[header].addresses] if expected else []
        assert [(squeeze(n), e) for n, e in got] == [(squeeze(a.name), a.email) for a in expected]
    assert str(em["subject"]) == subject
    assert str(em["x-tag"]) == tag
    assert em["date"].datetime == date
    if text is not None:
        body = em.get_body(("plain",))
        assert body is not None and lines(body.get_content()) == ended(text)
    if html is not None:
        body = em.get_body(("html",))
        assert body is not None and lines(body.get_content()) == ended(html)
    # get_filename() also unquotes the name once more (email.utils.unquote): a name in
    # <angle brackets> or "quotes" loses them, whatever the field says.
    got = [(p.get_filename(), p.get_payload(decode=True)) for p in em.iter_attachments()]
    assert got == [(email.utils.unquote(name), data) for name, data in attachments]
