"""``mailprims fetch --imap`` against mailprims' ImapServer in this process: list the
mailboxes, list a mailbox, save it as .eml files (twice: nothing is fetched again) and into a
Maildir with --delete, and the refusal to send a password in clear."""

from __future__ import annotations

import mailbox
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import mailprims as mp

PASSWORD = "cli pw"


def note(i: int) -> bytes:
    return f"From: ann@example.org\nTo: bob@example.org\nSubject: note {i}\n\nBody {i}\n".encode()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[mp.ImapServer]:
    users = mp.Users()
    users.add("bob", PASSWORD)
    store = mp.MaildirStore(tmp_path / "mail")
    inbox = store.mailbox("bob")
    for i in range(3):
        inbox.add(note(i))
    with mp.ImapServer(store=store, users=users, auth_failure_delay=0.0) as server:
        yield server


def fetch(server: mp.ImapServer, *args: str) -> subprocess.CompletedProcess[str]:
    address = f"127.0.0.1:{server.port}"
    command = ["fetch", "--imap", "--server", address, "--user", "bob", "--password-env", "PW"]
    done = subprocess.run(
        [sys.executable, "-m", "mailprims", *command, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PW": PASSWORD},
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


def test_fetch_imap_lists_and_saves(server: mp.ImapServer, tmp_path: Path) -> None:
    refused = fetch(server)
    assert refused.returncode != 0 and "offers no TLS" in refused.stderr
    listing = fetch(server, "--allow-insecure-auth")
    assert listing.returncode == 0, listing.stderr
    inbox_line = next(line for line in listing.stdout.splitlines() if line.endswith("INBOX"))
    assert inbox_line.split()[:2] == ["3", "3"]  # messages, unseen
    assert "Sent  \\Sent" in listing.stdout
    messages = fetch(server, "--allow-insecure-auth", "--mailbox", "INBOX")
    assert messages.returncode == 0, messages.stderr
    assert "ann@example.org" in messages.stdout and "note 2" in messages.stdout
    assert "3 messages in INBOX" in messages.stdout

    out = tmp_path / "eml"
    saved = fetch(server, "--allow-insecure-auth", "--output", str(out))
    assert saved.returncode == 0, saved.stderr
    assert "fetched 3 messages" in saved.stdout
    files = sorted(out.glob("*.eml"))
    assert len(files) == 3
    assert {f.read_bytes().replace(b"\r\n", b"\n") for f in files} == {note(i) for i in range(3)}
    again = fetch(server, "--allow-insecure-auth", "--output", str(out))
    assert "fetched 0 messages" in again.stdout and "3 already there" in again.stdout

    box = tmp_path / "copy"
    moved = fetch(
        server, "--allow-insecure-auth", "--output", str(box), "--format", "maildir", "--delete"
    )
    assert moved.returncode == 0, moved.stderr
    assert "fetched 3 messages" in moved.stdout and "deleted 3 on the server" in moved.stdout
    assert len(mailbox.Maildir(box)) == 3
    empty = fetch(server, "--allow-insecure-auth", "--mailbox", "INBOX")
    assert "0 messages in INBOX" in empty.stdout
