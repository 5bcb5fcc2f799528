"""The mail store against Python's mailbox module.

What the two sides do differs, and the labels say so: ``mailbox.Maildir.add`` fsyncs the message
file but not the ``new/`` directory, so its message can vanish in a crash after ``add`` returned.
Our durable delivery fsyncs both (what an SMTP server must do before replying 250), one fsync
more per message; ``sync=False`` fsyncs nothing (bulk imports that sync once at the end).
"""

from __future__ import annotations

import atexit
import mailbox
import os
import shutil
import tempfile
import threading
from pathlib import Path

from harness import Case
from mailprims import Maildir, Mbox

_dirs: list[str] = []


def _tmp(name: str) -> Path:
    d = tempfile.mkdtemp(prefix=f"bench-store-{name}-", dir=os.environ.get("BENCH_TMP"))
    _dirs.append(d)
    return Path(d)


atexit.register(lambda: [shutil.rmtree(d, ignore_errors=True) for d in _dirs])

KIB = (
    b"Return-Path: <alice@example.org>\n"
    b"From: Alice <alice@example.org>\nTo: Bob <bob@example.org>\n"
    b"Subject: benchmark message\nMessage-ID: <1@example.org>\n\n"
)
KIB += b"x" * (1024 - len(KIB) - 1) + b"\n"


def _threads(fn: object, n: int) -> None:
    threads = [threading.Thread(target=fn) for _ in range(n)]  # type: ignore[arg-type]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def cases() -> list[Case]:
    ours_md = Maildir(_tmp("ours") / "Maildir")
    ours_fast = Maildir(_tmp("fast") / "Maildir")
    ours_conc = Maildir(_tmp("conc") / "Maildir")
    std_md = mailbox.Maildir(_tmp("std") / "Maildir")
    std_conc = mailbox.Maildir(_tmp("stdconc") / "Maildir")

    per_thread = 16

    def ours_4() -> None:
        _threads(lambda: [ours_conc.add(KIB) for _ in range(per_thread)], 4)

    def std_4() -> None:
        _threads(lambda: [std_conc.add(KIB) for _ in range(per_thread)], 4)

    # Reading: 1,000 messages of mixed sizes.
    read_dir = _tmp("read") / "Maildir"
    filler = Maildir(read_dir)
    for i in range(1000):
        filler.add(KIB * (1 + i % 20), sync=False)

    def ours_read() -> object:
        return list(Maildir(read_dir, create=False).items_bytes())

    def std_read() -> object:
        md = mailbox.Maildir(read_dir, factory=None, create=False)
        return [md.get_bytes(k) for k in md.keys()]

    def ours_list() -> object:
        return [(e.key, e.size) for e in Maildir(read_dir, create=False).entries()]

    def std_list() -> object:
        md = mailbox.Maildir(read_dir, factory=None, create=False)
        return [(k, os.path.getsize(os.path.join(read_dir, md._lookup(k)))) for k in md.keys()]

    # An mbox of 2,000 messages (about 20 MB), written by Python's mailbox.
    mbox_path = _tmp("mbox") / "inbox"
    writer = mailbox.mbox(mbox_path)
    for i in range(2000):
        writer.add(KIB * (1 + i % 20))
    writer.close()
    size = mbox_path.stat().st_size

    def ours_mbox() -> object:
        return list(Mbox(mbox_path, create=False).items_bytes())

    def std_mbox() -> object:
        mb = mailbox.mbox(mbox_path, create=False)
        out = [mb.get_bytes(k) for k in mb.iterkeys()]
        mb.close()
        return out

    return [
        Case(
            "store",
            "Maildir durable add (fsync file + new/), 1 KiB",
            lambda: ours_md.add(KIB),
            lambda: std_md.add(KIB),
            "mailbox.Maildir.add (fsyncs the file only)",
            None,
            1024,
            "msg",
        ),
        Case(
            "store",
            "Maildir add, sync=False (no fsync at all), 1 KiB",
            lambda: ours_fast.add(KIB, sync=False),
            lambda: std_md.add(KIB),
            "mailbox.Maildir.add (fsyncs the file)",
            None,
            1024,
            "msg",
        ),
        Case(
            "store",
            "Maildir durable add from 4 threads, 64 x 1 KiB",
            ours_4,
            std_4,
            "mailbox.Maildir.add x 4 threads (file fsync only)",
            None,
            64 * 1024,
            "batch",
        ),
        Case(
            "store",
            "Maildir read 1,000 messages",
            ours_read,
            std_read,
            "mailbox.Maildir.get_bytes",
            2,
            None,
            "mailbox",
        ),
        Case(
            "store",
            "Maildir list 1,000 keys with sizes (POP3 LIST)",
            ours_list,
            std_list,
            "mailbox.Maildir keys + stat",
            2,
            None,
            "mailbox",
        ),
        Case(
            "store",
            f"mbox iterate 2,000 messages ({size / 1e6:.0f} MB)",
            ours_mbox,
            std_mbox,
            "mailbox.mbox.get_bytes",
            3,
            size,
            "mailbox",
        ),
    ]
