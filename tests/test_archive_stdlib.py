"""Differential test of ``mailprims.archive.read`` against the stdlib's reading of the same files.

Every column of every row is compared with what ``mailbox`` (Maildir, mbox) and
``email.message_from_bytes(..., policy=email.policy.default)`` make of the same message, over
the corpus in ``tests/corpus`` (stored as ``.eml`` files, as a Maildir with folders, as an
mbox and as a gzip-compressed mbox) and a generated archive (``archive_synth``) with threads,
lists, attachments, ``From `` lines that an mbox must quote, and malformed messages.

The stdlib has no Received or Authentication-Results reader, so those columns are compared
with what a few lines of ``re`` and ``email.utils.parsedate_to_datetime`` read from the raw
fields. The stdlib's ``mailbox.mbox`` does not unquote ``>From `` lines (mboxo); the files
here are mboxrd (as mutt and Dovecot write them), so the expected messages are unquoted with
one ``re.sub``, and each quoted line must come back as it was before it was stored.

Where the two disagree for a good reason, ``KNOWN`` says why; the test fails on any other
disagreement, and also when a listed one no longer happens (the list cannot go stale).
"""

from __future__ import annotations

import datetime
import email
import email.message
import email.policy
import email.utils
import gzip
import mailbox
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pa = pytest.importorskip("pyarrow")

import archive_synth  # noqa: E402

import mailprims as mp  # noqa: E402
from mailprims import archive  # noqa: E402

CORPUS = Path(__file__).parent / "corpus"
# tests/corpus/thirdparty holds other libraries' malformed test mails, where the parser's
# readings differ from the stdlib's by design, each with its reason, in test_message_stdlib.py;
# here they are read through the archive and compared with Message (test_thirdparty_corpus).
THIRDPARTY = CORPUS / "thirdparty"
CORPUS_FILES = sorted(p for p in CORPUS.glob("*/*.eml") if p.parent != THIRDPARTY)
UTC = datetime.timezone.utc


def unquote_mboxrd(data: bytes) -> bytes:
    return re.sub(rb"(?m)^>(>*From )", rb"\1", data)


def _ids(value: str | None) -> list[str]:
    return [] if value is None else re.findall(r"<\s*([^<>\s]+)\s*>", value)


def _hop_date(value: str) -> datetime.datetime | None:
    if ";" not in value:
        return None
    try:
        d = email.utils.parsedate_to_datetime(value.rsplit(";", 1)[1].strip())
    except (TypeError, ValueError, IndexError):
        return None
    return d.replace(tzinfo=UTC) if d.tzinfo is None else d.astimezone(UTC)


def stdlib_row(data: bytes) -> dict[str, Any]:
    """What the stdlib reads for each column of a message's row."""
    m = email.message_from_bytes(data, policy=email.policy.default)

    def header(name: str) -> Any:
        try:
            return m[name]
        except (IndexError, ValueError, TypeError):  # the registry can choke on garbage
            return None

    def addresses(name: str) -> list[dict[str, str]]:
        h = header(name)
        if h is None:
            return []
        return [{"name": a.display_name, "email": a.addr_spec} for a in h.addresses]

    date = header("date")
    dt = getattr(date, "datetime", None) if date is not None else None
    raw = m.get_all("received") or []
    hop_dates = [d for d in (_hop_date(str(v)) for v in raw) if d is not None]
    verdicts: dict[str, str | None] = {"spf": None, "dkim": None, "dmarc": None}
    for v in m.get_all("authentication-results") or []:
        for method, result in re.findall(r"\b(spf|dkim|dmarc)\s*=\s*([A-Za-z]+)", str(v)):
            if verdicts[method.lower()] is None:
                verdicts[method.lower()] = result.lower()
    attachments = list(m.iter_attachments()) if m.is_multipart() else []
    body = m.get_body(preferencelist=("plain",))
    try:
        text = body.get_content() if body is not None else None
    except (LookupError, ValueError, AssertionError):
        text = None
    subject = header("subject")
    list_id = header("list-id")
    row: dict[str, Any] = {
        "message_id": (_ids(str(header("message-id") or "")) or [None])[0],
        "date": None if dt is None else (dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt),
        "date_offset": None
        if dt is None
        else (0 if dt.tzinfo is None else int(dt.utcoffset().total_seconds())),
        "from": addresses("from"),
        "to": addresses("to"),
        "cc": addresses("cc"),
        "subject": None if subject is None else str(subject),
        "in_reply_to": (_ids(str(header("in-reply-to") or "")) or [None])[0],
        "references": _ids(str(header("references") or "")),
        "list_id": (_ids(str(list_id)) or [None])[-1] if list_id is not None else None,
        "content_type": m.get_content_type(),
        "size": len(data),
        "parts": sum(1 for p in m.walk() if not p.is_multipart()),
        "attachments": len(attachments),
        "attachment_names": [p.get_filename() for p in attachments],
        "attachment_types": [p.get_content_type() for p in attachments],
        "hops": len(raw),
        "first_hop": hop_dates[-1] if hop_dates else None,
        "last_hop": hop_dates[0] if hop_dates else None,
        **verdicts,
        "text": text,
    }
    row["_defective"] = any(p.defects for p in m.walk()) or bool(m.defects)
    return row


# Why a column may differ, by a test on the message's bytes.
def _has(pattern: bytes) -> Callable[[bytes], bool]:
    return lambda data: re.search(pattern, data) is not None


def _header_not_utf8(data: bytes) -> bool:
    head = data.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
    try:
        head.decode()
    except UnicodeDecodeError:
        return True
    return False


def _normal(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").rstrip(b"\n")


# The corpus messages by content (as stored in each format: CRLF or LF, with or without the
# trailing newline an mbox adds, without an mbox "From " line).
CORPUS_BY_DATA: dict[bytes, str] = {}
for _p in CORPUS_FILES:
    _data = _p.read_bytes()
    CORPUS_BY_DATA[_normal(_data)] = _p.stem
    if _data.startswith(b"From "):
        CORPUS_BY_DATA[_normal(_data.split(b"\n", 1)[1])] = _p.stem


def _corpus(*names: str) -> Callable[[bytes], bool]:
    assert all(any(p.stem == n for p in CORPUS_FILES) for n in names), names
    return lambda data: CORPUS_BY_DATA.get(_normal(data)) in names


ATTACHMENT_COLUMNS = {"attachments", "attachment_names", "attachment_types"}

KNOWN: dict[str, tuple[Callable[[bytes], bool], set[str]]] = {
    "8-bit header bytes that are not UTF-8: mailprims reads them as windows-1252 (what "
    "mail clients show); the stdlib keeps them as surrogate escapes": (
        _header_not_utf8,
        {"subject", "from", "to", "cc"},
    ),
    "a header line that is not a field ends the header section on both sides, and the "
    "Content-Type after it is lost; the body's 8-bit text, now without a declared charset, "
    "is UTF-8 to mailprims (RFC 6532 practice) and U+FFFD replacement characters to the "
    "stdlib's get_content()": (_has(rb"\nthis line is not a header\n"), {"text"}),
    "attachments: the stdlib's iter_attachments() looks only at the top-level multipart "
    "and calls every inline part after the first an attachment; mailprims follows RFC 8621 "
    "section 4.1.4 (Message.attachments): inline text parts are body, an image in a "
    "multipart/related is an attachment, a uuencoded file is one, and a multipart read as "
    "one leaf (no boundary, or its boundary never found) is one": (
        _corpus(
            "alternative-related",
            "charsets",
            "uuencode",
            "close-boundary-missing",
            "multipart-without-boundary",
            "start-boundary-missing",
            "truncated-base64",
            "rfc2046-5-1-1-simple-boundary",
            "rfc2049-appendix-a-complex",
            "mime-simple-boundary",
        ),
        ATTACHMENT_COLUMNS,
    ),
    "text of several inline text/plain parts: mailprims joins them (Message.text, RFC 8621 "
    "textBody); get_body() returns only the first": (
        _corpus(
            "charsets",
            "broken-nesting",
            "close-boundary-missing",
            "rfc2046-5-1-1-simple-boundary",
            "rfc2049-appendix-a-complex",
            "mime-simple-boundary",
        ),
        {"text"},
    ),
    "an empty group ('Undisclosed recipients:;'): mailprims gives the group's name without "
    "an address, the stdlib takes the quoted phrase for an address": (
        _corpus("bad-date-and-duplicates"),
        {"to"},
    ),
    "text in an unknown charset (or bytes without any header): mailprims decodes it as "
    "UTF-8, else windows-1252, as Message.text does; the stdlib's get_content() raises "
    "LookupError or replaces the bytes": (
        _corpus("unknown-charset-and-encoding", "binary-garbage"),
        {"text"},
    ),
    "RFC 5322 appendix A.6.3 (white space before colons): the stdlib takes its first line, "
    "'From  : John Doe <jdoe@machine.example>', for an mbox From line and the rest for the "
    "body; mailprims reads every field, as RFC 5322 section 4.5 asks": (
        _corpus("rfc5322-a6-3-obsolete-white-space"),
        {"message_id", "date", "date_offset", "from", "to", "subject", "text", "defects"},
    ),
}


def known(data: bytes, column: str) -> str | None:
    return next((r for r, (test, cols) in KNOWN.items() if column in cols and test(data)), None)


def compare(
    ours: dict[str, Any], data: bytes, where: str, used: set[str], text: bool = True
) -> list[str]:
    theirs = stdlib_row(data)
    problems = []
    for column, expected in theirs.items():
        if column.startswith("_") or (column == "text" and not text):
            continue
        got = ours[column]
        if got == expected:
            continue
        reason = known(data, column)
        if reason is not None:
            used.add(reason)
            continue
        problems.append(f"{where}: {column}: ours {got!r} != stdlib {expected!r}")
    if theirs["_defective"] and not ours["defects"]:
        reason = known(data, "defects")
        if reason is None:
            problems.append(f"{where}: the stdlib finds defects, mailprims none")
        else:
            used.add(reason)
    return problems


def rows(paths: Any, **kw: Any) -> list[dict[str, Any]]:
    return archive.read(paths, text=True, **kw).to_pylist()


@pytest.fixture(scope="module")
def synthetic() -> list[bytes]:
    msgs = list(archive_synth.messages(1000, seed=7, malformed=0.05))
    # Edge cases the generator does not make: no headers at all, an empty message.
    return [*msgs, b"just some text, no header section\n", b""]


def check_all(pairs: Iterator[tuple[dict[str, Any], bytes, str]]) -> set[str]:
    used: set[str] = set()
    problems: list[str] = []
    count = 0
    for ours, data, where in pairs:
        problems += compare(ours, data, where, used)
        count += 1
    assert count > 0
    assert problems == [], "\n".join(problems[:40])
    return used


def test_eml_files_and_gzip(tmp_path: Path, synthetic: list[bytes]) -> None:
    root = archive_synth.write_eml_dir(tmp_path / "eml", synthetic, compress_every=7)
    corpus = tmp_path / "eml" / "corpus"
    shutil.copytree(CORPUS, corpus, ignore=shutil.ignore_patterns("*.json", "thirdparty"))
    got = rows(root)
    files = sorted(p for p in root.rglob("*") if p.is_file())
    assert len(got) == len(files) == len(synthetic) + len(CORPUS_FILES)
    by_path = {r["source"]["path"]: r for r in got}

    def pairs() -> Iterator[tuple[dict[str, Any], bytes, str]]:
        for f in files:
            data = f.read_bytes()
            if f.suffix == ".gz":
                data = gzip.decompress(data)
            row = by_path[str(f)]
            if re.match(rb"From [^\s:]", data):
                # A message saved with its mbox "From " line is read as a one-message mbox.
                data = data.split(b"\n", 1)[1]
                assert row["source"]["format"] == "mbox"
            else:
                assert row["source"]["format"] == "eml"
            assert row["folder"] == str(f.parent.relative_to(root))
            assert bytes(archive.load(row["source"])) == data
            yield row, data, f.name

    used = check_all(pairs())
    assert used == set(KNOWN)


def test_maildir_with_folders(tmp_path: Path, synthetic: list[bytes]) -> None:
    corpus = [p.read_bytes() for p in CORPUS_FILES]
    root = archive_synth.write_maildir(tmp_path / "Maildir", [*synthetic, *corpus])
    got = rows(root)
    md = mailbox.Maildir(root, factory=None, create=False)
    boxes = [("INBOX", md)] + [(name, md.get_folder(name)) for name in md.list_folders()]
    assert {name for name, _ in boxes} == {"INBOX", "Lists", "Archive.2023"}
    by_key = {Path(r["source"]["path"]).name.split(":")[0]: r for r in got}
    assert len(got) == len(by_key) == sum(len(box) for _, box in boxes)

    def pairs() -> Iterator[tuple[dict[str, Any], bytes, str]]:
        for name, box in boxes:
            for key in box.keys():
                row = by_key[key]
                assert row["folder"] == name
                assert row["flags"] == box.get_message(key).get_flags()
                assert row["source"]["format"] == "maildir"
                data = box.get_bytes(key)
                assert bytes(archive.load(row["source"])) == data
                yield row, data, f"{name}/{key}"

    try:
        check_all(pairs())
    finally:
        md.close()


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_mbox_with_from_quoting(tmp_path: Path, synthetic: list[bytes], compress: bool) -> None:
    corpus = [p.read_bytes().replace(b"\r\n", b"\n") for p in CORPUS_FILES]
    msgs = [*synthetic, *corpus]
    path = archive_synth.write_mbox(tmp_path / "archive.mbox", msgs, compress=compress)
    got = rows(path)
    plain = path
    if compress:
        plain = tmp_path / "plain.mbox"
        plain.write_bytes(gzip.decompress(path.read_bytes()))
    box = mailbox.mbox(plain, factory=None, create=False)
    assert len(got) == len(box) == len(msgs)
    quoted = 0

    def pairs() -> Iterator[tuple[dict[str, Any], bytes, str]]:
        nonlocal quoted
        for row, key, original in zip(got, box.keys(), msgs, strict=True):
            data = unquote_mboxrd(box.get_bytes(key))
            # What was stored comes back, `From ` lines and all (an mbox adds a final newline).
            assert data.rstrip(b"\n") == original.rstrip(b"\n")
            if b"\nFrom the minutes" in original:
                quoted += 1
                assert "\nFrom the minutes" in row["text"]
                assert "\n>From an earlier reply" in row["text"]
            assert row["source"]["format"] == "mbox"
            assert bytes(archive.load(row["source"])) == data
            yield row, data, f"message {key}"

    try:
        check_all(pairs())
    finally:
        box.close()
    assert quoted >= 10


def test_malformed_messages_are_rows_with_defects(tmp_path: Path) -> None:
    msgs = list(archive_synth.messages(300, seed=3, malformed=0.5))
    path = archive_synth.write_mbox(tmp_path / "broken.mbox", msgs)
    table = archive.read(path)
    assert table.num_rows == 300
    defects = table.column("defects").to_pylist()
    assert sum(bool(d) for d in defects) >= 100
    kinds = {k for d in defects for k in d}
    assert {"missing-required-header", "invalid-date", "close-boundary-not-found"} <= kinds


def test_thirdparty_corpus(tmp_path: Path) -> None:
    # Malformed mails are rows (never a failed read) whose columns are what Message reads.
    files = sorted(THIRDPARTY.glob("*.eml"))
    assert len(files) >= 40
    for f in files:
        shutil.copy(f, tmp_path / f.name)
    got = {Path(r["source"]["path"]).name: r for r in rows(tmp_path)}
    assert sorted(got) == [f.name for f in files]
    for f in files:
        # load() gives the message as the archive holds it (without an mbox "From " line).
        row = got[f.name]
        msg = mp.Message.parse(bytes(archive.load(row["source"])))
        assert row["subject"] == msg.subject, f.name
        assert row["message_id"] == msg.message_id, f.name
        assert [a["email"] for a in row["from"]] == [a.email for a in msg.from_], f.name
        assert len(row["defects"]) == len(msg.defects), f.name
