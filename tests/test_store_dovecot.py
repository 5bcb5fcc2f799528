"""Dovecot reads the Maildirs we write, and we read the ones it writes: file names, the
S=/W= size fields, flags, the POP3 new/ -> cur/ move, and the POP3 session lock.

Dovecot's own `imap` and `pop3` binaries run in standalone (pre-authenticated) mode on stdin and
stdout with a configuration under a temporary directory: no daemon, no network. Needs the
Debian packages dovecot-imapd and dovecot-pop3d (the Makefile's PEER_PACKAGES).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import mailprims as mp

DOVECOT = Path("/usr/lib/dovecot")
pytestmark = pytest.mark.skipif(
    not (DOVECOT / "imap").exists() or not (DOVECOT / "pop3").exists(),
    reason="Dovecot (dovecot-imapd, dovecot-pop3d) is not installed",
)

IS_ROOT = os.geteuid() == 0


class Dovecot:
    """Dovecot's imap/pop3 binaries on one Maildir."""

    def __init__(self, base: Path, maildir: Path) -> None:
        self.base = base
        self.maildir = maildir
        self.conf = base / "dovecot.conf"
        lines = [
            "log_path = /dev/stderr",
            f"base_dir = {base}/run",
            f"state_dir = {base}/state",
            f"mail_location = maildir:{maildir}:INDEX=MEMORY",
            "ssl = no",
            "pop3_lock_session = yes",
            "first_valid_uid = 0",
            "first_valid_gid = 0",
            "passdb {\n  driver = static\n  args = password=unused\n}",
            f"userdb {{\n  driver = static\n  args = uid={os.getuid()} gid={os.getgid()}\n}}",
        ]
        if IS_ROOT:
            # Dovecot refuses to touch mail as root: it runs as nobody over a chowned Maildir.
            lines += ["mail_uid = nobody", "mail_gid = nogroup"]
        self.conf.write_text("\n".join(lines) + "\n")
        self.env = {"USER": "tester", "HOME": str(base), "PATH": os.environ.get("PATH", "")}

    def hand_over(self) -> None:
        if IS_ROOT:
            os.chmod(self.base, 0o755)
            for dirpath, _dirnames, filenames in os.walk(self.maildir):
                shutil.chown(dirpath, "nobody", "nogroup")
                for n in filenames:
                    shutil.chown(os.path.join(dirpath, n), "nobody", "nogroup")

    def run(self, binary: str, commands: bytes) -> bytes:
        self.hand_over()
        result = subprocess.run(
            [str(DOVECOT / binary), "-c", str(self.conf)],
            input=commands,
            capture_output=True,
            env=self.env,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    def start(self, binary: str, first_command: bytes) -> subprocess.Popen[bytes]:
        self.hand_over()
        p = subprocess.Popen(
            [str(DOVECOT / binary), "-c", str(self.conf)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.env,
        )
        assert p.stdin is not None
        p.stdin.write(first_command)
        p.stdin.flush()
        return p


@pytest.fixture
def setup() -> Iterator[tuple[mp.Maildir, Dovecot]]:
    # Not under pytest's tmp_path: Dovecot (as nobody, when we are root) must traverse it.
    base = Path(tempfile.mkdtemp(prefix="mailprims-dovecot-"))
    try:
        os.chmod(base, 0o755)
        md = mp.Maildir(base / "Maildir")
        yield md, Dovecot(base, base / "Maildir")
    finally:
        shutil.rmtree(base, ignore_errors=True)


FLAG_NAMES = {"D": r"\Draft", "F": r"\Flagged", "R": r"\Answered", "S": r"\Seen", "T": r"\Deleted"}


def imap_fetch(dc: Dovecot) -> dict[bytes, tuple[set[str], int, bytes]]:
    """Subject -> (flags, RFC822.SIZE, body) as Dovecot's IMAP server reports them."""
    out = dc.run(
        "imap",
        b"a SELECT INBOX\r\nb FETCH 1:* (FLAGS RFC822.SIZE BODY.PEEK[])\r\nc LOGOUT\r\n",
    )
    found = {}
    pos = 0
    pattern = re.compile(
        rb"\* \d+ FETCH \(FLAGS \(([^)]*)\) RFC822\.SIZE (\d+) BODY\[\] \{(\d+)\}\r\n"
    )
    while m := pattern.search(out, pos):
        start = m.end()
        body = out[start : start + int(m[3])]
        pos = start + int(m[3])
        subject = re.search(rb"Subject: ([^\r\n]*)", body)
        assert subject is not None
        flags = {f for f in m[1].decode().split() if f != r"\Recent"}
        found[subject[1]] = (flags, int(m[2]), body)
    return found


def to_crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def test_dovecot_imap_reads_our_messages_sizes_and_flags(setup: tuple[mp.Maildir, Dovecot]) -> None:
    md, dc = setup
    messages = {
        b"plain": (b"Subject: plain\n\nline one\nline two\n", ""),
        b"crlf": (b"Subject: crlf\r\n\r\nCRLF body\r\n", "S"),
        b"flagged": (b"Subject: flagged\n\n8-bit \xc3\xa9\n", "FR"),
        b"draft": (b"Subject: draft\n\nx\n", "DT"),
    }
    keys = {}
    for subject, (data, flags) in messages.items():
        keys[subject] = md.add(data)
        if flags:
            md.set_flags(keys[subject], flags)
    seen = imap_fetch(dc)
    assert set(seen) == set(messages)
    for subject, (data, flags) in messages.items():
        got_flags, size, body = seen[subject]
        assert got_flags == {FLAG_NAMES[f] for f in flags}
        # RFC822.SIZE is the CRLF size; Dovecot takes it from our W= field.
        assert size == md.get_crlf_size(keys[subject]) == len(to_crlf(data))
        assert body == to_crlf(data)


def test_dovecot_pop3_lists_our_sizes_and_marks_seen_like_us(
    setup: tuple[mp.Maildir, Dovecot],
) -> None:
    md, dc = setup
    data = [b"Subject: one\n\nfirst\n", b"Subject: two\r\n\r\nsecond\r\n"]
    keys = [md.add(d) for d in data]
    out = dc.run("pop3", b"LIST\r\nRETR 1\r\nQUIT\r\n")
    listing = re.findall(rb"^(\d+) (\d+)\r$", out, re.MULTILINE)
    # Same order (Dovecot sorts names as we do) and the same CRLF sizes.
    assert [int(size) for _, size in listing] == [e.crlf_size for e in md.entries()]
    assert to_crlf(data[0]) in out
    # Dovecot moved the retrieved message to cur/ with :2,S, exactly what mark_seen does (and
    # the other one to cur/ without flags); the keys did not change.
    cur = sorted(os.listdir(Path(md.path) / "cur"))
    assert cur == sorted([f"{keys[0]}:2,S", f"{keys[1]}:2,"])
    assert md.keys() == keys
    assert (md.get_flags(keys[0]), md.get_flags(keys[1])) == ("S", "")
    assert md[keys[0]].as_bytes() == data[0]
    md.mark_seen(keys[1])
    assert sorted(os.listdir(Path(md.path) / "cur")) == sorted(f"{k}:2,S" for k in keys)


def test_we_read_what_dovecot_writes(setup: tuple[mp.Maildir, Dovecot]) -> None:
    md, dc = setup
    first = b"Subject: appended\r\n\r\nbody line\r\n"
    second = b"Subject: unflagged\r\n\r\nx\r\n"
    commands = (
        b"a APPEND INBOX (\\Seen \\Answered) {%d+}\r\n" % len(first)
        + first
        + b"\r\nb APPEND INBOX {%d+}\r\n" % len(second)
        + second
        + b"\r\nc LOGOUT\r\n"
    )
    out = dc.run("imap", commands)
    assert out.count(b"OK [APPENDUID") == 2
    entries = md.entries()
    assert len(entries) == 2
    by_subject = {md.get_bytes(e.key).split(b"\n")[0]: e for e in entries}
    e1 = by_subject[b"Subject: appended"]
    e2 = by_subject[b"Subject: unflagged"]
    # Dovecot stores LF line endings and names files <secs>.M<usecs>P<pid>.<host>,S=,W=
    assert md[e1.key].as_bytes() == first.replace(b"\r\n", b"\n")
    assert re.fullmatch(r"\d+\.M\d+P\d+\..+,S=\d+,W=\d+", e1.key), e1.key
    assert (e1.size, e1.crlf_size) == (len(first) - 3, len(first))
    assert e1.flags == "RS"
    assert e2.flags == ""
    # And Dovecot sees the flags we set on its messages.
    md.add_flag(e2.key, "F")
    assert imap_fetch(dc)[b"unflagged"][0] == {r"\Flagged"}


def test_dovecot_pop3_session_lock_excludes_us(setup: tuple[mp.Maildir, Dovecot]) -> None:
    md, dc = setup
    md.add(b"Subject: x\n\n")
    session = dc.start("pop3", b"STAT\r\n")
    try:
        assert session.stdout is not None
        assert session.stdout.readline().startswith(b"+OK 1 ")
        # RFC 3206 IN-USE: Dovecot holds dovecot-pop3-session.lock ("<pid>:<host>").
        with pytest.raises(mp.MailboxLockedError) as exc:
            md.lock()
        assert exc.value.holder is not None
        assert exc.value.holder.startswith(f"{session.pid}:")
    finally:
        assert session.stdin is not None
        session.stdin.write(b"QUIT\r\n")
        session.communicate(timeout=30)
    with md.lock() as lock:
        assert lock.held


def test_our_lock_excludes_a_dovecot_pop3_session(setup: tuple[mp.Maildir, Dovecot]) -> None:
    md, dc = setup
    md.add(b"Subject: x\n\n")
    with md.lock():
        start = time.monotonic()
        out = dc.run("pop3", b"STAT\r\nQUIT\r\n")
        assert time.monotonic() - start < 60
    assert out.startswith(b"-ERR [IN-USE]")


def test_a_killed_dovecot_sessions_lock_is_broken(setup: tuple[mp.Maildir, Dovecot]) -> None:
    md, dc = setup
    session = dc.start("pop3", b"STAT\r\n")
    assert session.stdout is not None
    session.stdout.readline()
    session.kill()
    session.communicate(timeout=30)
    lock_file = Path(md.path) / "dovecot-pop3-session.lock"
    assert lock_file.read_text() == f"{session.pid}:{socket.gethostname()}"
    with md.lock() as lock:  # the holder is dead: the lock is stale
        assert lock.held
