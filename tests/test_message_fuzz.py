"""Property tests: random and mutated messages never make the parser raise, and messages
the stdlib writes come back with the structure they were built with."""

from __future__ import annotations

from email.mime.application import MIMEApplication
from email.mime.base import MIMEBase
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

import mailprims as mp

CORPUS = sorted((Path(__file__).parent / "corpus").glob("*/*.eml"))
SEEDS = [p.read_bytes() for p in CORPUS]

# Pieces that steer random input towards the parser's decisions.
FRAGMENTS = [
    b"\r\n",
    b"\n",
    b"\r\n\r\n",
    b"--",
    b"--b",
    b"--b--",
    b"Content-Type: multipart/mixed; boundary=b\r\n",
    b"Content-Type: message/rfc822\r\n",
    b"Content-Type: multipart/digest; boundary=b\r\n",
    b"Content-Transfer-Encoding: base64\r\n",
    b"Content-Transfer-Encoding: quoted-printable\r\n",
    b"Content-Transfer-Encoding: x-uuencode\r\n",
    b"Content-Disposition: attachment; filename*0*=utf-8''%E2%82; filename*1=x\r\n",
    b"From: =?utf-8?b?w6k=?= <a@b>, (c) d@e, g:h@i;\r\n",
    b"Date: Mon, 8 Mar 2010 19:55:06 -0000\r\n",
    b"Received: from a (b [1.2.3.4]) by c with ESMTP id d for <e@f>; 1 Jan 2000 00:00 +0000\r\n",
    b"Subject: =?koi8-r?q?=F0=D2?=\r\n",
    b" folded\r\n",
    b"=?",
    b"(",
    b")",
    b"<",
    b'"',
    b"\\",
    b"\x00",
    b"\xff\xfe",
    b"=\r\n",
    b"begin 644 x\r\n",
]


def exercise(msg: mp.Message) -> None:
    """Read every field and every part: none of it may raise."""
    for attr in (
        "subject",
        "from_",
        "sender",
        "to",
        "cc",
        "bcc",
        "reply_to",
        "date",
        "message_id",
        "in_reply_to",
        "references",
        "mime_version",
        "content_type",
        "received",
        "text",
        "html",
        "attachments",
        "defects",
        "parts",
        "root",
    ):
        getattr(msg, attr)
    repr(msg)
    list(msg.headers.items())
    for h in msg.headers.fields():
        assert bytes(msg).find(h.raw) >= 0
    for part in msg.walk():
        assert isinstance(part.payload, bytes)
        assert part.text is None or isinstance(part.text, str)
        assert part.filename is None or isinstance(part.filename, str)
        assert part.content_id is None or isinstance(part.content_id, str)
        assert isinstance(part.content_type.params, dict)
        repr(part)
        inner = part.message
        if inner is not None:
            assert inner.subject is None or isinstance(inner.subject, str)
            assert isinstance(inner.defects, list)
            assert bytes(msg).find(bytes(inner)) >= 0 or part.transfer_encoding
            len(list(inner.walk()))


def check(data: bytes) -> None:
    msg = mp.Message.parse(data)
    assert bytes(msg) == data
    exercise(msg)


@given(st.binary(max_size=4096))
def test_random_bytes(data: bytes) -> None:
    check(data)


@given(st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.binary(max_size=40)), max_size=60))
def test_random_mime_shaped_input(pieces: list[bytes]) -> None:
    check(b"".join(pieces))


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.integers(0, 4))
        at = draw(st.integers(0, len(data)))
        if op == 0 and data:  # flip a byte
            data[min(at, len(data) - 1)] = draw(st.integers(0, 255))
        elif op == 1:  # insert a fragment
            data[at:at] = draw(st.sampled_from(FRAGMENTS))
        elif op == 2:  # truncate
            del data[at:]
        elif op == 3:  # delete a span
            del data[at : at + draw(st.integers(0, 64))]
        else:  # duplicate a span
            end = at + draw(st.integers(0, 200))
            data[at:at] = data[at:end]
    return bytes(data)


@given(mutated())
def test_mutated_corpus_messages(data: bytes) -> None:
    check(data)


# --- round trip of messages the stdlib builds ------------------------------------------

TEXT = st.text(st.characters(blacklist_categories=["Cs", "Cc"]), max_size=80)


@st.composite
def tree(draw: st.DrawFn, depth: int = 0) -> Any:
    kinds = ["text", "binary"] + (["multipart", "message"] if depth < 3 else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "text":
        return ("text", draw(TEXT) + "\n", draw(st.sampled_from(["utf-8", "iso-8859-1"])))
    if kind == "binary":
        return ("binary", draw(st.binary(max_size=300)), draw(st.sampled_from(["a.bin", None])))
    if kind == "message":
        return ("message", draw(TEXT), draw(tree(depth + 1)))
    sub = draw(st.sampled_from(["mixed", "alternative", "related"]))
    return ("multipart", sub, draw(st.lists(tree(depth + 1), min_size=1, max_size=4)))


def build(node: Any) -> MIMEBase:
    kind = node[0]
    if kind == "text":
        _, text, cs = node
        try:
            text.encode(cs)
        except UnicodeEncodeError:
            cs = "utf-8"
        return MIMEText(text, "plain", cs)
    if kind == "binary":
        _, data, name = node
        part = MIMEApplication(data)
        if name:
            part.add_header("Content-Disposition", "attachment", filename=name)
        return part
    if kind == "message":
        _, subject, inner = node
        msg = build(inner)
        msg["Subject"] = subject.replace("\n", " ")
        return MIMEMessage(msg)
    _, sub, children = node
    mp_ = MIMEMultipart(sub)
    for c in children:
        mp_.attach(build(c))
    return mp_


def leaves_of(node: Any) -> list[tuple[str, object]]:
    kind = node[0]
    if kind == "text":
        return [("text", node[1])]
    if kind == "binary":
        return [("binary", node[1])]
    if kind == "message":
        return leaves_of(node[2])
    return [leaf for c in node[2] for leaf in leaves_of(c)]


def our_leaves(msg: mp.Message) -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    for p in msg.walk():
        if p.is_multipart or p.message is not None:
            continue
        if p.content_type.type == "text":
            out.append(("text", p.text))
        else:
            out.append(("binary", p.payload))
    return out


@given(tree())
def test_stdlib_built_messages_round_trip(node: Any) -> None:
    data = build(node).as_bytes()
    msg = mp.Message.parse(data)
    assert our_leaves(msg) == leaves_of(node)
    assert [d.kind for d in msg.defects if d.kind != "missing-required-header"] == []
