"""Differential test against the stdlib over CPython's own e-mail test corpus.

Every file of ``test/test_email/data/`` of the running interpreter (messages, and the image
and sound files that live there too) is parsed by ``email.message_from_bytes(...,
policy=email.policy.default)`` and by mailprims; subject, From, To, Date, Message-ID and the
number of leaf parts must agree. The disagreements that remain are listed in ``KNOWN`` with
the reason the stdlib's answer is the wrong one; the test also fails when a listed
disagreement stops happening, so the list cannot go stale.
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

FILES = sorted(DATA.iterdir()) if DATA.is_dir() else []

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
    ("msg_43.txt", "leaves"): DELIVERY_STATUS,
    ("msg_39.txt", "leaves"): SAME_BOUNDARY,
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
        "message_id": None if mid is None else str(mid).strip(),
        "leaves": sum(1 for p in m.walk() if not p.is_multipart()),
    }


def our_view(m: mp.Message, stdlib_date: datetime.datetime | None) -> dict[str, Any]:
    date = m.date
    if date is not None and stdlib_date is not None and stdlib_date.tzinfo is None:
        date = date.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return {
        "subject": m.subject,
        "from": [(a.name, a.email) for a in m.from_],
        "to": [(a.name, a.email) for a in m.to],
        "date": date,
        "message_id": None if m.message_id is None else f"<{m.message_id}>",
        # The stdlib's walk() treats an attached message's part as a container
        # (is_multipart() is true for message/rfc822); so does this count.
        "leaves": sum(1 for p in m.walk() if not p.is_multipart and p.message is None),
    }


def test_cpython_corpus_is_present() -> None:
    # The test must not pass vacuously: the interpreter ships its test corpus here.
    assert len([f for f in FILES if f.name.startswith("msg_")]) >= 40


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_agrees_with_stdlib(path: Path) -> None:
    data = path.read_bytes()
    theirs = stdlib_view(email.message_from_bytes(data, policy=email.policy.default))
    ours = our_view(mp.Message.parse(data), theirs["date"])
    for field, expected in theirs.items():
        reason = KNOWN.get((path.name, field))
        if reason is None:
            assert ours[field] == expected, f"{path.name} {field}"
        else:
            assert ours[field] != expected, f"{path.name} {field} now agrees: drop it from KNOWN"


def test_known_disagreements_name_real_files() -> None:
    names = {f.name for f in FILES}
    assert {name for name, _ in KNOWN} <= names
