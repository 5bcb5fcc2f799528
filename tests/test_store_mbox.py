"""mailprims.Mbox: the mbox format of Python's mailbox.mbox, Postfix and Dovecot (RFC 4155),
mboxrd quoting, streaming reads, fcntl + dot-lock compatibility with mailbox.mbox."""

from __future__ import annotations

import datetime
import errno
import mailbox
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import mailprims as mp

MESSAGES = [
    b"Subject: plain\n\nHello.\n",
    b"Subject: from lines\n\nFrom the start of a line\nnot From here\n",
    b"Subject: crlf\r\n\r\nline\r\n",
    b"Subject: ends in an empty line\n\nbody\n\n",
    b"Subject: no final newline\n\nbody",
]


def mboxrd_quote(body: bytes) -> bytes:
    """The mboxrd rule, independently: one more '>' before every line matching >*From ."""
    return re.sub(rb"(?m)^(>*From )", rb">\1", body)


def mboxrd_unquote(body: bytes) -> bytes:
    return re.sub(rb"(?m)^>(>*From )", rb"\1", body)


def with_newline(m: bytes) -> bytes:
    return m if m.endswith(b"\n") else m + b"\n"


def test_python_mailbox_reads_what_we_write(tmp_path: Path) -> None:
    mb = mp.Mbox(tmp_path / "inbox")
    for i, m in enumerate(MESSAGES):
        assert mb.add(m, sender="alice@example.org", date=1_700_000_000 + i) == i
    std = mailbox.mbox(tmp_path / "inbox", create=False)
    assert len(std) == len(MESSAGES)
    for i, m in enumerate(MESSAGES):
        # mailbox does not unquote: it reads the mboxrd-quoted form.
        assert std.get_bytes(i) == mboxrd_quote(with_newline(m))
        stamp = time.asctime(time.gmtime(1_700_000_000 + i))
        assert std.get_message(i).get_from() == f"alice@example.org {stamp}"
    std.close()


def test_we_read_what_python_mailbox_writes(tmp_path: Path) -> None:
    std = mailbox.mbox(tmp_path / "inbox")
    for m in MESSAGES:
        std.add(m)
    std.add(b"From bob@example.org Sat Jan  1 00:00:00 2000\nSubject: with From line\n\nx\n")
    std.flush()
    expected = [std.get_bytes(k) for k in std.keys()]
    froms = [std.get_message(k).get_from() for k in std.keys()]
    std.close()
    mb = mp.Mbox(tmp_path / "inbox", create=False)
    assert len(mb) == len(expected)
    # mboxo (Python) quoted "From " as ">From "; mboxrd reading restores the original line.
    assert [mb.get_bytes(i) for i in range(len(mb))] == [mboxrd_unquote(e) for e in expected]
    assert mb.get_bytes(1) == MESSAGES[1]
    assert [mb.get_from(i) for i in range(len(mb))] == froms
    assert [m.as_bytes() for m in mb] == [mboxrd_unquote(e) for e in expected]
    assert mb[-1].as_bytes() == b"Subject: with From line\n\nx\n"
    with pytest.raises(IndexError):
        mb.get_bytes(len(expected))


def test_the_mboxo_ambiguity_is_documented(tmp_path: Path) -> None:
    # A ">From " line written by an mboxo writer (Python, Postfix) cannot be told from a
    # quoted "From " line; mboxrd reading takes it for the latter.
    std = mailbox.mbox(tmp_path / "inbox")
    std.add(b"Subject: x\n\n>From was quoted by hand\n")
    std.close()
    assert mp.Mbox(tmp_path / "inbox")[0].as_bytes() == b"Subject: x\n\nFrom was quoted by hand\n"


lines = st.one_of(
    st.sampled_from([b"From ", b">From ", b">>From x", b"From", b" From ", b"", b">", b"\r"]),
    st.binary(max_size=40),
)


@given(st.lists(lines, max_size=12))
def test_mboxrd_round_trip(tmp_path_factory: pytest.TempPathFactory, parts: list[bytes]) -> None:
    message = b"X-Test: 1\n" + b"\n".join(parts)
    path = tmp_path_factory.mktemp("rt") / "inbox"
    mb = mp.Mbox(path)
    mb.add(b"Subject: neighbour\n\n")
    index = mb.add(message, sync=False)
    mb.add(b"Subject: neighbour\n\n")
    assert index == 1
    assert mb.get_bytes(1) == with_newline(message)
    assert len(mb) == 3
    std = mailbox.mbox(path, create=False)
    assert std.get_bytes(1) == mboxrd_quote(with_newline(message))
    std.close()


def test_iteration_of_many_messages_matches_mailbox(tmp_path: Path) -> None:
    std = mailbox.mbox(tmp_path / "inbox")
    for i in range(500):
        std.add(b"Subject: %d\n\n" % i + b"line of text\n" * (i % 50) + b"From x\n")
    std.close()
    std = mailbox.mbox(tmp_path / "inbox", create=False)
    expected = [mboxrd_unquote(std.get_bytes(k)) for k in std.keys()]
    std.close()
    mb = mp.Mbox(tmp_path / "inbox")
    got = list(mb.items_bytes())
    assert [i for i, _ in got] == list(range(500))
    assert [b for _, b in got] == expected
    assert mb.keys() == list(range(500))


def test_locks_exclude_python_mailbox(tmp_path: Path) -> None:
    path = tmp_path / "inbox"
    mb = mp.Mbox(path)
    std = mailbox.mbox(path)
    std.lock()  # lockf + inbox.lock, as Python's mailbox takes them
    with pytest.raises(mp.MailboxLockedError):
        mb.add(b"x\n", lock_timeout=0.2)
    std.unlock()
    assert mb.add(b"x\n", lock_timeout=5) == 0
    mb.lock()
    assert mb.locked
    assert (tmp_path / "inbox.lock").exists()
    with pytest.raises(mailbox.ExternalClashError):
        std.lock()
    assert mb.add(b"y\n") == 1  # works under our own lock
    mb.unlock()
    assert not (tmp_path / "inbox.lock").exists()
    std.lock()
    std.unlock()
    std.close()


def test_a_failing_append_leaves_the_mbox_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "inbox"
    mp.Mbox(path).add(b"Subject: kept\n\nbody\n")
    before = path.read_bytes()
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import resource, signal, sys, mailprims
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
                resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
                try:
                    mailprims.Mbox(sys.argv[1]).add(b"x" * 100_000)
                except mailprims.StoreError as e:
                    print(e.errno)
                """
            ),
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(errno.EFBIG)
    assert path.read_bytes() == before
    assert not (tmp_path / "inbox.lock").exists()


def test_open_errors_and_arguments(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        mp.Mbox(tmp_path / "missing", create=False)
    with pytest.raises(IsADirectoryError):
        mp.Mbox(tmp_path)
    mb = mp.Mbox(tmp_path / "inbox")
    assert len(mb) == 0
    assert list(mb) == []
    with pytest.raises(TypeError):
        mb.add("text")  # type: ignore[arg-type]
    when = datetime.datetime(2024, 2, 29, 12, 0, tzinfo=datetime.timezone.utc)
    mb.add(b"x\n", sender="<bob example>", date=when)
    # RFC 4155: From <sender without spaces> <asctime date>
    assert mb.get_from(0) == "bob_example Thu Feb 29 12:00:00 2024"
    mb.add(b"y\n", sender="")
    assert mb.get_from(1).startswith("MAILER-DAEMON ")
    assert repr(mb) == f"Mbox({str(tmp_path / 'inbox')!r})"
