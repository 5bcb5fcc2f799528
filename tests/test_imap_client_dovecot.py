"""mailprims.ImapClient and AsyncImapClient against Dovecot's imapd (Debian
``dovecot-imapd``, a throw-away instance from ``_dovecot.py``): plain, STARTTLS and implicit
TLS, every mailbox and message command, CONDSTORE, MOVE, UIDPLUS, ESEARCH, modified UTF-7
mailbox names, SEARCH CHARSET UTF-8, and IDLE seeing a message another process delivers into
the Maildir. The stdlib's imaplib is the oracle for FETCH results (same mailbox, same UIDs),
IMAPClient for BODYSTRUCTURE and ENVELOPE. Skipped when Dovecot is not installed.

Dovecot 2.3 does not offer UTF8=ACCEPT or IMAP4rev2; those paths run against mailprims' own
server in ``test_imap_client.py``."""

from __future__ import annotations

import asyncio
import datetime
import imaplib
import itertools
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _dovecot import Dovecot, available, write_messages
from imapclient import IMAPClient

import mailprims as mp
from mailprims.imap import BodyStructure, Search

pytestmark = pytest.mark.skipif(
    not (available() and os.path.exists("/usr/lib/dovecot/imap")),
    reason="Dovecot imapd is not installed (make peers)",
)

PASSWORD = "pw"
USERS = [f"user{i}" for i in range(16)]
CORPUS = Path(__file__).parent / "corpus"
_next_user = itertools.count()


def simple(i: int, subject: str | None = None) -> bytes:
    return (
        f"From: Ann Example <ann@example.org>\r\nTo: bob@example.net\r\n"
        f"Subject: {subject or f'note {i}'}\r\nDate: Mon, 01 Jan 2024 10:00:{i % 60:02d} +0000\r\n"
        f"Message-ID: <m{i}@example.org>\r\n\r\nBody of note {i}.\r\n"
    ).encode()


def corpus() -> list[bytes]:
    files = sorted(p for p in CORPUS.glob("*/*.eml") if p.stat().st_size < 200_000)
    assert files, "the corpus is empty"
    return [f.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n") for f in files]


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    d = Dovecot(dict.fromkeys(USERS, PASSWORD), imap=True)
    d.start()
    try:
        yield d
    finally:
        d.stop()


class Account:
    """A user of the shared Dovecot with a fresh Maildir."""

    def __init__(self, dovecot: Dovecot, user: str) -> None:
        self.dovecot = dovecot
        self.user = user
        self.maildir = dovecot.maildir(user)

    def deliver(self, messages: list[bytes], start: int = 0) -> None:
        write_messages(self.maildir, messages, start=start)
        self.dovecot.hand_over()

    def client(self, **options: object) -> mp.ImapClient:
        options.setdefault("tls", "starttls")
        options.setdefault("cafile", self.dovecot.cert)
        options.setdefault("timeout", 30)
        c = mp.ImapClient("127.0.0.1", self.dovecot.imap_port, **options)  # type: ignore[arg-type]
        c.login(self.user, PASSWORD)
        return c

    def imaplib(self) -> imaplib.IMAP4:
        m = imaplib.IMAP4("127.0.0.1", self.dovecot.imap_port, timeout=30)
        m.login(self.user, PASSWORD)
        return m


@pytest.fixture
def account(dovecot: Dovecot) -> Account:
    return Account(dovecot, USERS[next(_next_user)])


# ---- connection and authentication ---------------------------------------------------------


def test_plain_starttls_and_implicit_tls(dovecot: Dovecot, account: Account) -> None:
    account.deliver([simple(1)])
    # No TLS: the password stays home unless the caller opts in.
    c = mp.ImapClient("127.0.0.1", dovecot.imap_port, tls="none", timeout=30)
    with pytest.raises(mp.ConfigError, match="unencrypted"):
        c.login(account.user, PASSWORD)
    c.close()
    with mp.ImapClient(
        "127.0.0.1", dovecot.imap_port, tls="none", allow_insecure_auth=True, transcript=True
    ) as c:
        assert c.tls_version is None
        c.login(account.user, PASSWORD, method="login")
        assert c.authenticated
        assert c.select().exists == 1
        # Credentials never reach the transcript.
        assert all(PASSWORD not in line for _, line in c.transcript)
        assert any("LOGIN" in line and "********" in line for d, line in c.transcript if d == "C")
    with account.client(tls="starttls") as c:
        assert c.tls_version in ("TLSv1.2", "TLSv1.3")
        # Capabilities are the fresh post-login ones.
        assert "UIDPLUS" in c.capabilities() and "STARTTLS" not in c.capabilities()
        assert "CONDSTORE" in c.enabled
    with mp.ImapClient(
        "127.0.0.1", dovecot.imaps_port, tls="implicit", cafile=dovecot.cert, timeout=30
    ) as c:
        assert c.tls_version is not None
        c.authenticate("PLAIN", account.user, PASSWORD)
        assert c.select().exists == 1
    # Certificates are verified by default: a self-signed one is refused.
    with pytest.raises(mp.TlsError):
        mp.ImapClient("127.0.0.1", dovecot.imaps_port, tls="implicit", timeout=30).connect()


def test_login_refused_and_missing_mailbox_are_typed(account: Account) -> None:
    c = mp.ImapClient(
        "127.0.0.1", account.dovecot.imap_port, tls="starttls", cafile=account.dovecot.cert
    )
    with pytest.raises(mp.ImapError) as e:
        c.login(account.user, "wrong")
    assert e.value.status == "NO" and e.value.code == "AUTHENTICATIONFAILED"
    assert isinstance(e.value, mp.MailError)
    # XOAUTH2 is not offered by this Dovecot: refused before anything is sent.
    with pytest.raises(mp.ImapError, match="XOAUTH2") as e:
        c.authenticate("XOAUTH2", account.user, "token")
    assert e.value.status is None
    c.login(account.user, PASSWORD)
    with pytest.raises(mp.ImapError) as e:
        c.select("No such box")
    assert e.value.status == "NO" and "doesn't exist" in (e.value.text or "")
    with pytest.raises(mp.ImapError) as e:
        c.create("INBOX")
    assert e.value.code == "ALREADYEXISTS"
    # The session goes on after a NO.
    assert c.select("INBOX").name == "INBOX"
    assert c.id({"name": "mailprims"}) == {"name": "Dovecot"}
    c.logout()
    assert not c.connected


# ---- mailboxes -------------------------------------------------------------------------------


def test_mailboxes_list_status_namespace_and_utf7_names(account: Account) -> None:
    account.deliver([simple(1), simple(2)])
    name = "Entwürfe/Ärger 日本"
    with account.client() as c:
        c.create("Archive")
        c.create(name)
        c.rename("Archive", "Archive 2024")
        c.subscribe("Archive 2024")
        c.create("Trash")
        c.delete("Trash")
        boxes = {b.name: b for b in c.list(status=True)}
        assert set(boxes) == {"INBOX", "Archive 2024", "Entwürfe", name}
        assert boxes["INBOX"].status is not None and boxes["INBOX"].status.messages == 2
        assert boxes["Entwürfe"].delimiter == "/"
        assert [b.name for b in c.list_subscribed()] == ["Archive 2024"]
        c.unsubscribe("Archive 2024")
        assert c.list_subscribed() == []
        ns = c.namespace()
        assert ns.personal[0].prefix == "" and ns.personal[0].delimiter == "/"
        st = c.status(name, ["MESSAGES", "UIDNEXT"])
        assert (st.messages, st.uid_next, st.unseen) == (0, 1, None)
        c.append(name, simple(3))
        inbox = c.select("INBOX")
        assert (inbox.exists, inbox.uid_next, inbox.read_only) == (2, 3, False)
        assert inbox.uid_validity and inbox.highest_modseq
        assert "\\Seen" in inbox.flags and "\\*" in inbox.permanent_flags
        assert c.examine(name).read_only
    # imaplib sees the names on the wire in modified UTF-7 (RFC 3501 §5.1.3).
    m = account.imaplib()
    listed = b"\n".join(m.list()[1])
    assert b"Entw&APw-rfe/&AMQ-rger &ZeVnLA-" in listed
    assert m.select('"Entw&APw-rfe/&AMQ-rger &ZeVnLA-"')[1] == [b"1"]
    m.logout()


# ---- FETCH against imaplib and IMAPClient ------------------------------------------------------


def imaplib_fetch(m: imaplib.IMAP4, uid: int, item: str) -> list[object]:
    typ, data = m.uid("FETCH", str(uid), f"({item})")
    assert typ == "OK", data
    return data


def test_fetch_matches_imaplib(account: Account) -> None:
    messages = corpus()
    account.deliver(messages)
    with account.client() as c:
        c.select("INBOX")
        uids = c.search()
        assert len(uids) == len(messages)
        c.add_flags(uids[::3], ["\\Flagged", "$Label1"])
        items = [
            "FLAGS",
            "INTERNALDATE",
            "RFC822.SIZE",
            "BODY.PEEK[HEADER]",
            "BODY.PEEK[TEXT]<0.100>",
            "BODY.PEEK[]",
            "BODY.PEEK[1]",
        ]
        ours = c.fetch(uids, items)
    m = account.imaplib()
    m.select("INBOX", readonly=True)
    for uid in uids:
        r = ours[uid]
        assert r.uid == uid
        whole = imaplib_fetch(m, uid, "BODY.PEEK[]")[0]
        assert isinstance(whole, tuple)
        assert r.sections["BODY[]"] == whole[1] == r.section()
        header = imaplib_fetch(m, uid, "BODY.PEEK[HEADER]")[0]
        assert isinstance(header, tuple) and r.sections["BODY[HEADER]"] == header[1]
        part = imaplib_fetch(m, uid, "BODY.PEEK[1]")[0]
        theirs_part = part[1] if isinstance(part, tuple) else b""
        assert (r.sections["BODY[1]"] or b"") == theirs_part
        partial = imaplib_fetch(m, uid, "BODY.PEEK[TEXT]<0.100>")[0]
        theirs_partial = partial[1] if isinstance(partial, tuple) else b""
        assert (r.sections["BODY[TEXT]<0>"] or b"") == theirs_partial
        meta = imaplib_fetch(m, uid, "FLAGS INTERNALDATE RFC822.SIZE")[0]
        assert isinstance(meta, bytes)
        flags = [f.decode() for f in imaplib.ParseFlags(meta)]
        # \\Recent belongs to the session that saw the message first.
        assert sorted(set(r.flags or []) - {"\\Recent"}) == sorted(flags)
        size = re.search(rb"RFC822\.SIZE (\d+)", meta)
        assert size and r.size == int(size.group(1))
        when = imaplib.Internaldate2tuple(meta)
        assert when is not None and r.internal_date is not None
        assert r.internal_date.timestamp() == pytest.approx(time.mktime(when), abs=1)
    m.logout()


def test_get_flags_matches_fetch_imaplib_and_imapclient(account: Account) -> None:
    account.deliver([simple(i) for i in range(1, 301)])
    with account.client() as c:
        assert c.select("INBOX").exists == 300
        uids = c.search()
        c.add_flags(uids[::2], "\\Seen")
        c.add_flags(uids[::3], ["\\Flagged", "$Work"])
        c.add_flags(uids[::7], ["$Label1", "\\Answered", "$MDNSent"])
        c.add_flags(uids[5], "\\Draft")
        # Gaps: expunged UIDs asked for are absent from the answer.
        c.add_flags(uids[40:50], "\\Deleted")
        c.expunge(uids[40:50])
        left = uids[:40] + uids[50:]
        ours = c.get_flags(uids)
        assert sorted(ours) == left
        general = c.fetch("1:*", "FLAGS")
        assert ours == {uid: tuple(r.flags or ()) for uid, r in general.items()}
        assert c.get_flags("1:*") == ours == c.get_flags(iter(uids))
        assert c.get_flags(uids[7]) == {uids[7]: ours[uids[7]]}
        assert "\\Draft" in ours[uids[5]] and "$MDNSent" in ours[uids[7]]
        # Messages with the same flags share one tuple, and each flag is one str.
        assert ours[uids[1]] == ours[uids[11]] and ours[uids[1]] is ours[uids[11]]
        seen = {flag for flags in ours.values() for flag in flags}
        assert all(type(f) is str for f in seen)
        assert len({id(f) for flags in ours.values() for f in flags}) == len(seen)

        async def via_async() -> dict[int, tuple[str, ...]]:
            async with mp.AsyncImapClient(
                "127.0.0.1", account.dovecot.imap_port, tls="starttls", cafile=account.dovecot.cert
            ) as a:
                await a.login(account.user, PASSWORD)
                await a.select("INBOX", readonly=True)
                return await a.get_flags(await a.search())

        # Another session: \Recent went to this one.
        assert asyncio.run(via_async()) == {
            uid: tuple(f for f in flags if f != "\\Recent") for uid, flags in ours.items()
        }
    m = account.imaplib()
    m.select("INBOX", readonly=True)
    typ, data = m.uid("FETCH", "1:*", "(FLAGS)")
    assert typ == "OK", data
    oracle = {}
    for line in data:
        assert isinstance(line, bytes)
        uid = re.search(rb"UID (\d+)", line)
        assert uid
        oracle[int(uid.group(1))] = sorted(f.decode() for f in imaplib.ParseFlags(line))
    m.logout()
    theirs_client = IMAPClient("127.0.0.1", port=account.dovecot.imap_port, ssl=False, timeout=30)
    theirs_client.login(account.user, PASSWORD)
    theirs_client.select_folder("INBOX", readonly=True)
    theirs = theirs_client.get_flags(left)
    theirs_client.logout()
    assert {uid: kept(list(flags)) for uid, flags in ours.items()} == oracle
    assert oracle == {uid: sorted(f.decode() for f in flags) for uid, flags in theirs.items()}


def test_get_flags_of_an_empty_mailbox(account: Account) -> None:
    with account.client() as c:
        assert c.select("INBOX").exists == 0
        assert c.get_flags("1:*") == {} == c.get_flags(c.search()) == c.get_flags([])


def structure(b: BodyStructure) -> tuple[object, ...]:
    if b.kind == "multipart":
        return (b.mime_type, sorted(b.params.items()), [structure(p) for p in b.parts])
    return (
        b.mime_type,
        sorted(b.params.items()),
        (b.encoding or "").lower(),
        b.size,
        b.lines if b.kind == "text" else None,
    )


def params(raw: object) -> list[tuple[str, str]]:
    if not raw:
        return []
    items = list(raw)  # type: ignore[call-overload]
    # A parameter given twice (Dovecot repeats some) is one dict entry: the last wins.
    pairs = {
        k.decode().lower(): v.decode("utf-8", "replace")
        for k, v in zip(items[::2], items[1::2], strict=True)
    }
    return sorted(pairs.items())


def their_structure(b: object) -> tuple[object, ...]:
    body = b  # IMAPClient's BodyData (a tuple)
    if body.is_multipart:  # type: ignore[attr-defined]
        parts, subtype = body[0], body[1]  # type: ignore[index]
        ext = params(body[2]) if len(body) > 2 else []  # type: ignore[arg-type]
        return (f"multipart/{subtype.decode().lower()}", ext, [their_structure(p) for p in parts])
    kind = f"{body[0].decode().lower()}/{body[1].decode().lower()}"  # type: ignore[index]
    enc = (body[5] or b"").decode().lower()  # type: ignore[index]
    lines = body[7] if body[0].lower() == b"text" else None  # type: ignore[index]
    return (kind, params(body[2]), enc, body[6], lines)  # type: ignore[index]


def text(value: bytes | None) -> str | None:
    """IMAPClient's bytes (NIL is None, "" stays empty) as our str."""
    return None if value is None else value.decode("utf-8", "replace")


def test_bodystructure_and_envelope_match_imapclient(account: Account) -> None:
    messages = corpus()
    account.deliver(messages)
    with account.client() as c:
        c.select("INBOX")
        uids = c.search()
        ours = c.fetch(uids, ["ENVELOPE", "BODYSTRUCTURE"])
    theirs_client = IMAPClient("127.0.0.1", port=account.dovecot.imap_port, ssl=False, timeout=30)
    theirs_client.login(account.user, PASSWORD)
    theirs_client.select_folder("INBOX", readonly=True)
    theirs = theirs_client.fetch(uids, ["ENVELOPE", "BODYSTRUCTURE"])
    theirs_client.logout()
    compared = 0
    for uid in uids:
        mine, other = ours[uid], theirs[uid]
        assert mine.body_structure is not None and mine.envelope is not None
        assert structure(mine.body_structure) == their_structure(other[b"BODYSTRUCTURE"])
        env = other[b"ENVELOPE"]
        assert mine.envelope.message_id == text(env.message_id)
        assert mine.envelope.in_reply_to == text(env.in_reply_to)
        for field in ("from_", "sender", "reply_to", "to", "cc", "bcc"):
            a = [(x.mailbox, x.host) for x in getattr(mine.envelope, field)]
            b = [
                (
                    x.mailbox.decode("utf-8", "replace") if x.mailbox is not None else None,
                    x.host.decode("utf-8", "replace") if x.host is not None else None,
                )
                for x in (getattr(env, field) or ())
            ]
            assert a == b, (uid, field)
        raw_subject = text(env.subject)
        if raw_subject is None or ("=?" not in raw_subject and raw_subject.isascii()):
            assert mine.envelope.subject == raw_subject
        compared += 1
    assert compared == len(messages)


# ---- SEARCH, streaming, flags, CONDSTORE -----------------------------------------------------


def test_search_builder_string_and_utf8(account: Account) -> None:
    account.deliver([simple(1), simple(2, "Grüße aus Köln"), simple(3, "weekly report"), simple(4)])
    with account.client(transcript=True) as c:
        c.select("INBOX")
        assert c.search() == [1, 2, 3, 4]
        assert c.search("SUBJECT report") == [3]
        assert c.search(Search.subject("Köln")) == [2]
        # ESEARCH is offered: results come in ranges (RFC 4731).
        assert any("RETURN (ALL)" in line for d, line in c.transcript if d == "C")
        # Not ASCII, no UTF8=ACCEPT: CHARSET UTF-8 and a literal.
        assert any("CHARSET UTF-8" in line for d, line in c.transcript if d == "C")
        c.add_flags([1, 3], "\\Seen")
        assert c.search(Search.unseen()) == [2, 4]
        assert c.search(Search.seen() & Search.subject("report")) == [3]
        assert c.search(Search.subject("Köln") | Search.subject("report")) == [2, 3]
        assert c.search(~Search.uid("1:2")) == [3, 4]
        assert c.search(Search.sent_since(datetime.date(2023, 12, 31))) == [1, 2, 3, 4]
        assert c.search(Search.header("Message-ID", "m4@")) == [4]
        # Nothing the caller writes can end the line.
        with pytest.raises(ValueError):
            c.search("ALL\r\nA1 DELETE INBOX")
        with pytest.raises(ValueError):
            c.search("SUBJECT {5}")
        m = account.imaplib()
        m.select("INBOX")
        assert m.uid("SEARCH", "UNSEEN")[1] == [b"2 4"]
        m.logout()


def test_fetch_messages_streams_parsed_messages(account: Account) -> None:
    messages = corpus()[:40] + [simple(i) for i in range(40)]
    account.deliver(messages)
    with account.client(fetch_batch=7) as c:
        c.select("INBOX")
        uids = c.search()
        # A UID that does not exist is skipped.
        got = list(c.fetch_messages([*uids, 999]))
        assert [u for u, _ in got] == uids
        for (uid, msg), data in zip(got, messages, strict=True):
            assert isinstance(msg, mp.Message)
            # Dovecot sends a NUL as 0x80 outside BINARY fetches.
            assert bytes(msg) == data.replace(b"\0", b"\x80"), uid
        assert got[-1][1].subject == "note 39"
        raw = dict(c.fetch_messages_bytes(uids[:5]))
        assert raw == {u: messages[u - 1].replace(b"\0", b"\x80") for u in uids[:5]}
        # BODY.PEEK leaves \Seen alone.
        assert c.search(Search.seen()) == []
        # Abandoning a stream half-way leaves the session usable.
        stream = c.fetch_messages(uids)
        next(stream)
        del stream
        assert c.search(Search.subject("note 3")) == c.search('SUBJECT "note 3"')


def kept(flags: list[str]) -> list[str]:
    """Flags without \\Recent (which belongs to the session that saw a message first)."""
    return sorted(set(flags) - {"\\Recent"})


def test_store_flags_and_condstore(account: Account) -> None:
    account.deliver([simple(i) for i in range(1, 6)])
    with account.client() as c:
        st = c.select("INBOX")
        start = st.highest_modseq
        assert start is not None
        c.add_flags([1, 2], ["\\Flagged", "$Work"])
        c.remove_flags(2, "\\Flagged")
        c.set_flags("4:5", ["\\Answered"])
        flags = {uid: kept(list(f)) for uid, f in c.get_flags("1:*").items()}
        assert flags == {
            1: ["$Work", "\\Flagged"],
            2: ["$Work"],
            3: [],
            4: ["\\Answered"],
            5: ["\\Answered"],
        }
        loud = c.store(3, "\\Seen", silent=False)
        assert {uid: kept(f) for uid, f in loud.flags.items()} == {3: ["\\Seen"]}
        changed = c.fetch("1:*", ["FLAGS", "MODSEQ"], changed_since=start)
        assert sorted(changed) == [1, 2, 3, 4, 5]
        assert all((r.modseq or 0) > start for r in changed.values())
        newest = max(r.modseq or 0 for r in changed.values())
        c.add_flags(1, "\\Seen")
        assert sorted(c.fetch("1:*", "FLAGS", changed_since=newest)) == [1]
        # UNCHANGEDSINCE: message 1 changed after `newest`, so it is not stored.
        result = c.store([1, 2], "$Late", unchanged_since=newest)
        assert result.modified == [1]
        assert "$Late" in c.get_flags(2)[2] and "$Late" not in c.get_flags(1)[1]


def test_copy_move_append_expunge_with_uidplus(account: Account) -> None:
    account.deliver([simple(i) for i in range(1, 6)])
    with account.client(transcript=True) as c:
        c.create("Archive")
        c.select("INBOX")
        copied = c.copy([1, 2], "Archive")
        assert copied is not None and copied.mapping == {1: 1, 2: 2}
        moved = c.move([3, 4], "Archive")
        assert moved is not None and moved.mapping == {3: 3, 4: 4}
        assert any(line.startswith("A") and "UID MOVE" in line for _, line in c.transcript)
        assert c.search() == [1, 2, 5]
        when = datetime.datetime(2023, 5, 17, 8, 30, tzinfo=datetime.timezone.utc)
        appended = c.append("INBOX", simple(9), flags=["\\Seen", "$Imported"], date=when)
        assert appended is not None and appended.uid == 6
        # LITERAL+: the message went out without waiting for a continuation.
        assert any(re.search(r"\{\d+\+\}$", line) for d, line in c.transcript if d == "C")
        r = c.fetch(6, ["FLAGS", "INTERNALDATE"])[6]
        assert r.internal_date == when and kept(r.flags or []) == ["$Imported", "\\Seen"]
        c.add_flags([1, 2], "\\Deleted")
        assert c.expunge([2]) == [2]  # UID EXPUNGE: only UID 2 goes
        assert c.search() == [1, 5, 6]
        assert c.expunge() == [1]
        assert c.search() == [5, 6]
        with pytest.raises(mp.ImapError) as e:
            c.copy(5, "Nowhere")
        assert e.value.code == "TRYCREATE"
        assert c.status("Archive").messages == 4


# ---- IDLE ---------------------------------------------------------------------------------------

DELIVER = """
import os, sys
maildir, name, data = sys.argv[1], sys.argv[2], sys.argv[3].encode()
with open(os.path.join(maildir, "tmp", name), "wb") as f:
    f.write(data)
if len(sys.argv) > 4:
    os.chown(os.path.join(maildir, "tmp", name), int(sys.argv[4]), int(sys.argv[4]))
os.rename(os.path.join(maildir, "tmp", name), os.path.join(maildir, "new", name))
"""


def deliver_elsewhere(account: Account, i: int) -> subprocess.Popen[bytes]:
    """Another process delivers message ``i`` into the Maildir (as an MDA would)."""
    args = [sys.executable, "-c", DELIVER, str(account.maildir), f"17{i}.M1P2.other"]
    args.append(simple(i).decode())
    if os.geteuid() == 0:
        args.append(str(account.dovecot.mail_uid))
    return subprocess.Popen(args)


def test_idle_sync_iterator_sees_another_process_deliver(account: Account) -> None:
    account.deliver([simple(1)])
    with account.client(transcript=True) as c:
        c.select("INBOX")
        timer = threading.Timer(1.0, lambda: deliver_elsewhere(account, 2).wait(10))
        timer.start()
        try:
            for event in c.idle(timeout=20):
                if event.kind == "exists":
                    assert event.number == 2
                    break
            else:
                raise AssertionError("no EXISTS within 20 s")
        finally:
            timer.join()
        # Leaving the loop ended IDLE with DONE; the session goes on.
        sent = [line for d, line in c.transcript if d == "C"]
        assert sent[-1] == "DONE" and sent[-2].endswith(" IDLE")
        assert c.search() == [1, 2]
        # A quiet IDLE ends after its timeout, with DONE.
        assert list(c.idle(timeout=0.3)) == []
        assert [line for d, line in c.transcript if d == "C"][-1] == "DONE"


def test_idle_async_iterator_and_cancellation(account: Account) -> None:
    account.deliver([simple(1)])

    async def main() -> None:
        async with mp.AsyncImapClient(
            "127.0.0.1",
            account.dovecot.imap_port,
            tls="starttls",
            cafile=account.dovecot.cert,
            transcript=True,
            timeout=30,
        ) as c:
            await c.login(account.user, PASSWORD)
            await c.select("INBOX")
            timer = threading.Timer(1.0, lambda: deliver_elsewhere(account, 2).wait(10))
            timer.start()
            try:
                async for event in c.idle(timeout=20):
                    if event.kind == "exists":
                        assert event.number == 2
                        break
                else:
                    raise AssertionError("no EXISTS within 20 s")
            finally:
                timer.join()
            assert await c.search() == [1, 2]

            async def wait_forever() -> None:
                async for _ in c.idle():
                    raise AssertionError("nothing should happen")

            task = asyncio.create_task(wait_forever())
            await asyncio.sleep(0.5)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            # The cancelled IDLE was ended with DONE and the session is usable.
            assert await c.search(Search.all()) == [1, 2]
            sent = [line for d, line in c.transcript if d == "C"]
            assert sent.count("DONE") == 2
            assert c.connected

    asyncio.run(main())
