"""Editing parsed messages (``Message.edit()``), replies and forwards.

The editor's promise: whatever is not edited stays byte for byte as it was. Every message of
the corpora (tests/corpus and CPython's test_email/data) gets one header changed, and a line
diff against the original must show that header and nothing else; adding and removing
attachments and replacing bodies must leave every other part's bytes in place. Replies follow
RFC 5322 §3.6.3 and §3.6.4 (checked against Appendix A.2's own reply chain); forwards carry
the original as message/rfc822.
"""

from __future__ import annotations

import difflib
import email
import email.policy
from pathlib import Path

import pytest

import mailprims as mp

CORPUS = Path(__file__).parent / "corpus"

try:
    import test.test_email as _cpython_email_tests

    CPYTHON = Path(_cpython_email_tests.__file__).parent / "data"
except ImportError:  # pragma: no cover - distributions may strip the test package
    CPYTHON = Path("/nonexistent")

MESSAGES = sorted(CORPUS.glob("*/*.eml")) + (
    sorted(CPYTHON.glob("msg_*.txt")) if CPYTHON.is_dir() else []
)


def test_corpora_are_present() -> None:
    # Not vacuous: both corpora are there.
    assert len([p for p in MESSAGES if p.suffix == ".eml"]) >= 40
    assert len([p for p in MESSAGES if p.name.startswith("msg_")]) >= 40


def lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


def changed_lines(before: bytes, after: bytes) -> tuple[list[bytes], list[bytes]]:
    """The lines the diff removes and adds."""
    removed: list[bytes] = []
    added: list[bytes] = []
    a, b = lines(before), lines(after)
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op != "equal":
            removed += a[i1:i2]
            added += b[j1:j2]
    return removed, added


@pytest.mark.parametrize("path", MESSAGES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_changing_one_header_changes_only_that_header(path: Path) -> None:
    data = path.read_bytes()
    m = mp.Message.parse(data)
    edited = m.edit().set_header("Subject", "Edited: ünïcode").as_bytes()
    eol = b"\r\n" if lines(data)[0].endswith(b"\r\n") else b"\n"
    again = mp.Message.parse(edited)
    (field,) = again.headers.fields("Subject")
    new_line = field.raw
    assert new_line.startswith(b"Subject: =?utf-8?") and new_line.endswith(eol)
    assert new_line.count(b"\n") == 1
    removed, added = changed_lines(data, edited)
    old_subject_lines = [line for f in m.headers.fields("Subject") for line in lines(f.raw)]
    assert sorted(removed) == sorted(old_subject_lines)
    if m.headers.fields("Subject"):
        assert added == [new_line] or (
            # The last field ended the input without a line break.
            added == [new_line, *removed[1:]] and not data.endswith(b"\n")
        )
    else:
        # Added after the last field; a message without a header section also gets the
        # empty line that ends one.
        assert added in ([new_line], [new_line, eol], [eol, new_line])
    assert again.subject == "Edited: ünïcode"
    assert again.headers.get_all("Subject") == ["Edited: ünïcode"]


@pytest.mark.parametrize("path", MESSAGES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_adding_and_removing_an_attachment_keeps_every_other_part(path: Path) -> None:
    data = path.read_bytes()
    m = mp.Message.parse(data)
    edited = m.edit().add_attachment(("added.bin", b"\x00\x01\xfe\xff")).build()
    out = bytes(edited)
    # Every part below the top-level entity is still there, byte for byte.
    for part in list(m.walk())[1:]:
        assert part.as_bytes() in out
    # The header fields other than the MIME ones are unchanged.
    for f in m.headers.fields():
        if not f.name.lower().startswith("content-"):
            assert f.raw in out
    added = [a for a in edited.attachments if a.filename == "added.bin"]
    assert len(added) == 1 and added[0].payload == b"\x00\x01\xfe\xff"
    # The original content is readable in the edited message.
    assert edited.root.content_type.mime_type == "multipart/mixed"
    if not m.root.is_multipart:
        assert edited.parts[0].payload == m.root.payload
    # And the attachment can go again.
    removed = edited.edit().remove_attachment("added.bin").build()
    assert not [a for a in removed.attachments if a.filename == "added.bin"]
    for part in list(m.walk())[1:]:
        assert part.as_bytes() in bytes(removed)


def test_replacing_bodies_keeps_the_rest() -> None:
    data = (CORPUS / "feature/alternative-related.eml").read_bytes()
    m = mp.Message.parse(data)
    edited = m.edit().set_text("New plain text.\n").build()
    assert edited.text == "New plain text.\r\n".replace(
        "\r\n", "\n" if b"\r\n" not in data else "\r\n"
    )
    assert edited.html == m.html
    for part in m.walk():
        if part.content_type.mime_type != "text/plain" and not part.is_multipart:
            assert part.as_bytes() in bytes(edited)
    edited = m.edit().set_html("<p>new</p>").build()
    # A text without a final line break gets one (as the stdlib's set_content gives it).
    nl = "\r\n" if b"\r\n" in data else "\n"
    assert edited.html == "<p>new</p>" + nl and edited.text == m.text
    assert [a.payload for a in edited.attachments] == [a.payload for a in m.attachments]


def test_body_edits_on_a_plain_message() -> None:
    m = mp.Message.parse(
        b"From: a@example.com\r\nSubject: s\r\nDate: Mon, 8 Mar 2010 19:55:06 -0600\r\n\r\nold\r\n"
    )
    e = m.edit().set_text("new")
    assert e.build().text == "new\r\n"
    assert e.build().mime_version == "1.0"
    e.set_html("<b>new</b>")
    built = e.build()
    assert built.content_type.mime_type == "multipart/alternative"
    assert (built.text, built.html) == ("new\r\n", "<b>new</b>\r\n")
    e.add_attachment(mp.Attachment("logo.png", b"\x89PNG", inline=True, content_id="logo"))
    e.add_attachment(("a.txt", "attached text"))
    built = e.build()
    assert [p.content_type.mime_type for p in built.walk()] == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "multipart/related",
        "text/html",
        "image/png",
        "text/plain",
    ]
    assert built.defects == []
    assert built.headers.fields("Subject")[0].raw == b"Subject: s\r\n"
    # Parts of the current message can be removed; stale ones are refused.
    e.remove_attachment(e.build().attachments[0])
    assert [a.filename for a in e.build().attachments] == ["a.txt"]
    with pytest.raises(ValueError, match="not from the message being edited"):
        e.remove_attachment(built.attachments[0])
    e.remove_attachment(-1)
    assert e.build().attachments == []
    with pytest.raises(IndexError):
        e.remove_attachment(0)
    with pytest.raises(ValueError, match="no attachment named"):
        e.remove_attachment("nope.txt")
    # The stdlib reads the result.
    em = email.message_from_bytes(e.as_bytes(), policy=email.policy.default)
    assert em.get_body(("html",)).get_content() == "<b>new</b>\r\n"  # type: ignore[union-attr]


def test_header_edits() -> None:
    raw = (
        b"From: a@example.com\nTo: b@example.com\nX-Keep:  odd   spacing\n"
        b"Subject: one\nSubject: two\n\nbody\n"
    )
    m = mp.Message.parse(raw)
    e = m.edit().set_header("subject", "three")
    assert e.as_bytes() == raw.replace(b"Subject: one\nSubject: two\n", b"subject: three\n")
    e.add_header("Cc", [mp.Address("Carol", "c@example.com")]).remove_header("To")
    out = e.as_bytes()
    assert b"X-Keep:  odd   spacing\n" in out and b"To:" not in out
    assert e.build().cc == [mp.Address("Carol", "c@example.com")]
    with pytest.raises(ValueError, match="only once"):
        e.add_header("Cc", "d@example.com")
    with pytest.raises(ValueError, match="written by the builder"):
        e.set_header("Content-Type", "text/html")
    with pytest.raises(mp.AddressError):
        e.set_header("To", "not an address")
    assert "MessageEditor" in repr(e)
    # An attached message is edited as a message of its own.
    outer = mp.Message.build(from_="x@example.com", attachments=[m])
    inner = outer.attachments[0].message
    assert inner is not None
    assert inner.edit().set_header("Subject", "inner").build().subject == "inner"


# ---------------------------------------------------------------------------------------
# Replies and forwards


def test_reply_follows_rfc5322_appendix_a2() -> None:
    """Replying to A.2's reply gives the fields of A.2's reply to the reply."""
    parent = mp.Message.parse((CORPUS / "rfc/rfc5322-a2-reply.eml").read_bytes())
    expected = mp.Message.parse((CORPUS / "rfc/rfc5322-a2-reply-to-reply.eml").read_bytes())
    r = parent.reply("Thanks.", from_="John Doe <jdoe@machine.example>")
    assert r.to == [mp.Address("Mary Smith: Personal Account", "smith@home.example")]
    assert r.from_ == expected.from_
    assert r.subject == expected.subject == "Re: Saying Hello"
    assert r.in_reply_to == expected.in_reply_to
    assert r.references == expected.references
    assert r.text == "Thanks.\r\n"
    # Without from_, the reply comes from the parent's recipient.
    assert parent.reply("x").from_ == [mp.Address("John Doe", "jdoe@machine.example")]


def test_reply_threading_without_references() -> None:
    m = mp.Message.parse(
        b"From: a@x.example\r\nTo: b@x.example\r\nIn-Reply-To: <p@x>\r\nMessage-ID: <c@x>\r\n\r\n"
    )
    r = m.reply("ok")
    assert r.in_reply_to == ["c@x"] and r.references == ["p@x", "c@x"]
    bare = mp.Message.parse(b"From: a@x.example\r\nTo: b@x.example\r\n\r\n")
    r = bare.reply("ok")
    assert r.in_reply_to == [] and r.references == []
    assert "In-Reply-To" not in r.headers


def test_reply_subject_does_not_stack() -> None:
    for subject, expected in [
        ("Hello", "Re: Hello"),
        ("Re: Hello", "Re: Hello"),
        ("RE: Re: Hello", "Re: Hello"),
        ("Aw: Hello", "Re: Hello"),
        ("Fwd: Hello", "Re: Fwd: Hello"),
        ("=?utf-8?q?Re=3A_caf=C3=A9?=", "Re: café"),
    ]:
        m = mp.Message.parse(
            f"From: a@x.example\r\nTo: b@x.example\r\nSubject: {subject}\r\n\r\n".encode()
        )
        assert m.reply("x").subject == expected


def test_reply_all_and_quote() -> None:
    m = mp.Message.parse(
        b"From: Ann <ann@x.example>\r\nTo: me@x.example, bob@x.example\r\n"
        b"Cc: carol@x.example, ANN@x.example\r\nDate: Mon, 8 Mar 2010 19:55:06 -0600\r\n"
        b"Subject: plans\r\n\r\nShall we?\r\n> earlier\r\n"
    )
    r = m.reply("Yes.", reply_all=True, from_="Me <me@x.example>", quote=True)
    assert [a.email for a in r.to] == ["ann@x.example", "bob@x.example"]
    assert [a.email for a in r.cc] == ["carol@x.example"]
    assert r.text == (
        "Yes.\r\n\r\nOn Mon, 8 Mar 2010 19:55:06 -0600, Ann wrote:\r\n> Shall we?\r\n>> earlier\r\n"
    )
    with pytest.raises(ValueError, match="no Reply-To or From"):
        mp.Message.parse(b"To: b@x.example\r\n\r\n").reply("x")
    with pytest.raises(ValueError, match="from_"):
        mp.Message.parse(b"From: a@x.example\r\n\r\n").reply("x")


def test_forward_attaches_the_original_unchanged() -> None:
    original = (
        (CORPUS / "rfc/rfc2049-appendix-a-complex.eml")
        .read_bytes()
        .replace(b"\r\n", b"\n")
        .replace(b"\n", b"\r\n")
    )
    m = mp.Message.parse(original)
    f = m.forward("Dan <dan@x.example>", from_="me@x.example", text="FYI")
    assert f.subject == "Fwd: " + (m.subject or "")
    assert f.to == [mp.Address("Dan", "dan@x.example")]
    assert f.text == "FYI\r\n"
    (attached,) = f.attachments
    assert attached.content_type.mime_type == "message/rfc822"
    assert attached.message is not None
    assert attached.message.as_bytes() == original  # byte for byte inside
    assert attached.payload == original
    # The stdlib reads it as an attached message too.
    em = email.message_from_bytes(bytes(f), policy=email.policy.default)
    (part,) = list(em.iter_attachments())
    assert part.get_content_type() == "message/rfc822"
    assert part.get_content()["subject"] == m.subject
    # A message with bare LF line endings goes in with CRLF (RFC 5322 §2.1).
    lf = mp.Message.parse(original.replace(b"\r\n", b"\n"))
    assert lf.forward("d@x.example", from_="me@x.example").attachments[0].payload == original
    assert m.forward(from_="me@x.example", subject="see this").subject == "see this"
