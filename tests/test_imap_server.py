"""The IMAP server against real clients nobody here wrote: the stdlib's imaplib and
IMAPClient (PyPI), every command over loopback sockets, and Python's ``mailbox`` reading the
Maildir the server changed."""

from __future__ import annotations

import email.utils
import imaplib
import mailbox
import os
import re
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

import mailprims as mp

PASSWORD = "s3cret pw"
MESSAGE = (
    b"From: Bob Example <bob@example.org>\r\n"
    b"To: Alice <alice@example.org>, team: carol@example.org;\r\n"
    b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= from Bob\r\n"
    b"Date: Tue, 06 Feb 2024 10:00:00 +0100\r\n"
    b"Message-ID: <m1@example.org>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="zz"\r\n'
    b"\r\n"
    b"--zz\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"H=C3=A9llo Alice, the report is attached.\r\n"
    b"--zz\r\n"
    b'Content-Type: application/octet-stream; name="r.bin"\r\n'
    b"Content-Transfer-Encoding: base64\r\n"
    b'Content-Disposition: attachment; filename="r.bin"\r\n'
    b"\r\n"
    b"aGVsbG8gd29ybGQ=\r\n"
    b"--zz--\r\n"
)


@pytest.fixture(scope="module")
def users() -> mp.Users:
    users = mp.Users()
    users.add("alice", PASSWORD)
    users.add("bob", PASSWORD)
    return users


@pytest.fixture
def store(tmp_path: Path) -> mp.MaildirStore:
    return mp.MaildirStore(tmp_path / "mail")


@pytest.fixture
def server(store: mp.MaildirStore, users: mp.Users) -> Iterator[mp.ImapServer]:
    events: list[mp.ServerEvent] = []
    with mp.ImapServer(
        store=store,
        users=users,
        hostname="imap.test",
        auth_failure_delay=0.0,
        shutdown_grace=5.0,
        check_interval=0.2,
        on_event=events.append,
    ) as server:
        server.events = events  # type: ignore[attr-defined]
        yield server


def client(server: mp.ImapServer, user: str = "alice") -> IMAPClient:
    c = IMAPClient("127.0.0.1", port=server.port, ssl=False, timeout=30)
    c.login(user, PASSWORD)
    return c


def imap(server: mp.ImapServer, user: str = "alice") -> imaplib.IMAP4:
    c = imaplib.IMAP4("127.0.0.1", server.port, timeout=30)
    c.login(user, PASSWORD)
    return c


def test_greeting_capabilities_id_namespace(server: mp.ImapServer) -> None:
    with imaplib.IMAP4("127.0.0.1", server.port, timeout=30) as c:
        assert "IMAP4REV2" in c.capabilities and "AUTH=PLAIN" in c.capabilities
        assert c.welcome.endswith(b"imap.test IMAP server ready.")
        c.login("alice", PASSWORD)
        typ, data = c.namespace()
        assert (typ, data) == ("OK", [b'(("" "/")) NIL NIL'])
    with client(server) as c:
        (ident,) = c.id_({"name": "test"})
        assert dict(zip(ident[::2], ident[1::2], strict=True))[b"name"] == b"mailprims"
        assert c.has_capability("UIDPLUS") and c.has_capability("MOVE")
        assert c.enable("IMAP4rev2") == [b"IMAP4rev2"]


def test_login_failures_and_authenticate(server: mp.ImapServer) -> None:
    c = imaplib.IMAP4("127.0.0.1", server.port, timeout=30)
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        c.login("alice", "wrong")
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        c.login("nobody", "wrong")
    c.authenticate("PLAIN", lambda _: f"\0alice\0{PASSWORD}".encode())
    assert c.state == "AUTH"
    c.logout()
    # The third failure ends the connection.
    c = imaplib.IMAP4("127.0.0.1", server.port, timeout=30)
    for _ in range(2):
        with pytest.raises(imaplib.IMAP4.error):
            c.login("alice", "nope")
    with pytest.raises((imaplib.IMAP4.error, imaplib.IMAP4.abort)):
        c.login("alice", "nope")
    with pytest.raises((imaplib.IMAP4.abort, OSError)):
        c.noop()
    c.sock.close()
    server.flush_events()
    kinds = [(e.kind, e.user, e.mechanism) for e in server.events]  # type: ignore[attr-defined]
    assert kinds[:3] == [
        ("login_failed", "alice", "LOGIN"),
        ("login_failed", "nobody", "LOGIN"),
        ("login", "alice", "AUTHENTICATE PLAIN"),
    ]


def test_starttls_and_implicit_tls(tmp_path: Path, store: mp.MaildirStore, users: mp.Users) -> None:
    cert, key = mp.tls.write_self_signed_certificate(tmp_path)
    context = ssl.create_default_context(cafile=str(cert))
    with mp.ImapServer(store=store, users=users, tls_cert=cert, tls_key=key) as server:
        c = imaplib.IMAP4("127.0.0.1", server.port, timeout=30)
        assert "STARTTLS" in c.capabilities
        c.starttls(ssl_context=context)
        assert "STARTTLS" not in c.capabilities
        c.login("alice", PASSWORD)
        c.logout()
    with mp.ImapServer(
        store=store, users=users, tls_cert=cert, tls_key=key, implicit_tls=True
    ) as server:
        with imaplib.IMAP4_SSL("127.0.0.1", server.port, ssl_context=context, timeout=30) as c:
            c.login("alice", PASSWORD)
            assert c.select()[0] == "OK"


def test_append_fetch_every_item(server: mp.ImapServer, store: mp.MaildirStore) -> None:
    with client(server) as c:
        when = email.utils.parsedate_to_datetime("Tue, 06 Feb 2024 09:00:00 +0000")
        appended = c.append("INBOX", MESSAGE, flags=[b"$Work"], msg_time=when)
        assert appended.endswith(b"Append completed.") and b"APPENDUID" in appended
        c.select_folder("INBOX")
        (uid,) = c.search("ALL")
        data = c.fetch(
            [uid],
            [
                "FLAGS",
                "INTERNALDATE",
                "RFC822.SIZE",
                "ENVELOPE",
                "BODYSTRUCTURE",
                "BODY.PEEK[1]",
                "BODY.PEEK[2.MIME]",
                "BODY.PEEK[HEADER.FIELDS (SUBJECT)]",
                "BODY.PEEK[]<0.20>",
                "BINARY.PEEK[2]",
                "BINARY.SIZE[2]",
            ],
        )[uid]
        assert data[b"FLAGS"] == (b"$Work",)
        assert data[b"RFC822.SIZE"] == len(MESSAGE)
        assert data[b"INTERNALDATE"].timestamp() == when.timestamp()
        env = data[b"ENVELOPE"]
        assert env.subject == b"=?utf-8?q?Gr=C3=BC=C3=9Fe?= from Bob"
        assert env.from_[0].name == b"Bob Example" and env.from_[0].host == b"example.org"
        assert env.sender == env.from_ and env.message_id == b"<m1@example.org>"
        assert [a.mailbox for a in env.to] == [b"alice", b"team", b"carol", None]
        body = data[b"BODYSTRUCTURE"]
        assert body.is_multipart and body[1] == b"mixed"
        text, attachment = body[0]
        assert text[:2] == (b"text", b"plain") and text[5] == b"quoted-printable"
        assert attachment[8] == (b"attachment", (b"filename", b"r.bin"))
        assert data[b"BODY[1]"] == b"H=C3=A9llo Alice, the report is attached."
        assert data[b"BODY[2.MIME]"].startswith(b"Content-Type: application/octet-stream")
        assert data[b"BODY[HEADER.FIELDS (SUBJECT)]"] == (
            b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= from Bob\r\n\r\n"
        )
        assert data[b"BODY[]<0>"] == MESSAGE[:20]
        assert data[b"BINARY[2]"] == b"hello world"
        assert data[b"BINARY.SIZE[2]"] == 11
        # PEEK left \Seen alone; a plain BODY[] sets it and says so.
        data = c.fetch([uid], ["BODY[TEXT]"])[uid]
        assert data[b"FLAGS"] == (b"\\Seen", b"$Work")
        assert c.get_flags([uid])[uid] == (b"\\Seen", b"$Work")
    # The file: in cur/, the seen flag and the keyword's letter in its name, and the
    # keyword in dovecot-keywords.
    md = mailbox.Maildir(str(Path(store.root) / "alice"), create=False)
    (msg,) = md.values()
    assert msg.get_subdir() == "cur" and set(msg.get_flags()) == {"S", "a"}
    assert (Path(str(Path(store.root) / "alice")) / "dovecot-keywords").read_text() == "0 $Work\n"


def test_imaplib_fetch_rfc822_forms_and_literals(server: mp.ImapServer) -> None:
    c = imap(server)
    typ, data = c.append("INBOX", "(\\Flagged)", None, MESSAGE)
    assert typ == "OK"
    c.select("INBOX")
    typ, data = c.fetch("1", "(RFC822.HEADER RFC822.TEXT UID)")
    assert typ == "OK"
    assert data[0][1] == MESSAGE.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
    typ, data = c.fetch("1", "(RFC822)")
    assert data[0][1] == MESSAGE
    assert c.fetch("1", "(FLAGS)")[1][0] == b"1 (FLAGS (\\Flagged \\Seen))"
    # Content with NUL goes as literal8 (RFC 3516), which imaplib reads as a literal.
    binary = b"Content-Type: application/octet-stream\r\n"
    binary += b"Content-Transfer-Encoding: base64\r\n\r\nAAECAwQ=\r\n"
    c.append("INBOX", None, None, binary)
    typ, data = c.fetch("2", "(BINARY.PEEK[1])")
    assert data[0][0].endswith(b"BINARY[1] ~{5}") and data[0][1] == b"\x00\x01\x02\x03\x04"
    typ, data = c.copy("1:2", "Archive")
    assert typ == "OK" and re.fullmatch(rb"\[COPYUID \d+ 1:2 1:2\] Copy completed\.", data[0])
    # A quoted string with a space, a literal login.
    typ, _ = c.create('"Two words"')
    assert typ == "OK"
    assert c.select('"Two words"')[0] == "OK"
    c.logout()


def test_store_search_expunge(server: mp.ImapServer, store: mp.MaildirStore) -> None:
    with client(server) as c:
        for i in range(5):
            msg = f"Subject: number {i}\r\nFrom: x{i}@example.org\r\n\r\nbody {i} \u00e9t\u00e9\r\n"
            c.append("INBOX", msg.encode())
        c.select_folder("INBOX")
        uids = c.search("ALL")
        assert uids == [1, 2, 3, 4, 5]
        c.add_flags([1, 2], [b"\\Seen", b"$Label"])
        c.remove_flags([2], [b"$Label"])
        c.set_flags([3], [b"\\Flagged"])
        assert c.get_flags([1, 2, 3]) == {
            1: (b"\\Seen", b"$Label"),
            2: (b"\\Seen",),
            3: (b"\\Flagged",),
        }
        assert c.search(["UNSEEN"]) == [3, 4, 5]
        assert c.search(["KEYWORD", "$Label"]) == [1]
        assert c.search(["OR", "FLAGGED", "FROM", "x4@example.org"]) == [3, 5]
        assert c.search(["SUBJECT", "number 2"]) == [3]
        assert c.search(["BODY", "\u00e9t\u00e9", "NOT", "SEEN"], charset="UTF-8") == [3, 4, 5]
        assert c.search(["LARGER", "10", "SMALLER", "1000000", "UID", "2:4"]) == [2, 3, 4]
        assert c.search(["SINCE", "1-Jan-2020", "BEFORE", "1-Jan-2100"]) == uids
        assert c.search(["HEADER", "Subject", "number 3"]) == [4]
        with pytest.raises(IMAPClientError, match="BADCHARSET"):
            c.search(["TEXT", "x"], charset="KOI8-R")
        c.delete_messages([2, 4])
        assert c.uid_expunge([2]) is not None
        assert c.search("ALL") == [1, 3, 4, 5]
        c.expunge()
        assert c.search("ALL") == [1, 3, 5]
        c.close_folder()
    assert len(store.mailbox("alice")) == 3


def test_esearch_and_searchres_over_imaplib(server: mp.ImapServer) -> None:
    c = imap(server)
    for i in range(4):
        c.append("INBOX", None, None, f"Subject: s{i}\r\n\r\nx\r\n".encode())
    c.select("INBOX")
    typ, data = c.uid("SEARCH", "RETURN", "(MIN MAX COUNT ALL SAVE)", "NOT", "UID", "2")
    assert typ == "OK"
    typ, data = c._untagged_response(typ, data, "ESEARCH")
    assert data[0].endswith(b"UID MIN 1 MAX 4 ALL 1,3:4 COUNT 3")
    typ, data = c.fetch("$", "(UID)")
    assert [d for d in data if d] == [b"1 (UID 1)", b"3 (UID 3)", b"4 (UID 4)"]
    c.logout()


def test_folders_list_status_rename_delete_subscribe(server: mp.ImapServer) -> None:
    with client(server) as c:
        names = {name: flags for flags, _, name in c.list_folders()}
        assert names["Sent"] == (b"\\HasNoChildren", b"\\Sent")
        assert set(names) == {"INBOX", "Archive", "Drafts", "Junk", "Sent", "Trash"}
        assert c.find_special_folder(b"\\Trash") == "Trash"
        c.create_folder("Projekte/Entw\u00fcrfe")
        assert c.folder_exists("Projekte/Entw\u00fcrfe")
        listed = c.list_folders(directory="Projekte", pattern="%")
        assert [name for _, _, name in listed] == ["Projekte/Entw\u00fcrfe"]
        c.append("Projekte/Entw\u00fcrfe", b"Subject: draft\r\n\r\nx\r\n")
        status = c.folder_status(
            "Projekte/Entw\u00fcrfe", ["MESSAGES", "UIDNEXT", "UNSEEN", "SIZE"]
        )
        assert status == {b"MESSAGES": 1, b"UIDNEXT": 2, b"UNSEEN": 1, b"SIZE": 21}
        c.rename_folder("Projekte", "Alt")
        assert c.folder_exists("Alt/Entw\u00fcrfe") and not c.folder_exists("Projekte")
        c.subscribe_folder("Alt/Entw\u00fcrfe")
        assert "Alt/Entw\u00fcrfe" in [n for _, _, n in c.list_sub_folders()]
        c.unsubscribe_folder("Alt/Entw\u00fcrfe")
        assert "Alt/Entw\u00fcrfe" not in [n for _, _, n in c.list_sub_folders()]
        c.delete_folder("Alt/Entw\u00fcrfe")
        assert not c.folder_exists("Alt/Entw\u00fcrfe")
        with pytest.raises(IMAPClientError, match="NONEXISTENT"):
            c.select_folder("Nope")
        with pytest.raises(IMAPClientError):
            c.delete_folder("INBOX")
        for bad in ["../escape", "a/../../b", "a.b", "x\x00y", "/abs"]:
            with pytest.raises(IMAPClientError):
                c.create_folder(bad)


def test_copy_move_uidplus_and_examine(server: mp.ImapServer) -> None:
    with client(server) as c:
        for i in range(3):
            c.append("INBOX", f"Subject: m{i}\r\n\r\nx\r\n".encode(), flags=[b"\\Seen", b"$K"])
        c.select_folder("INBOX")
        c.copy([1, 2], "Archive")
        c.move([3], "Archive")
        assert c.search("ALL") == [1, 2]
        info = c.select_folder("Archive", readonly=True)
        assert info[b"EXISTS"] == 3 and info[b"READ-ONLY"] == [b""]
        assert c.get_flags([1, 2, 3]) == {u: (b"\\Seen", b"$K") for u in (1, 2, 3)}
        with pytest.raises(IMAPClientError):
            c.add_flags([1], [b"\\Deleted"])
        c.unselect_folder()
        with pytest.raises(IMAPClientError, match="TRYCREATE"):
            c.select_folder("INBOX")
            c.copy([1], "Missing")


def test_idle_sees_smtp_deliveries_and_other_sessions(
    server: mp.ImapServer, store: mp.MaildirStore, users: mp.Users
) -> None:
    with (
        mp.SmtpServer(store=store, users=users, auth_require_tls=False) as smtp,
        client(server) as watcher,
        client(server) as other,
    ):
        watcher.select_folder("INBOX")
        other.select_folder("INBOX")
        watcher.idle()
        with smtplib.SMTP("127.0.0.1", smtp.port) as s:
            s.sendmail("bob@example.org", ["alice@example.org"], b"Subject: pushed\r\n\r\nhi\r\n")
        seen = watcher.idle_check(timeout=10)
        assert (1, b"EXISTS") in seen
        # Another session expunges it: the IDLE session hears at once.
        other.noop()
        other.delete_messages([1])
        other.expunge()
        # Setting \\Deleted and the expunge are two changes: a FETCH may come alone first.
        seen = []
        deadline = time.monotonic() + 10
        while (1, b"EXPUNGE") not in seen and time.monotonic() < deadline:
            seen += watcher.idle_check(timeout=max(0.1, deadline - time.monotonic()))
        assert (1, b"EXPUNGE") in seen
        watcher.idle_done()


def test_other_processes_are_seen(server: mp.ImapServer, store: mp.MaildirStore) -> None:
    md = store.mailbox("alice")
    with client(server) as c:
        c.select_folder("INBOX")
        # Python's mailbox (another process, as far as the server knows) adds a message.
        mailbox.Maildir(str(Path(store.root) / "alice"), create=False).add(
            b"Subject: stdlib\n\nx\n"
        )
        assert c.noop()[1] == [(1, b"EXISTS")]
        # The LF-only file is served with CRLF, as IMAP requires.
        assert c.fetch([1], ["BODY.PEEK[]"])[1][b"BODY[]"] == b"Subject: stdlib\r\n\r\nx\r\n"
        key = md.keys()[0]
        md.set_flags(key, "FS")
        responses = c.noop()[1]
        assert (1, b"FETCH", (b"UID", 1, b"FLAGS", (b"\\Flagged", b"\\Seen"))) in responses


def test_uids_stay_across_restarts(store: mp.MaildirStore, users: mp.Users) -> None:
    for i in range(3):
        store.deliver(f"Subject: {i}\r\n\r\nx\r\n".encode(), ["bob"])
    with mp.ImapServer(store=store, users=users) as server, client(server, "bob") as c:
        first = c.select_folder("INBOX")
        c.delete_messages([2])
        c.expunge()
    store.deliver(b"Subject: 3\r\n\r\nx\r\n", ["bob"])
    with mp.ImapServer(store=store, users=users) as server, client(server, "bob") as c:
        again = c.select_folder("INBOX")
        assert again[b"UIDVALIDITY"] == first[b"UIDVALIDITY"]
        assert c.search("ALL") == [1, 3, 4]
        assert again[b"UIDNEXT"] == 5


def _age(maildir: Path, seconds: float = 10.0) -> None:
    """Set ``new/`` and ``cur/`` back in time: mail delivered a while ago (the server writes
    its index only for directories that had been quiet when it scanned them)."""
    t = time.time() - seconds
    for sub in ("new", "cur"):
        os.utime(maildir / sub, (t, t))


def _view_after_restart(store: mp.MaildirStore, users: mp.Users) -> tuple[object, ...]:
    """What a server started afresh says on SELECT INBOX, and every message's flags."""
    with mp.ImapServer(store=store, users=users) as server, client(server, "bob") as c:
        info = c.select_folder("INBOX", readonly=True)
        uids = c.search("ALL")
        data = c.fetch(uids, ["FLAGS"]) if uids else {}
        return (
            info[b"EXISTS"],
            info[b"UIDVALIDITY"],
            info[b"UIDNEXT"],
            info[b"FLAGS"],
            [(uid, tuple(sorted(data[uid][b"FLAGS"]))) for uid in uids],
        )


def test_select_after_restart_from_the_index(store: mp.MaildirStore, users: mp.Users) -> None:
    for i in range(6):
        store.deliver(f"Subject: {i}\r\n\r\nx\r\n".encode(), ["bob"])
    with mp.ImapServer(store=store, users=users) as server, client(server, "bob") as c:
        c.select_folder("INBOX")
        c.add_flags([2], [b"\\Seen"])
        c.add_flags([3], [b"\\Flagged", b"\\Answered", b"$Work"])
        c.delete_messages([6])
        c.expunge()
    inbox = Path(store.root) / "bob"
    index = inbox / "mailprims.index"
    _age(inbox)
    scanned = _view_after_restart(store, users)
    assert scanned[0] == 5 and scanned[2] == 7
    assert scanned[4] == [
        (1, ()),
        (2, (b"\\Seen",)),
        (3, (b"$Work", b"\\Answered", b"\\Flagged")),
        (4, ()),
        (5, ()),
    ]
    assert index.exists()
    assert _view_after_restart(store, users) == scanned
    # The index is what answered: a file slipped into new/ behind an unchanged directory
    # time is not listed (why the index is written only for quiet directories).
    before = os.stat(inbox / "new").st_mtime_ns
    (inbox / "new" / "1.hidden.h").write_bytes(b"Subject: hidden\n\nx\n")
    os.utime(inbox / "new", ns=(before, before))
    assert _view_after_restart(store, users) == scanned
    (inbox / "new" / "1.hidden.h").unlink()
    os.utime(inbox / "new", ns=(before, before))
    # A cache: corrupt, truncated, foreign or deleted, it is ignored and written again.
    good = index.read_bytes()
    other_version = b"mpindex\n\x63" + good[9:]
    for bad in (good[: len(good) // 2], b"\0" * len(good), other_version, None):
        if bad is None:
            index.unlink()
        else:
            index.write_bytes(bad)
        assert _view_after_restart(store, users) == scanned
        assert index.read_bytes()[:8] == b"mpindex\n"
        assert len(index.read_bytes()) == len(good)
    # Another process delivers (Python's mailbox writes into new/): seen after a restart.
    mailbox.Maildir(str(inbox), create=False).add(b"Subject: stdlib\n\nx\n")
    view = _view_after_restart(store, users)
    assert view[0] == 6 and view[4][-1] == (7, ())  # type: ignore[index]
    _age(inbox)
    assert _view_after_restart(store, users) == view
    # Another process renames a file for its flags, and removes one.
    (name,) = [n for n in os.listdir(inbox / "cur") if n.endswith(":2,S")]
    os.rename(inbox / "cur" / name, inbox / "cur" / name.replace(":2,S", ":2,FS"))
    records = (inbox / "dovecot-uidlist").read_text().splitlines()[1:]
    key = next(line.split(":", 1)[1] for line in records if line.startswith("1 "))
    (path,) = [
        d / n
        for d in (inbox / "cur", inbox / "new")
        for n in os.listdir(d)
        if n.split(":")[0] == key
    ]
    path.unlink()
    view = _view_after_restart(store, users)
    assert [uid for uid, _ in view[4]] == [2, 3, 4, 5, 7]  # type: ignore[index]
    assert view[4][0] == (2, (b"\\Flagged", b"\\Seen"))  # type: ignore[index]


def test_limits_bad_commands_and_huge_literals(store: mp.MaildirStore, users: mp.Users) -> None:
    with mp.ImapServer(
        store=store, users=users, max_errors=3, max_message_size=4096, auth_failure_delay=0.0
    ) as server:
        with client(server) as c:
            with pytest.raises(IMAPClientError, match="TOOBIG"):
                c.append("INBOX", b"x" * 10_000)
            assert c.noop()[0].endswith(b"completed.")
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        reader = sock.makefile("rb")
        reader.readline()
        for i in range(3):
            sock.sendall(f"t{i} WHAT\r\n".encode())
            assert reader.readline().startswith(f"t{i} BAD".encode())
        assert reader.readline() == b"* BYE Too many invalid IMAP commands.\r\n"
        assert reader.readline() == b""
        sock.close()


def test_stop_ends_idle_sessions(store: mp.MaildirStore, users: mp.Users) -> None:
    server = mp.ImapServer(store=store, users=users, shutdown_grace=5.0)
    server.start()
    c = client(server)
    c.select_folder("INBOX")
    c.idle()
    stopper = threading.Thread(target=server.stop)
    started = time.monotonic()
    stopper.start()
    stopper.join(30)
    assert not stopper.is_alive() and time.monotonic() - started < 10
    with pytest.raises((IMAPClientError, OSError)):
        c.idle_check(timeout=5)
        c.idle_done()
    assert server.active_connections == 0
    assert repr(server).startswith("<ImapServer 127.0.0.1:")
    c.shutdown()  # the server is gone; this closes our socket (no ResourceWarning)


def test_line_and_literal_limits_over_imaplib(store: mp.MaildirStore, users: mp.Users) -> None:
    with mp.ImapServer(
        store=store, users=users, max_line=2048, max_literal=2048, auth_failure_delay=0.0
    ) as server:
        c = imap(server)
        c.select("INBOX")
        # A command line over max_line: BAD, and the session goes on.
        with pytest.raises(imaplib.IMAP4.error, match="Command line too long"):
            c._simple_command("SEARCH", "SUBJECT", "x" * 5000)
        assert c.noop()[0] == "OK"
        # A literal over max_literal: refused before its data is sent (imaplib stops waiting
        # for the continuation when the tagged NO comes).
        c.literal = b"y" * 5000
        assert c._simple_command("SEARCH", "CHARSET", "UTF-8", "SUBJECT") == (
            "NO",
            [b"[TOOBIG] Literal too large."],
        )
        # One within the limit is read.
        c.literal = b"y" * 1000
        typ, done = c._simple_command("SEARCH", "CHARSET", "UTF-8", "SUBJECT")
        assert c._untagged_response(typ, done, "SEARCH") == ("OK", [b""])
        assert c.noop()[0] == "OK"
        c.logout()


def test_bad_command_cap_over_imaplib(store: mp.MaildirStore, users: mp.Users) -> None:
    with mp.ImapServer(store=store, users=users, max_errors=3, auth_failure_delay=0.0) as server:
        c = imap(server)
        for _ in range(3):
            with pytest.raises(imaplib.IMAP4.error, match="BAD"):
                c.xatom("WHAT")
        # The third bad command was the last: BYE, and the connection is gone.
        with pytest.raises((imaplib.IMAP4.abort, OSError)):
            c.noop()
        assert c.untagged_responses.get("BYE") == [b"Too many invalid IMAP commands."]
        c.shutdown()


def test_login_failures_are_delayed(store: mp.MaildirStore, users: mp.Users) -> None:
    with mp.ImapServer(store=store, users=users, auth_failure_delay=1.0) as server:
        c = imaplib.IMAP4("127.0.0.1", server.port, timeout=30)
        started = time.monotonic()
        with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
            c.login("alice", "wrong")
        # A lower bound only: the answer to a wrong password waits at least the delay.
        assert time.monotonic() - started >= 1.0
        c.login("alice", PASSWORD)
        c.logout()


def _native_threads() -> list[str]:
    """Names of the process's threads started by the extension (tokio's workers and blocking
    threads, the servers' fixed pools); Python's own threads keep the process name."""
    names = []
    for task in Path("/proc/self/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
        except OSError:  # the thread ended meanwhile
            continue
        if name.startswith(("tokio", "mailprims")):
            names.append(name)
    return names


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_a_burst_of_logins_queues_on_the_password_threads(
    store: mp.MaildirStore, users: mp.Users
) -> None:
    """Each Argon2 check takes 19 MiB: 24 logins at once must queue on the servers' password
    threads (one per core), not take a thread and the hash memory each."""
    logins = 24
    with mp.ImapServer(store=store, users=users) as server:
        clients = [imaplib.IMAP4("127.0.0.1", server.port, timeout=60) for _ in range(logins)]
        before = _native_threads()
        start = threading.Barrier(logins)
        errors: list[BaseException] = []

        def login(c: imaplib.IMAP4) -> None:
            try:
                start.wait(30)
                c.login("alice", PASSWORD)
            except BaseException as e:  # reported below
                errors.append(e)

        workers = [threading.Thread(target=login, args=(c,)) for c in clients]
        for w in workers:
            w.start()
        for w in workers:
            w.join(120)
        after = _native_threads()
        for c in clients:
            c.logout()
    assert not errors
    cores = os.cpu_count() or 1
    assert 1 <= after.count("mailprims-auth") <= min(max(cores, 1), 16)
    # Opening the mailbox after each check may take a blocking thread or two; a thread per
    # login would add 24.
    assert len(after) - len(before) <= 6, (before, after)


def test_max_connections_over_imaplib(store: mp.MaildirStore, users: mp.Users) -> None:
    with mp.ImapServer(store=store, users=users, max_connections=2) as server:
        first = imap(server)
        second = imap(server)
        # The third is greeted with BYE [UNAVAILABLE], which imaplib reports as an error.
        with pytest.raises(imaplib.IMAP4.error, match="UNAVAILABLE"):
            imaplib.IMAP4("127.0.0.1", server.port, timeout=30)
        first.logout()
        # Once a session ends its place is free again (the server notices the close
        # asynchronously, so a few attempts are allowed).
        third = None
        for _ in range(100):
            try:
                third = imap(server)
                break
            except imaplib.IMAP4.error:
                time.sleep(0.1)
        assert third is not None
        assert third.noop()[0] == "OK"
        third.logout()
        second.logout()


def test_two_sessions_and_smtp_keep_sequence_numbers(
    server: mp.ImapServer, store: mp.MaildirStore, users: mp.Users
) -> None:
    """RFC 9051 §7.5: new mail reaches every selected session; an expunge made by another
    session is told with EXPUNGE only when no FETCH/STORE/SEARCH is running, and until then
    the sequence numbers stay as they were."""
    with mp.SmtpServer(store=store, users=users, auth_require_tls=False) as smtp:
        a = imap(server)
        b = imap(server)
        assert a.select("INBOX") == ("OK", [b"0"])
        assert b.select("INBOX") == ("OK", [b"0"])
        with smtplib.SMTP("127.0.0.1", smtp.port) as s:
            for i in range(3):
                s.sendmail("bob@example.org", ["alice@example.org"], f"Subject: s{i}\r\n\r\nx\r\n")
        for session in (a, b):
            session.untagged_responses.clear()
            session.noop()
            assert session.untagged_responses["EXISTS"][-1] == b"3"
        b.store("1:2", "+FLAGS", "(\\Deleted)")
        b.expunge()
        # Session a fetches by sequence number: no EXPUNGE during its FETCH, and message 3 is
        # still number 3.
        a.untagged_responses.clear()
        typ, data = a.fetch("3", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert typ == "OK" and data[0][1].strip() == b"Subject: s2"  # type: ignore[index]
        assert "EXPUNGE" not in a.untagged_responses
        # NOOP tells: two expunges, each renumbering the rest (1 then 1 again).
        a.noop()
        assert a.untagged_responses["EXPUNGE"] == [b"1", b"1"]
        typ, data = a.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert data[0][1].strip() == b"Subject: s2"  # type: ignore[index]
        # Message 2 is gone now: the number is out of range (BAD, as Dovecot answers).
        with pytest.raises(imaplib.IMAP4.error, match="Invalid messageset"):
            a.fetch("2", "(FLAGS)")
        a.logout()
        b.logout()


def test_idle_and_login_timeouts_over_imapclient(store: mp.MaildirStore, users: mp.Users) -> None:
    # The 30-minute default made short: a session in IDLE that hears nothing is told BYE.
    with mp.ImapServer(store=store, users=users, timeout=1.0, login_timeout=1.0) as server:
        c = client(server)
        c.select_folder("INBOX")
        c.idle()
        bye: tuple[object, ...] = ()
        for _ in range(30):
            bye = next((r for r in c.idle_check(timeout=1) if r[0] == b"BYE"), ())
            if bye:
                break
        # IMAPClient splits the text into atoms.
        assert bye[:2] == (b"BYE", b"Disconnected"), bye
        c.shutdown()
        # Before login the limit is login_timeout.
        raw = imaplib.IMAP4("127.0.0.1", server.port, timeout=30)
        assert raw.readline() == b"* BYE Disconnected for inactivity.\r\n"
        raw.shutdown()


def test_bad_configuration_messages(
    tmp_path: Path, store: mp.MaildirStore, users: mp.Users
) -> None:
    # The servers' constructors share these checks (src/python/server.rs): one message each.
    cert, _ = mp.tls.write_self_signed_certificate(tmp_path)
    refused: list[tuple[dict[str, object], type[Exception], str]] = [
        ({"store": object()}, TypeError, "store must be a mailprims.MaildirStore"),
        ({"users": {}}, TypeError, "users must be a mailprims.Users"),
        ({"tls_cert": cert}, ValueError, "tls_cert and tls_key must be given together"),
        ({"implicit_tls": True}, ValueError, "implicit_tls needs tls_cert and tls_key"),
        (
            {"max_errors": 0},
            ValueError,
            "max_auth_failures, max_errors and max_connections must be at least 1",
        ),
        (
            {"max_literal": 1023},
            ValueError,
            "max_line, max_literal and max_message_size must be at least 1024",
        ),
        ({"auth_failure_delay": -1}, ValueError, "auth_failure_delay must be a positive"),
    ]
    for changed, error, message in refused:
        arguments: dict[str, object] = {"store": store, "users": users, **changed}
        with pytest.raises(error, match=re.escape(message)):
            mp.ImapServer(**arguments)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=re.escape("max_connections must be at least 1")):
        mp.WebInbox(store, max_connections=0)
    with pytest.raises(ValueError, match=re.escape("require_starttls needs tls_cert and tls_key")):
        mp.SmtpServer(handler=mp.Sink(), require_starttls=True)
    with pytest.raises(
        ValueError, match=re.escape("max_recipients and max_connections must be positive")
    ):
        mp.SmtpServer(handler=mp.Sink(), max_recipients=0)
