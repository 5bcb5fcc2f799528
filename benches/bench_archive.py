"""Archive reading (``mailprims.archive.read``) against Python loops over the same archive.

The archive: 100,000 synthetic messages (``tests/archive_synth.py``: threads, lists,
attachments, 2-5 Received hops, a few malformed), stored once as an mbox and once as a
Maildir with folders, in a temporary directory (``BENCH_TMP`` chooses where).

Every side produces the same columns for every message: ids, the date parsed, From/To/Cc
parsed into (name, email) pairs, subject, In-Reply-To, References, List-Id, content type,
size, part and attachment counts with the attachments' names and types, the Received hops
with the oldest and newest hop times parsed, the SPF/DKIM/DMARC verdicts, and the defects.
The peers build a list of dicts (cheaper than the table mailprims builds):

- ``mailbox`` + ``email`` (``policy=email.policy.default``): what the stdlib offers. It takes
  about a millisecond a message, so it reads 2,000 messages spread over the archive and its
  time is compared per message.
- fast-mail-parser (Rust, on mail-parser): the files read in Python (the mbox split with one
  regular expression over the whole file, faster than ``mailbox``), each parsed by
  ``parse_email``; what it does not parse (Received and Authentication-Results dates and
  verdicts, References) read with ``re`` and ``email.utils``.

``python benches/bench_archive.py --memory`` also reads a 2 GiB mbox with ``read_batches``
in a child process and reports its peak memory; ``make bench`` prints that under the table.
"""

from __future__ import annotations

import atexit
import email
import email.policy
import email.utils
import gc
import mailbox
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import archive_synth

from harness import Case
from mailprims import archive

try:
    import fast_mail_parser as fmp
except ImportError:  # pragma: no cover - bench-only dependency (make bench installs it)
    fmp = None

MESSAGES = 100_000
STDLIB_SAMPLE = 2_000
FAST_SAMPLE = 20_000
POLICY = email.policy.default

_dirs: list[str] = []
atexit.register(lambda: [shutil.rmtree(d, ignore_errors=True) for d in _dirs])


def _tmp(name: str) -> Path:
    d = tempfile.mkdtemp(prefix=f"bench-archive-{name}-", dir=os.environ.get("BENCH_TMP"))
    _dirs.append(d)
    return Path(d)


def _hop_date(value: str) -> Any:
    if ";" not in value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value.rsplit(";", 1)[1].strip())
    except (TypeError, ValueError, IndexError):
        return None


def _verdicts(values: list[str]) -> dict[str, str | None]:
    out: dict[str, str | None] = {"spf": None, "dkim": None, "dmarc": None}
    for v in values:
        for method, result in re.findall(r"\b(spf|dkim|dmarc)\s*=\s*([A-Za-z]+)", v):
            out.setdefault(method, None)
            if out[method] is None:
                out[method] = result
    return out


_ID = re.compile(r"<\s*([^<>\s]+)\s*>")


def stdlib_row(data: bytes) -> dict[str, Any]:
    m = email.message_from_bytes(data, policy=POLICY)

    def addresses(name: str) -> list[tuple[str, str]]:
        h = m[name]
        return [] if h is None else [(a.display_name, a.addr_spec) for a in h.addresses]

    date = m["date"]
    hops = [str(v) for v in m.get_all("received") or []]
    dates = [d for d in map(_hop_date, hops) if d is not None]
    attachments = list(m.iter_attachments()) if m.is_multipart() else []
    return {
        "message_id": _ID.findall(str(m["message-id"] or "")),
        "date": getattr(date, "datetime", None),
        "from": addresses("from"),
        "to": addresses("to"),
        "cc": addresses("cc"),
        "subject": m["subject"] and str(m["subject"]),
        "in_reply_to": _ID.findall(str(m["in-reply-to"] or "")),
        "references": _ID.findall(str(m["references"] or "")),
        "list_id": _ID.findall(str(m["list-id"] or "")),
        "content_type": m.get_content_type(),
        "size": len(data),
        "parts": sum(1 for p in m.walk() if not p.is_multipart()),
        "attachment_names": [p.get_filename() for p in attachments],
        "attachment_types": [p.get_content_type() for p in attachments],
        "hops": len(hops),
        "first_hop": dates[-1] if dates else None,
        "last_hop": dates[0] if dates else None,
        **_verdicts([str(v) for v in m.get_all("authentication-results") or []]),
        "defects": [type(d).__name__ for p in m.walk() for d in p.defects],
    }


def _values(headers: dict[str, Any], name: str) -> list[str]:
    # fast-mail-parser gives a list for a repeated field, a string otherwise.
    v = headers.get(name)
    return [] if v is None else v if isinstance(v, list) else [v]


def _first(headers: dict[str, Any], name: str) -> str:
    return next(iter(_values(headers, name)), "")


def fast_row(data: bytes) -> dict[str, Any] | None:
    try:
        m = fmp.parse_email(data)
    except fmp.ParseError:
        return None
    h = m.headers
    hops = _values(h, "Received")
    dates = [d for d in map(_hop_date, hops) if d is not None]
    return {
        "message_id": _ID.findall(_first(h, "Message-ID")),
        "date": m.date_parsed,
        "from": m.from_,
        "to": m.to,
        "cc": m.cc,
        "subject": m.subject,
        "in_reply_to": _ID.findall(_first(h, "In-Reply-To")),
        "references": _ID.findall(_first(h, "References")),
        "list_id": _ID.findall(_first(h, "List-Id")),
        "size": len(data),
        "parts": len(m.text_plain) + len(m.text_html) + len(m.attachments),
        "attachment_names": [a.filename for a in m.attachments],
        "attachment_types": [a.mimetype for a in m.attachments],
        "hops": len(hops),
        "first_hop": dates[-1] if dates else None,
        "last_hop": dates[0] if dates else None,
        **_verdicts(_values(h, "Authentication-Results")),
    }


_SPLIT = re.compile(rb"(?:^|\n\n)From [^\n]*\n")


def split_mbox(data: bytes) -> list[bytes]:
    """The messages of an mbox, the quick way (no unquoting: the peer is given the benefit)."""
    return [m for m in _SPLIT.split(data) if m]


def _mbox_sample(path: Path, count: int) -> list[bytes]:
    box = mailbox.mbox(path, factory=None, create=False)
    keys = box.keys()
    step = max(1, len(keys) // count)
    return [box.get_bytes(k) for k in keys[::step][:count]]


def cases() -> list[Case]:
    base = _tmp("data")
    msgs = list(archive_synth.messages(MESSAGES, seed=19))
    size = sum(len(m) for m in msgs)
    mbox = archive_synth.write_mbox(base / "archive.mbox", msgs)
    maildir = archive_synth.write_maildir(base / "Maildir", msgs)
    md_files = sorted(p for p in maildir.rglob("*") if p.is_file())
    step = len(md_files) // STDLIB_SAMPLE
    md_sample = md_files[::step][:STDLIB_SAMPLE]
    mbox_sample = _mbox_sample(mbox, STDLIB_SAMPLE)
    del msgs
    gc.collect()

    def ours(path: Path, threads: int | None = None) -> Any:
        return lambda: archive.read(path, threads=threads)

    def stdlib_mbox() -> list[dict[str, Any]]:
        # mailbox.mbox is rebuilt each call: reading its table of contents is part of the job.
        box = mailbox.mbox(mbox, factory=None, create=False)
        keys = box.keys()[:: len(box) // STDLIB_SAMPLE][:STDLIB_SAMPLE]
        return [stdlib_row(box.get_bytes(k)) for k in keys]

    def stdlib_maildir() -> list[dict[str, Any]]:
        return [stdlib_row(p.read_bytes()) for p in md_sample]

    threads = os.cpu_count() or 1
    label = f"{MESSAGES:,} messages, {size / 2**20:,.0f} MiB"
    result = [
        Case(
            "archive",
            f"read {label}, mbox, {threads} threads",
            ours(mbox),
            stdlib_mbox,
            f"mailbox.mbox + email (policy.default), per message over {STDLIB_SAMPLE:,}",
            100,
            size,
            "msg",
            MESSAGES,
            peer_per_call=STDLIB_SAMPLE,
        ),
        Case(
            "archive",
            f"read {label}, Maildir with 2 folders, {threads} threads",
            ours(maildir),
            stdlib_maildir,
            f"file reads + email (policy.default), per message over {STDLIB_SAMPLE:,}",
            100,
            size,
            "msg",
            MESSAGES,
            peer_per_call=STDLIB_SAMPLE,
        ),
    ]
    if fmp is not None:
        fast_md = md_files[:: len(md_files) // FAST_SAMPLE][:FAST_SAMPLE]
        mbox_len = mbox.stat().st_size

        def fast_mbox() -> list[Any]:
            # A contiguous FAST_SAMPLE-message share of the file, split and parsed.
            with open(mbox, "rb") as f:
                data = f.read(mbox_len * FAST_SAMPLE // MESSAGES)
            return [fast_row(m) for m in split_mbox(data)]

        def fast_maildir() -> list[Any]:
            return [fast_row(p.read_bytes()) for p in fast_md]

        result += [
            Case(
                "archive",
                f"read {label}, mbox, {threads} threads",
                ours(mbox),
                fast_mbox,
                f"fast-mail-parser loop, per message over {FAST_SAMPLE:,}",
                3,
                size,
                "msg",
                MESSAGES,
                peer_per_call=FAST_SAMPLE,
            ),
            Case(
                "archive",
                f"read {label}, Maildir with 2 folders, {threads} threads",
                ours(maildir),
                fast_maildir,
                f"fast-mail-parser loop, per message over {FAST_SAMPLE:,}",
                3,
                size,
                "msg",
                MESSAGES,
                peer_per_call=FAST_SAMPLE,
            ),
        ]
    for n in sorted({2, threads}):
        if n < 2:
            continue
        result.append(
            Case(
                "archive",
                f"read {label}, mbox, {n} threads vs 1",
                ours(mbox, n),
                ours(mbox, 1),
                "the same, 1 thread",
                1.7 if n == 2 else None,
                size,
                "msg",
                MESSAGES,
            )
        )
    del mbox_sample
    return result


MEMORY_SCRIPT = textwrap.dedent(
    """
    import sys
    from mailprims import archive
    import pyarrow

    def hwm():
        # VmHWM is this process's own peak (ru_maxrss keeps the forking parent's).
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])

    before = hwm()
    rows = 0
    for batch in archive.read_batches(sys.argv[1]):
        rows += batch.num_rows
    print(rows, before, hwm())
    """
)


def memory_report(gib: int = 2) -> str:
    """Peak memory of a child process reading a ``gib`` GiB mbox with ``read_batches``."""
    base = _tmp("memory")
    block = archive_synth.write_mbox(base / "block.mbox", archive_synth.messages(20_000, seed=5))
    data = block.read_bytes()
    block.unlink()
    target = base / "big.mbox"
    with open(target, "wb") as f:
        written = 0
        while written < gib << 30:
            f.write(data)
            written += len(data)
    out = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, str(target)],
        capture_output=True,
        text=True,
        check=True,
        timeout=900,
    ).stdout.split()
    rows, before, peak = (int(x) for x in out)
    target.unlink()
    return (
        f"archive: read_batches over a {written / 2**30:.1f} GiB mbox ({rows:,} messages): "
        f"peak RSS {peak / 1024:,.0f} MiB (after importing pyarrow: {before / 1024:,.0f} MiB)"
    )


def notes() -> list[str]:
    return [memory_report()]


if __name__ == "__main__":
    if "--memory" in sys.argv:
        print(memory_report())
    else:
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
