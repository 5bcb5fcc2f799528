"""Differential test against the stdlib over CPython's own e-mail test corpus and ours.

Every file of ``test/test_email/data/`` of the running interpreter (messages, and the image
and sound files that live there too), and every message of ``tests/corpus`` (other mail
libraries' test mails among them, see ``corpus/origins.json``), is parsed by
``email.message_from_bytes(..., policy=email.policy.default)`` and by mailprims; subject,
From, To, Date, Message-ID, the number of leaf parts, their types and their file names must
agree. The disagreements that remain are listed in ``KNOWN`` with the reason the stdlib's
answer is the wrong one; the test also fails when a listed disagreement stops happening, so
the list cannot go stale.
"""

from __future__ import annotations

import datetime
import email
import email.message
import email.policy
from pathlib import Path
from typing import Any

import pytest

import mailprims as mp

try:
    import test.test_email as _cpython_email_tests

    DATA = Path(_cpython_email_tests.__file__).parent / "data"
except ImportError:  # pragma: no cover - distributions may strip the test package
    DATA = Path("/nonexistent")

CPYTHON_FILES = sorted(DATA.iterdir()) if DATA.is_dir() else []
CORPUS = Path(__file__).parent / "corpus"
CORPUS_FILES = sorted(CORPUS.glob("*/*.eml"))
FILES = CPYTHON_FILES + CORPUS_FILES


def name_of(path: Path) -> str:
    """``msg_01.txt`` for CPython's files, ``thirdparty/x.eml`` for ours."""
    return path.relative_to(CORPUS).as_posix() if CORPUS in path.parents else path.name


COMMENT_NAME = (
    "legacy 'addr (Full Name)' form: the stdlib's header registry drops the comment "
    "(RFC 5322 §3.2.2 makes comments invisible), but email.utils.parseaddr and every mail "
    "client show it as the display name, and so does mailprims"
)
NULL_ADDRESS = (
    "'MAILER DAEMON <>': the stdlib reports the empty angle brackets themselves as the "
    "addr_spec '<>'; there is no address, so mailprims gives ''"
)
DELIVERY_STATUS = (
    "message/delivery-status (RFC 3464): the stdlib turns each group of status fields into a "
    "sub-message and counts each as a leaf part; they are not MIME entities, and mailprims "
    "keeps the delivery-status body as one leaf part"
)
SAME_BOUNDARY = (
    "multiparts nested inside one with the same boundary (RFC 2046 §5.1.1 forbids it): the "
    "stdlib hands every delimiter to the outer multipart and loses patch3..patch6; mailprims "
    "hands it to the innermost open multipart and recovers all six attachments"
)

EIGHT_BIT_NAME = (
    "raw UTF-8 display names (RFC 6532): the stdlib's policy.default leaves the bytes as "
    "surrogate escapes; mailprims reads them as UTF-8"
)
OBSOLETE_WHITE_SPACE = (
    "RFC 5322 Appendix A.6.3 (white space before the colon of a field name, §4.5): the "
    "stdlib finds no field at all; mailprims reads every field"
)
EXTERNAL_BODY = (
    "message/external-body (RFC 2046 §5.2.3): the stdlib parses the phantom headers as a "
    "sub-message holding a text part; mailprims keeps the external-body part a leaf with its "
    "parameters (name= is its file name)"
)
LONE_PHRASE = (
    "'To: Undisclosed recipients' (a phrase, no address): the stdlib makes the quoted "
    "phrase an addr-spec; it is a name without an address (and a defect)"
)
WORD_SPACE = (
    "RFC 2047 §6.2: white space between adjacent encoded words is not displayed; the stdlib "
    "keeps it, doubling the spaces the words themselves end with"
)
MISSING_COMMA = (
    "two addresses without a comma between them: the stdlib drops the second; mailprims "
    "reads both and reports the missing comma (issue 12, item 5)"
)
BAD_BOUNDARY_CHARS = (
    "an unquoted boundary with '=' (Outlook Express writes it; RFC 2045 wants it quoted): "
    "the stdlib finds no boundary and keeps one part; every mail client finds the parts"
)
MISSING_SEMICOLON = (
    "'multipart/mixed' and its folded boundary without the ';' between them: the stdlib "
    "reads the whole value as the type; mailprims reads the boundary (as Dovecot does)"
)
TRAILING_SPACE_BOUNDARY = (
    "a quoted boundary ending in two spaces: the stdlib also takes a line with only one of "
    "them as a delimiter; the boundary is the whole quoted string (mime4j's expectation)"
)
ROUTE_GARBAGE = (
    "'<Undisclosed-Recipient:@mailman.enron.com;>' is no address; the stdlib keeps the word "
    "before the colon, mailprims the bracketed text as written"
)

# (file name, field) -> why the stdlib's answer is wrong.
KNOWN: dict[tuple[str, str], str] = {
    ("msg_01.txt", "from"): COMMENT_NAME,
    ("msg_03.txt", "from"): COMMENT_NAME,
    ("msg_04.txt", "from"): COMMENT_NAME,
    ("msg_06.txt", "from"): COMMENT_NAME,
    ("msg_14.txt", "from"): COMMENT_NAME,
    ("msg_20.txt", "from"): COMMENT_NAME,
    ("msg_27.txt", "from"): COMMENT_NAME,
    ("msg_27.txt", "to"): COMMENT_NAME,
    ("msg_29.txt", "from"): COMMENT_NAME,
    ("msg_44.txt", "from"): COMMENT_NAME,
    ("msg_43.txt", "from"): NULL_ADDRESS,
    ("msg_16.txt", "leaves"): DELIVERY_STATUS,
    ("msg_16.txt", "types"): DELIVERY_STATUS,
    ("msg_16.txt", "filenames"): DELIVERY_STATUS,
    ("msg_43.txt", "leaves"): DELIVERY_STATUS,
    ("msg_43.txt", "types"): DELIVERY_STATUS,
    ("msg_43.txt", "filenames"): DELIVERY_STATUS,
    ("msg_15.txt", "types"): SAME_BOUNDARY,
    ("msg_15.txt", "filenames"): SAME_BOUNDARY,
    ("msg_39.txt", "leaves"): SAME_BOUNDARY,
    ("msg_39.txt", "types"): SAME_BOUNDARY,
    ("msg_39.txt", "filenames"): SAME_BOUNDARY,
    ("msg_36.txt", "types"): EXTERNAL_BODY,
    ("msg_36.txt", "filenames"): EXTERNAL_BODY,
    ("feature/8bit-headers.eml", "from"): EIGHT_BIT_NAME,
    ("feature/8bit-headers.eml", "to"): EIGHT_BIT_NAME,
    ("malformed/bad-date-and-duplicates.eml", "to"): LONE_PHRASE,
    **{
        ("rfc/rfc5322-a6-3-obsolete-white-space.eml", f): OBSOLETE_WHITE_SPACE
        for f in ("subject", "from", "to", "date", "message_id")
    },
    **{
        ("thirdparty/dovecot-same-boundary-nested.eml", f): SAME_BOUNDARY
        for f in ("leaves", "types", "filenames")
    },
    ("thirdparty/enmime-address-colon.eml", "from"): WORD_SPACE,
    ("thirdparty/enmime-malformed-multiple-address-header-values.eml", "from"): MISSING_COMMA,
    **{
        ("thirdparty/mail-gem-illegal-boundary.eml", f): BAD_BOUNDARY_CHARS
        for f in ("leaves", "types", "filenames")
    },
    ("thirdparty/mail-gem-missing-body.eml", "to"): ROUTE_GARBAGE,
    **{
        ("thirdparty/mime4j-weird-boundary.eml", f): TRAILING_SPACE_BOUNDARY
        for f in ("leaves", "types", "filenames")
    },
    ("thirdparty/stalwart-malformed-017.eml", "types"): MISSING_SEMICOLON,
}


def stdlib_view(m: email.message.Message) -> dict[str, Any]:
    def addresses(name: str) -> list[tuple[str, str]]:
        h = m[name]
        return [] if h is None else [(a.display_name, a.addr_spec) for a in h.addresses]

    date = m["date"]
    mid = m["message-id"]
    return {
        "subject": None if m["subject"] is None else str(m["subject"]),
        "from": addresses("from"),
        "to": addresses("to"),
        # The stdlib returns a naive datetime for -0000 (RFC 5322 §3.3: UTC, local zone
        # unknown); mailprims returns it in UTC. Compared as naive UTC in that case below.
        "date": None if date is None else date.datetime,
        # An empty Message-ID is no id.
        "message_id": (str(mid).strip() or None) if mid is not None else None,
        "leaves": sum(1 for p in m.walk() if not p.is_multipart()),
        "types": [p.get_content_type() for p in m.walk() if not p.is_multipart()],
        "filenames": [p.get_filename() for p in m.walk() if not p.is_multipart()],
    }


def our_view(m: mp.Message, stdlib_date: datetime.datetime | None) -> dict[str, Any]:
    date = m.date
    if date is not None and stdlib_date is not None and stdlib_date.tzinfo is None:
        date = date.astimezone(datetime.timezone.utc).replace(tzinfo=None)

    def leaves_of(m: mp.Message) -> list[mp.Part]:
        # An encoded attached message (RFC 2046 §5.2.1 forbids it) is parsed apart from
        # the tree; its parts count where it is, as the stdlib counts what it reads there.
        out = []
        for p in m.walk():
            if p.message is not None and p.transfer_encoding in ("base64", "quoted-printable"):
                out += leaves_of(p.message)
            elif not p.is_multipart and p.message is None:
                out.append(p)
        return out

    leaves = leaves_of(m)
    return {
        "subject": m.subject,
        "from": [(a.name, a.email) for a in m.from_],
        "to": [(a.name, a.email) for a in m.to],
        "date": date,
        "message_id": None if m.message_id is None else f"<{m.message_id}>",
        # The stdlib's walk() treats an attached message's part as a container
        # (is_multipart() is true for message/rfc822); so does this count.
        "leaves": len(leaves),
        "types": [p.content_type.mime_type for p in leaves],
        "filenames": [p.filename for p in leaves],
    }


def test_corpora_are_present() -> None:
    # The test must not pass vacuously: the interpreter ships its test corpus here.
    assert len([f for f in CPYTHON_FILES if f.name.startswith("msg_")]) >= 40
    assert len([f for f in CORPUS_FILES if f.parent.name == "thirdparty"]) >= 40


@pytest.mark.parametrize("path", FILES, ids=name_of)
def test_agrees_with_stdlib(path: Path) -> None:
    data = path.read_bytes()
    name = name_of(path)
    theirs = stdlib_view(email.message_from_bytes(data, policy=email.policy.default))
    ours = our_view(mp.Message.parse(data), theirs["date"])
    for field, expected in theirs.items():
        reason = KNOWN.get((name, field))
        if reason is None:
            assert ours[field] == expected, f"{name} {field}"
        else:
            assert ours[field] != expected, f"{name} {field} now agrees: drop it from KNOWN"


def test_known_disagreements_name_real_files() -> None:
    names = {name_of(f) for f in FILES}
    assert {name for name, _ in KNOWN} <= names
