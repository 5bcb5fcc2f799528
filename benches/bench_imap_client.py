"""IMAP client over loopback against Dovecot's imapd, mailprims' :class:`~mailprims.ImapClient`
beside imaplib and IMAPClient on the same mailbox, each over one logged-in connection (login
and SELECT before the clock):

* 10,000 mixed messages (``BODY.PEEK[]``) as bytes: ``fetch_messages_bytes`` against imaplib
  (UID FETCH of 500 at a time) and IMAPClient (one ``fetch``);
* the same into parsed messages, Subject, From and Date read: ``fetch_messages`` against
  IMAPClient and ``email.message_from_bytes(policy=email.policy.default)``;
* SEARCH ALL and FETCH FLAGS of a 100,000-message mailbox against IMAPClient;
* peak memory of a process streaming a mailbox of over 1 GiB with ``fetch_messages`` and
  keeping nothing, and what Dovecot alone costs for the rows (a raw socket that only reads
  to the tagged OK): the ceilings of :func:`notes`.

Dovecot (Debian dovecot-core, dovecot-imapd) runs from a temporary directory; without it the
cases are skipped with a message.
"""

from __future__ import annotations

import atexit
import email
import email.policy
import imaplib
import os
import pathlib
import socket
import subprocess
import sys
import textwrap
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests"))

from _dovecot import Dovecot, available, write_messages
from bench_pop3 import mixed_messages
from imapclient import IMAPClient

import mailprims
from harness import Case

PASSWORD = "bench password"
FETCH_COUNT = 10_000
FLAGS_COUNT = 100_000
BATCH = 500
# The streamed mailbox of the memory note: 4,100 messages of 256 KiB, just over 1 GiB,
# written for the note and removed after it.
STREAM_COUNT = 4_100
STREAM_SIZE = 256 << 10

_dovecot: Dovecot | None = None


def _start() -> Dovecot:
    global _dovecot
    if _dovecot is None:
        d = Dovecot({"mixed": PASSWORD, "many": PASSWORD, "large": PASSWORD}, imap=True)
        write_messages(d.maildir("mixed"), mixed_messages(FETCH_COUNT))
        write_messages(
            d.maildir("many"),
            (
                b"From: a@example.org\nSubject: m%d\nMessage-ID: <%d@x>\n\nbody\n" % (i, i)
                for i in range(FLAGS_COUNT)
            ),
        )
        d.maildir("large")
        d.hand_over()
        d.start()
        atexit.register(d.stop)
        _dovecot = d
    return _dovecot


def _ours(port: int, user: str) -> mailprims.ImapClient:
    c = mailprims.ImapClient("127.0.0.1", port, tls="none", allow_insecure_auth=True, timeout=300)
    c.login(user, PASSWORD)
    c.select("INBOX", readonly=True)
    return c


def _imapclient(port: int, user: str) -> IMAPClient:
    c = IMAPClient("127.0.0.1", port=port, ssl=False, timeout=300)
    c.login(user, PASSWORD)
    c.select_folder("INBOX", readonly=True)
    return c


def _imaplib(port: int, user: str) -> imaplib.IMAP4:
    c = imaplib.IMAP4("127.0.0.1", port, timeout=300)
    c.login(user, PASSWORD)
    c.select("INBOX", readonly=True)
    return c


def cases() -> list[Case]:
    if not available() or not os.path.exists("/usr/lib/dovecot/imap"):
        print("bench_imap_client: Dovecot imapd is not installed; skipped", file=sys.stderr)
        return []
    d = _start()
    port = d.imap_port
    ours = _ours(port, "mixed")
    uids = ours.search()
    assert len(uids) == FETCH_COUNT
    total = sum(len(m.replace(b"\n", b"\r\n")) for m in mixed_messages(FETCH_COUNT))
    lib = _imaplib(port, "mixed")
    theirs = _imapclient(port, "mixed")

    def ours_bytes() -> int:
        return sum(len(data) for _, data in ours.fetch_messages_bytes(uids))

    def imaplib_bytes() -> int:
        n = 0
        for start in range(0, len(uids), BATCH):
            chunk = ",".join(map(str, uids[start : start + BATCH]))
            typ, data = lib.uid("FETCH", chunk, "(BODY.PEEK[])")
            assert typ == "OK", data
            n += sum(len(part[1]) for part in data if isinstance(part, tuple))
        return n

    def imapclient_bytes() -> int:
        got = theirs.fetch(uids, [b"BODY.PEEK[]"])
        return sum(len(r[b"BODY[]"]) for r in got.values())

    def ours_parsed() -> int:
        n = 0
        for _, m in ours.fetch_messages(uids):
            n += len(m.subject or "") + len(m.from_) + (m.date is not None)
        return n

    def imapclient_parsed() -> int:
        n = 0
        for r in theirs.fetch(uids, [b"BODY.PEEK[]"]).values():
            m = email.message_from_bytes(r[b"BODY[]"], policy=email.policy.default)
            n += len(str(m["subject"] or "")) + len(str(m["from"] or ""))
            n += m["date"] is not None and m["date"].datetime is not None
        return n

    many_ours = _ours(port, "many")
    many_theirs = _imapclient(port, "many")

    def ours_flags() -> int:
        found = many_ours.search()
        return len(many_ours.get_flags(found))

    def imapclient_flags() -> int:
        found = many_theirs.search("ALL")
        # Dovecot refuses a command line of 100,000 UIDs: in slices, as IMAPClient users do.
        flags = {}
        for start in range(0, len(found), 10_000):
            flags.update(many_theirs.get_flags(found[start : start + 10_000]))
        return len(flags)

    assert ours_flags() == imapclient_flags() == FLAGS_COUNT
    return [
        Case(
            group="IMAP client",
            name=f"fetch {FETCH_COUNT:,} mixed messages (BODY.PEEK[]) as bytes from Dovecot",
            ours=ours_bytes,
            peer=imaplib_bytes,
            peer_name="imaplib",
            target=3.0,
            unit_bytes=total,
        ),
        Case(
            group="IMAP client",
            name=f"fetch {FETCH_COUNT:,} mixed messages (BODY.PEEK[]) as bytes from Dovecot",
            ours=ours_bytes,
            peer=imapclient_bytes,
            peer_name="IMAPClient",
            target=5.0,
            unit_bytes=total,
        ),
        Case(
            group="IMAP client",
            name=f"fetch {FETCH_COUNT:,} mixed messages parsed, Subject/From/Date read",
            ours=ours_parsed,
            peer=imapclient_parsed,
            peer_name="IMAPClient + email",
            target=20.0,
            unit_bytes=total,
        ),
        Case(
            group="IMAP client",
            name=f"SEARCH ALL + FETCH FLAGS of {FLAGS_COUNT:,} UIDs",
            ours=ours_flags,
            peer=imapclient_flags,
            peer_name="IMAPClient",
            target=10.0,
        ),
    ]


STREAM = textwrap.dedent(
    """
    import sys, mailprims
    c = mailprims.ImapClient("127.0.0.1", int(sys.argv[1]), tls="none",
                             allow_insecure_auth=True, timeout=300)
    c.login("large", sys.argv[2])
    c.select("INBOX", readonly=True)
    uids = c.search()
    def hwm():
        with open("/proc/self/status") as f:
            return next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))
    before = hwm()
    octets = 0
    for _, m in c.fetch_messages(uids):
        octets += len(bytes(m))
    print(before, hwm(), octets, len(uids))
    """
)


def _raw_seconds(port: int, user: str, commands: list[bytes]) -> float:
    """What Dovecot alone costs: ``commands`` sent one after the other over a raw socket that
    reads each answer only as far as its tagged OK, counting nothing (best of 4 rounds on one
    logged-in connection, as the clients above are timed on theirs)."""
    best = float("inf")
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    with socket.create_connection(("127.0.0.1", port), timeout=300) as s:
        s.recv(4096)
        s.sendall(f'a LOGIN {user} "{PASSWORD}"\r\nb EXAMINE INBOX\r\n'.encode())
        seen = b""
        while b"\r\nb OK" not in seen:
            seen += s.recv(65536)
        # Blocking reads, as imaplib's: a timeout makes every read a poll() and a recv().
        s.settimeout(None)
        for _ in range(4):
            t0 = time.perf_counter()
            for i, command in enumerate(commands):
                tag = b"c%d" % i
                s.sendall(tag + b" " + command + b"\r\n")
                done = b"\r\n" + tag + b" OK"
                tail = b""
                while done not in tail:
                    # Into one buffer: recv(1 MiB) would map and unmap a fresh 1 MiB object
                    # per read, which cost more than Dovecot's sending.
                    n = s.recv_into(buf)
                    if not n:
                        raise ConnectionError("Dovecot closed the connection")
                    tail = (tail + view[max(0, n - 256) : n])[-256:]
            best = min(best, time.perf_counter() - t0)
    return best


def _stream_memory(d: Dovecot) -> tuple[int, int, int, int, float]:
    """Peak RSS before and after streaming the ``large`` mailbox (over 1 GiB, written here
    and removed afterwards) with ``fetch_messages`` in a fresh process, keeping nothing."""
    maildir = d.maildir("large")
    filler = (b"x" * 76 + b"\n") * (STREAM_SIZE // 77)
    write_messages(
        maildir,
        (b"From: a@example.org\nSubject: big %d\n\n" % i + filler for i in range(STREAM_COUNT)),
    )
    try:
        if os.geteuid() == 0:
            for sub in ("new", "cur", "tmp"):
                os.chown(maildir / sub, d.mail_uid, d.mail_gid)
                for name in os.listdir(maildir / sub):
                    os.chown(maildir / sub / name, d.mail_uid, d.mail_gid)
        t0 = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", STREAM, str(d.imap_port), PASSWORD],
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        ).stdout.split()
        seconds = time.perf_counter() - t0
    finally:
        for sub in ("new", "cur"):
            for name in os.listdir(maildir / sub):
                (maildir / sub / name).unlink()
    before, peak, octets, count = map(int, out)
    return before, peak, octets, count, seconds


def notes() -> list[str]:
    if not available() or not os.path.exists("/usr/lib/dovecot/imap"):
        return []
    d = _start()
    # The batches imaplib sends in the rows above (one UID FETCH 1:* of everything made
    # Dovecot itself three times slower: 1.03 s).
    batches = [
        b"UID FETCH %d:%d (BODY.PEEK[])" % (start + 1, min(start + BATCH, FETCH_COUNT))
        for start in range(0, FETCH_COUNT, BATCH)
    ]
    raw = _raw_seconds(d.imap_port, "mixed", batches)
    raw_flags = _raw_seconds(d.imap_port, "many", [b"UID SEARCH ALL", b"UID FETCH 1:* (FLAGS)"])
    before, peak, octets, count, seconds = _stream_memory(d)
    return [
        f"IMAP client ceiling: a raw socket that sends the UID FETCH (BODY.PEEK[]) batches of "
        f"{BATCH:,} UIDs one after the other and only reads each to its tagged OK takes "
        f"{raw:.2f} s for the {FETCH_COUNT:,} mixed messages: Dovecot's "
        "sending rate bounds every client of the first two rows.",
        f"IMAP client ceiling: a raw socket sending UID SEARCH ALL, then UID FETCH 1:* (FLAGS) "
        f"of the {FLAGS_COUNT:,} messages, reading each answer only to its tagged OK, takes "
        f"{raw_flags:.2f} s: what Dovecot costs of the SEARCH ALL + FETCH FLAGS row.",
        f"IMAP client memory: streaming {count:,} messages ({octets / 2**20:,.0f} MiB) with "
        f"`fetch_messages`, keeping none, the process's peak RSS grew by "
        f"{(peak - before) / 1024:,.1f} MiB (from {before / 1024:,.0f} MiB after login; "
        f"{seconds:.1f} s).",
    ]
