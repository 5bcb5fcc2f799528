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

from mailprims import archive  # noqa: E402

CORPUS = Path(__file__).parent / "corpus"
CORPUS_FILES = sorted(CORPUS.glob("*/*.eml"))
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


KNOWN: dict[str, tuple[Callable[[bytes], bool], set[str]]] = {
    "8-bit header bytes that are not UTF-8: mailprims reads them as windows-1252 (what "
    "mail clients show); the stdlib keeps them as surrogate escapes": (
        _header_not_utf8,
        {"subject", "from", "to", "cc"},
    ),
}


def corpus_known(name: str) -> dict[str, str]:
    return {}


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
        reason = next(
            (r for r, (test, cols) in KNOWN.items() if column in cols and test(data)), None
        )
        if reason is not None:
            used.add(reason)
            continue
        problems.append(f"{where}: {column}: ours {got!r} != stdlib {expected!r}")
    if theirs["_defective"] and not ours["defects"]:
        problems.append(f"{where}: the stdlib finds defects, mailprims none")
    return problems


def rows(paths: Any, **kw: Any) -> list[dict[str, Any]]:
    return archive.read(paths, text=True, **kw).to_pylist()


@pytest.fixture(scope="module")
def synthetic() -> list[bytes]:
    msgs = list(archive_synth.messages(1500, seed=7, malformed=0.04))
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
    shutil.copytree(CORPUS, corpus, ignore=shutil.ignore_patterns("*.json"))
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

    check_all(pairs())


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
            if re.search(rb"(?m)^>*From ", original):
                quoted += 1
                assert row["text"] is None or "\nFrom " in row["text"] or ">From" in row["text"]
            assert row["source"]["format"] == "mbox"
            assert bytes(archive.load(row["source"])) == data
            yield row, data, f"message {key}"

    check_all(pairs())
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
