"""mailprims' IMAP server and Dovecot's imapd taking turns on the same Maildirs: what one
changed (messages, flags, keywords, folders, expunges, subscriptions) the other reads with
the same UIDs and UIDVALIDITY; and BODYSTRUCTURE, ENVELOPE and body sections compared with
Dovecot's answers for the same messages. Skipped when Dovecot is not installed."""

from __future__ import annotations

import imaplib
import mailbox
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _dovecot import Dovecot, available
from imapclient import IMAPClient
from imapclient.response_parser import parse_fetch_response

import mailprims as mp

pytestmark = pytest.mark.skipif(
    not (available() and os.path.exists("/usr/lib/dovecot/imap")),
    reason="Dovecot imapd is not installed (make peers)",
)

PASSWORD = "pw"
CORPUS = Path(__file__).parent / "corpus"


@pytest.fixture(scope="module")
def users() -> mp.Users:
    users = mp.Users()
    users.add("fred", PASSWORD)
    return users


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    d = Dovecot({"fred": PASSWORD}, imap=True)
    d.start()
    try:
        yield d
    finally:
        d.stop()


@pytest.fixture
def ours(dovecot: Dovecot, users: mp.Users) -> Iterator[mp.ImapServer]:
    store = mp.MaildirStore(dovecot.root / "mail")
    with mp.ImapServer(store=store, users=users, special_folders=False) as server:
        yield server


def connect(port: int) -> IMAPClient:
    c = IMAPClient("127.0.0.1", port=port, ssl=False, timeout=30)
    c.login("fred", PASSWORD)
    return c


def snapshot(c: IMAPClient) -> dict[str, object]:
    """Every mailbox's UIDVALIDITY, and each message's UID, flags and subject."""
    out: dict[str, object] = {}
    for flags, _delim, name in sorted(c.list_folders(), key=lambda f: f[2]):
        if {b"\\Noselect", b"\\NonExistent"} & {f.title() for f in flags}:
            out[name] = "parent only"
            continue
        info = c.select_folder(name, readonly=True)
        uids = c.search("ALL")
        data = c.fetch(uids, ["FLAGS", "BODY.PEEK[HEADER.FIELDS (SUBJECT)]"]) if uids else {}
        out[name] = (
            info[b"UIDVALIDITY"],
            [
                (
                    uid,
                    tuple(sorted(f for f in data[uid][b"FLAGS"] if f != b"\\Recent")),
                    data[uid][b"BODY[HEADER.FIELDS (SUBJECT)]"].strip(),
                )
                for uid in uids
            ],
        )
        c.unselect_folder()
    return out


def test_dovecot_reads_what_mailprims_changed(dovecot: Dovecot, ours: mp.ImapServer) -> None:
    with connect(ours.port) as c:
        for i in range(4):
            c.append("INBOX", f"Subject: m{i}\r\n\r\nbody {i}\r\n".encode())
        c.create_folder("Archive/2024")
        c.select_folder("INBOX")
        c.add_flags([1], [b"\\Flagged", b"$Work"])
        c.add_flags([2], [b"\\Seen", b"\\Answered"])
        c.move([3], "Archive/2024")
        c.delete_messages([4])
        c.expunge()
        c.subscribe_folder("Archive/2024")
        ours_view = snapshot(c)
    assert ours_view["INBOX"][1] == [  # type: ignore[index]
        (1, (b"$Work", b"\\Flagged"), b"Subject: m0"),
        (2, (b"\\Answered", b"\\Seen"), b"Subject: m1"),
    ]
    dovecot.hand_over()
    with connect(dovecot.imap_port) as d:
        assert snapshot(d) == ours_view
        assert "Archive/2024" in [name for _, _, name in d.list_sub_folders()]
    # Dovecot found nothing to complain about in our uidlist, keywords or names.
    assert "Error" not in dovecot.read_log(), dovecot.read_log()


def test_mailprims_reads_what_dovecot_changed(dovecot: Dovecot, ours: mp.ImapServer) -> None:
    dovecot.hand_over()
    with connect(dovecot.imap_port) as d:
        for i in range(5):
            d.append("INBOX", f"Subject: d{i}\r\n\r\nbody {i}\r\n".encode())
        d.create_folder("Lists/Rust")
        d.append("Lists/Rust", b"Subject: list\r\n\r\nx\r\n", flags=[b"$Label1"])
        d.select_folder("INBOX")
        d.add_flags([2], [b"\\Seen", b"Junk"])
        d.add_flags([3], [b"\\Draft"])
        d.delete_messages([1, 5])
        d.expunge()
        d.subscribe_folder("Lists/Rust")
        theirs = snapshot(d)
    with connect(ours.port) as c:
        assert snapshot(c) == theirs
        assert "Lists/Rust" in [name for _, _, name in c.list_sub_folders()]
        # And back again: a change of ours that Dovecot then sees.
        c.select_folder("INBOX")
        c.add_flags([4], [b"\\Flagged"])
        c.append("INBOX", b"Subject: after\r\n\r\nx\r\n")
        again = snapshot(c)
    dovecot.hand_over()
    with connect(dovecot.imap_port) as d:
        assert snapshot(d) == again


def fetch_each(port: int, items: str, count: int) -> list[list[Any]]:
    """Each message's FETCH response in INBOX, as imaplib got it (literals as tuples)."""
    out: list[list[Any]] = []
    # The context manager logs out (and closes the socket) even when an assertion fails.
    with imaplib.IMAP4("127.0.0.1", port, timeout=30) as c:
        c.login("fred", PASSWORD)
        c.select("INBOX", readonly=True)
        for seq in range(1, count + 1):
            typ, data = c.fetch(str(seq), items)
            assert typ == "OK", data
            out.append(data)
    return out


def values(data: list[Any]) -> dict[bytes, object]:
    """A FETCH response read by IMAPClient's parser: a quoted string and a literal holding the
    same octets are the same value (RFC 9051 §4.3), which is all a client can see."""
    (fields,) = parse_fetch_response(data, normalise_times=False).values()
    return dict(fields)


# Where Dovecot and we answer differently on purpose, and why (each checked by hand against
# the message and RFC 2046/5322; the message parser's readings are also Python's email's).
KNOWN = {
    # The line break before a delimiter belongs to the delimiter (RFC 2046 §5.1.1); Dovecot
    # counts it into a message/rfc822 part and into a multipart part whose own close
    # delimiter is missing: 2 octets more.
    "encoded-rfc822.eml",
    "stalwart-nested-encoded-message.eml",
    "stalwart-malformed-022.eml",
    "stalwart-nested-headers-cut-by-delimiter.eml",
    "stalwart-inner-headers-cut-by-outer-delimiter.eml",
    "stalwart-malformed-020.eml",
    "stalwart-malformed-021.eml",
    # A header line that is not a field, or no blank line after the header: the parser starts
    # the body there (Python's email too); Dovecot skips it and reads on as header.
    "binary-garbage.eml",
    "no-header-separator.eml",
    "no-headers.eml",
    "stalwart-garbage-line-before-fold.eml",
    "stalwart-header-block-edge-cases.eml",
    "stalwart-malformed-023.eml",
    "enmime-bad-header-wrap.eml",
    # No MIME-Version: Dovecot ignores the top-level Content-Description (checked with and
    # without MIME-Version); we read it, as Python's email does.
    "stalwart-unstructured-fields.eml",
    # An mbox "From " line before the header: the parser drops it, Dovecot keeps it.
    "continuation-first-and-mbox-from.eml",
    # A Content-Type that does not parse (no `/subtype`, no `;` before the boundary): RFC 2045
    # §5.2's text/plain, or the multipart the parser still splits, where Dovecot says ("" "").
    "content-type-garbage.eml",
    "stalwart-malformed-017.eml",
    # Dovecot takes a line that starts with the delimiter as one (`--ab` for boundary `a`,
    # `--b-- text`); the parser, as Python's email, wants the whole line (RFC 2046 §5.1.1 BNF).
    "dovecot-boundary-prefix.eml",
    "dovecot-headers-run-into-delimiter.eml",
    "mime4j-ending-boundaries.eml",
    "mail-gem-illegal-boundary.eml",  # and an mbox "From " line, as below
    # An unclosed quoted parameter value: the parser (as Python's email) keeps it to the end of
    # the field; Dovecot drops the parameter.
    "enmime-missing-closing-param-quote.eml",
    # Two Content-Disposition fields: the parser and we take the first, Dovecot the second.
    "enmime-malformed-multiple-address-header-values.eml",
    # An empty list element (", ,"): Dovecot adds a MISSING_MAILBOX placeholder for it.
    "rfc5322-a6-1-obsolete-addressing.eml",
    "mail-gem-weird-to-header.eml",
    # `<Undisclosed-Recipient:@host;>`: Dovecot says host SYNTAX_ERROR, we read local@host.
    "mail-gem-missing-body.eml",
}


def corpus_messages() -> list[Path]:
    files = sorted(p for p in CORPUS.glob("*/*.eml") if p.stat().st_size < 200_000)
    assert files, "the corpus is empty"
    return files


def test_bodystructure_envelope_and_sections_match_dovecot(
    dovecot: Dovecot, ours: mp.ImapServer
) -> None:
    inbox = Path(dovecot.maildir("fred"))
    files = corpus_messages()
    for i, f in enumerate(files):
        data = f.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        name = f"{1_700_000_000 + i}.M{i}P1.test"
        (inbox / "new" / name).write_bytes(data)
    dovecot.hand_over()
    items = "(RFC822.SIZE ENVELOPE BODYSTRUCTURE BODY[HEADER] BODY[TEXT] BODY[1] BODY[1.MIME])"
    theirs = fetch_each(dovecot.imap_port, items, len(files))
    mine = fetch_each(ours.port, items, len(files))
    differ = []
    same = 0
    for f, a, b in zip(files, theirs, mine, strict=True):
        va, vb = values(a), values(b)
        same += va == vb
        if va != vb and f.name not in KNOWN:
            differ.append((f.relative_to(CORPUS), first_difference(va, vb)))
    assert not differ, "\n".join(f"{n}: {d}" for n, d in differ)
    # Most of the corpus reads the same; the known differences stay few.
    assert same >= len(files) - len(KNOWN)


def first_difference(a: dict[bytes, object], b: dict[bytes, object]) -> str:
    key = next(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
    return f"{key!r}\n    dovecot   {a.get(key)!r:.600}\n    mailprims {b.get(key)!r:.600}"


def test_dovecot_reads_our_uidlist_format(dovecot: Dovecot, ours: mp.ImapServer) -> None:
    with connect(ours.port) as c:
        c.append("INBOX", b"Subject: one\r\n\r\nx\r\n")
    uidlist = (Path(dovecot.maildir("fred")) / "dovecot-uidlist").read_text()
    # As Dovecot writes it: the header's next UID is left as it was when records are appended.
    assert re.fullmatch(r"3 V\d+ N1 G[0-9a-f]{32}\n1 :\S+\n", uidlist), uidlist


def test_a_kill_9_loses_no_message_and_no_acknowledged_flag(dovecot: Dovecot) -> None:
    """The IMAP server process killed outright (no LOGOUT, no shutdown): every APPEND and
    STORE it answered OK is what Dovecot then reads, with the UIDs it announced, and a
    change in flight when it died is there whole or not at all."""
    from stress.scenarios import ServerProcess

    spec = {
        "kind": "imap",
        "store": str(dovecot.root / "mail"),
        "users": {"fred": PASSWORD},
        "special_folders": False,
    }
    expected: dict[int, set[bytes]] = {}
    with ServerProcess(spec) as server:
        c = imaplib.IMAP4("127.0.0.1", server.port, timeout=30)
        c.login("fred", PASSWORD)
        for i in range(40):
            typ, data = c.append("INBOX", None, None, f"Subject: m{i}\r\n\r\nbody {i}\r\n".encode())
            assert typ == "OK", data
            found = re.search(rb"APPENDUID \d+ (\d+)", data[0] or b"")
            assert found, data
            expected[int(found.group(1))] = set()
        uids = sorted(expected)
        assert c.select("INBOX")[0] == "OK"
        every = [b"\\Seen", b"\\Flagged", b"\\Answered", b"$Work", b"$Later"]
        for n, uid in enumerate(uids[:30]):
            flags = every[: 1 + n % len(every)]
            typ, data = c.uid(
                "STORE", str(uid), "+FLAGS", f"({' '.join(f.decode() for f in flags)})"
            )
            assert typ == "OK", data
            expected[uid] = set(flags)
        # Ten more changes sent without waiting for their replies, and the process killed
        # while they are in flight.
        burst = uids[30:]
        c.sock.sendall(
            b"".join(
                f"B{k} UID STORE {uid} +FLAGS (\\Deleted $Burst)\r\n".encode()
                for k, uid in enumerate(burst)
            )
        )
        server.kill()
        c.shutdown()
    dovecot.hand_over()
    with connect(dovecot.imap_port) as d:
        d.select_folder("INBOX")
        got = {
            uid: {f for f in item[b"FLAGS"] if f != b"\\Recent"}
            for uid, item in d.fetch(d.search("ALL"), ["FLAGS"]).items()
        }
    assert sorted(got) == uids  # nothing lost, nothing doubled, the UIDs we announced
    for uid in uids[:30]:
        assert got[uid] == expected[uid], uid
    for uid in burst:
        assert got[uid] in (set(), {b"\\Deleted", b"$Burst"}), (uid, got[uid])
    assert "Error" not in dovecot.read_log(), dovecot.read_log()


def test_our_index_file_beside_dovecot_and_python_mailbox(
    dovecot: Dovecot, ours: mp.ImapServer, users: mp.Users
) -> None:
    inbox = Path(dovecot.maildir("fred"))
    store = mp.MaildirStore(dovecot.root / "mail")
    with connect(ours.port) as c:
        for i in range(4):
            c.append("INBOX", f"Subject: m{i}\r\n\r\nbody {i}\r\n".encode())
        c.select_folder("INBOX")
        c.add_flags([2], [b"\\Seen", b"$Work"])
    # Delivered a while ago: a server started now scans the quiet folder and writes its index.
    t = time.time() - 10
    for sub in ("new", "cur"):
        os.utime(inbox / sub, (t, t))
    with mp.ImapServer(store=store, users=users, special_folders=False) as server:
        with connect(server.port) as c:
            ours_view = snapshot(c)
    assert (inbox / "mailprims.index").exists()
    # Dovecot lists no folder for it and serves the same messages; it changes the folder.
    dovecot.hand_over()
    with connect(dovecot.imap_port) as d:
        assert snapshot(d) == ours_view
        d.select_folder("INBOX")
        d.add_flags([1], [b"\\Flagged"])
        d.delete_messages([3])
        d.expunge()
        d.append("INBOX", b"Subject: from dovecot\r\n\r\nx\r\n")
        theirs = snapshot(d)
    assert "Error" not in dovecot.read_log(), dovecot.read_log()
    # A restarted server of ours sees all of it: the index no longer matches the directories.
    with mp.ImapServer(store=store, users=users, special_folders=False) as server:
        with connect(server.port) as c:
            assert snapshot(c) == theirs
    # Python's mailbox reads the folder as before: messages only, no folder for the index.
    md = mailbox.Maildir(str(inbox), create=False)
    assert len(md) == 4 and md.list_folders() == []
