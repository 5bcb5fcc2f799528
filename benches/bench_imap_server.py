"""IMAP server over loopback, mailprims' :class:`~mailprims.ImapServer` beside Dovecot's imapd
on the same messages:

* imaplib fetches 10,000 mixed messages (``BODY.PEEK[]``, in FETCH commands of 500);
* SELECT of a 100,000-message mailbox right after a restart: for mailprims a new server
  over the store reading the folder's ``mailprims.index`` (UIDs and flags as of the last
  scan, trusted while ``new/`` and ``cur/`` are unchanged), for Dovecot a new imap process
  (one per connection) reading its index the same way; each SELECT is timed alone, with
  the server start and the login before the clock;
* 1,000 sessions in IDLE on one INBOX (:func:`report`): the server's memory per session
  (over a baseline taken after logins have warmed the password threads, whose Argon2
  working memory is a fixed cost),
  and the time from the SMTP server's ``250`` to the ``* n EXISTS`` in every session
  (median, p99, max) over several deliveries. Dovecot is left out of this one: it runs a
  process per session (and refuses more than 10 per user and address by default).

Dovecot (Debian dovecot-core, dovecot-imapd) runs from a temporary directory; without it the
comparisons are skipped with a message.
"""

from __future__ import annotations

import asyncio
import atexit
import imaplib
import os
import pathlib
import resource
import shutil
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests"))

from _dovecot import Dovecot, available, write_messages
from bench_pop3 import mixed_messages

import mailprims
from harness import Case

USER, PASSWORD = "bob", "bench password"
FETCH_COUNT = 10_000
SELECT_COUNT = 100_000
# Both servers trust their index only for directories that had been quiet for a moment when
# it was written (a change in the clock tick of the last one leaves the time unchanged).
SETTLE = 2.5
BATCH = 500


def _fetch_all(port: int) -> int:
    c = imaplib.IMAP4("127.0.0.1", port, timeout=120)
    c.login(USER, PASSWORD)
    typ, data = c.select("INBOX", readonly=True)
    count = int(data[0] or 0)
    total = 0
    for start in range(1, count + 1, BATCH):
        end = min(count, start + BATCH - 1)
        typ, data = c.fetch(f"{start}:{end}", "(BODY.PEEK[])")
        assert typ == "OK", data
        total += sum(len(part[1]) for part in data if isinstance(part, tuple))
    c.logout()
    return total


def _ready_sessions(port: int, count: int) -> list[imaplib.IMAP4]:
    out = []
    for _ in range(count):
        c = imaplib.IMAP4("127.0.0.1", port, timeout=300)
        c.login(USER, PASSWORD)
        out.append(c)
    return out


def _select(sessions: list[imaplib.IMAP4]) -> int:
    c = sessions.pop()
    typ, data = c.select("INBOX", readonly=True)
    assert typ == "OK", data
    # Closed without a round trip, so sessions do not pile up against Dovecot's limit.
    c.shutdown()
    return int(data[0] or 0)


def cases() -> list[Case]:
    if not available() or not os.path.exists("/usr/lib/dovecot/imap"):
        print("bench_imap_server: Dovecot imapd is not installed; skipped", file=sys.stderr)
        return []
    return _fetch_case() + _select_case()


def _setup(count: int, messages: list[bytes]) -> tuple[Dovecot, mailprims.MaildirStore]:
    dovecot = Dovecot({USER: PASSWORD}, imap=True)
    inbox = dovecot.maildir(USER)
    write_messages(inbox, messages)
    dovecot.hand_over()
    dovecot.start()
    atexit.register(dovecot.stop)
    root = pathlib.Path(tempfile.mkdtemp(prefix="mailprims-bench-imap-"))
    atexit.register(shutil.rmtree, root, True)
    store = mailprims.MaildirStore(root)
    maildir = store.mailbox(USER)
    for data in messages:
        maildir.add(data, sync=False)
    return dovecot, store


def _users() -> mailprims.Users:
    users = mailprims.Users()
    users.add(USER, PASSWORD)
    return users


def _fetch_case() -> list[Case]:
    messages = mixed_messages(FETCH_COUNT)
    total = sum(len(m.replace(b"\n", b"\r\n")) for m in messages)
    dovecot, store = _setup(FETCH_COUNT, messages)
    server = mailprims.ImapServer(store=store, users=_users())
    server.start()
    atexit.register(server.stop)
    return [
        Case(
            group="IMAP server",
            name=f"imaplib fetches {FETCH_COUNT:,} mixed messages (BODY.PEEK[])",
            ours=lambda: _fetch_all(server.port),
            peer=lambda: _fetch_all(dovecot.imap_port),
            peer_name="from Dovecot",
            target=1.0,
            unit_bytes=total,
        )
    ]


def _select_case() -> list[Case]:
    messages = [
        b"From: a@example.org\nSubject: m%d\nMessage-ID: <%d@x>\n\nbody\n" % (i, i)
        for i in range(SELECT_COUNT)
    ]
    dovecot, store = _setup(SELECT_COUNT, messages)
    users = _users()
    # Both build their indexes once (Dovecot its dovecot.index, mailprims dovecot-uidlist and
    # mailprims.index) after the deliveries settled, as a mailbox in use has them.
    time.sleep(SETTLE)
    _select(_ready_sessions(dovecot.imap_port, 1))
    warm = mailprims.ImapServer(store=store, users=users)
    with warm:
        _select(_ready_sessions(warm.port, 1))
    # Each SELECT is timed alone, the two sides call by call, after a setup outside the
    # clock: for mailprims a server started afresh (nothing of the mailbox in memory) and a
    # session logged in to it, for Dovecot a session logged in (a new imap process).
    ours: list[imaplib.IMAP4] = []
    theirs: list[imaplib.IMAP4] = []
    servers: list[mailprims.ImapServer] = []

    def fresh_server() -> None:
        while servers:
            servers.pop().stop()
        server = mailprims.ImapServer(store=store, users=users)
        server.start()
        servers.append(server)
        ours.extend(_ready_sessions(server.port, 1))

    def fresh_session() -> None:
        theirs.extend(_ready_sessions(dovecot.imap_port, 1))

    atexit.register(lambda: [s.stop() for s in servers])
    return [
        Case(
            group="IMAP server",
            name=f"SELECT of a {SELECT_COUNT:,}-message mailbox after a restart",
            ours=lambda: _select(ours),
            peer=lambda: _select(theirs),
            peer_name="Dovecot",
            target=1.0,
            ours_setup=fresh_server,
            peer_setup=fresh_session,
        )
    ]


# ---- 1,000 sessions in IDLE ---------------------------------------------------------------

SESSIONS = 1000
DELIVERIES = 10

IDLE_SERVER = textwrap.dedent(
    """
    import sys, mailprims as mp
    store = mp.MaildirStore(sys.argv[1])
    users = mp.Users()
    users.add("bob", "bench password")
    smtp = mp.SmtpServer(store=store, users=users, auth_require_tls=False)
    imap = mp.ImapServer(store=store, users=users, max_connections=5000)
    smtp.start(); imap.start()
    print(smtp.port, imap.port, flush=True)
    sys.stdin.readline()
    """
)


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def _idle_sessions(
    port: int, count: int
) -> list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    async def one() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        r, w = await asyncio.open_connection("127.0.0.1", port)
        await r.readline()
        w.write(f'a LOGIN {USER} "{PASSWORD}"\r\nb SELECT INBOX\r\nc IDLE\r\n'.encode())
        while not (await r.readline()).startswith(b"+ idling"):
            pass
        return r, w

    out = []
    for start in range(0, count, 50):
        out.extend(await asyncio.gather(*(one() for _ in range(min(50, count - start)))))
    return out


async def _measure(smtp_port: int, imap_port: int, pid: int) -> dict[str, float]:
    # The password threads keep the hash's working memory (19 MiB each, one thread per core)
    # whatever the number of sessions: logins on every one of them come before the baseline.
    # 50 logins at once queue on every thread (a handful could all land on one thread, and
    # the next one's 19 MiB would then be counted against the sessions: 20 KiB each).
    for _, w in await _idle_sessions(imap_port, 50):
        w.close()
    await asyncio.sleep(1.0)
    before = _rss_kib(pid)
    sessions = await _idle_sessions(imap_port, SESSIONS)
    await asyncio.sleep(1.0)
    after = _rss_kib(pid)
    latencies: list[float] = []
    loop = asyncio.get_running_loop()
    for n in range(1, DELIVERIES + 1):
        arrived: list[float] = []

        async def wait(r: asyncio.StreamReader, n: int = n, arrived: list[float] = arrived) -> None:
            while True:
                line = await r.readline()
                if line == f"* {n} EXISTS\r\n".encode():
                    arrived.append(time.perf_counter())
                    return

        waiters = [asyncio.ensure_future(wait(r)) for r, _ in sessions]
        accepted = await loop.run_in_executor(None, _send, smtp_port, n)
        await asyncio.wait_for(asyncio.gather(*waiters), 30)
        latencies.extend(max(0.0, t - accepted) for t in arrived)
    for _, w in sessions:
        w.close()
    latencies.sort()
    return {
        "per_session_kib": (after - before) / SESSIONS,
        "median_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "max_ms": latencies[-1] * 1000,
    }


def _send(port: int, n: int) -> float:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.sendmail("alice@example.org", [f"{USER}@example.org"], b"Subject: %d\r\n\r\nx\r\n" % n)
        # The clock starts at the 250 to DATA (sendmail returned).
        return time.perf_counter()


def report() -> str:
    """1,000 IDLE sessions: memory per session and delivery-to-EXISTS latency."""
    root = tempfile.mkdtemp(prefix="mailprims-bench-idle-")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    proc = subprocess.Popen(
        [sys.executable, "-c", IDLE_SERVER, root],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (8192, 8192)),
    )
    try:
        assert proc.stdout is not None
        smtp_port, imap_port = (int(p) for p in proc.stdout.readline().split())
        m = asyncio.run(_measure(smtp_port, imap_port, proc.pid))
    finally:
        if proc.stdin:
            proc.stdin.close()
        proc.wait(60)
        shutil.rmtree(root, True)
    ok_mem = "✅" if m["per_session_kib"] <= 16 else "❌"
    ok_p99 = "✅" if m["p99_ms"] <= 50 else "❌"
    return (
        f"| IMAP server: {SESSIONS:,} sessions in IDLE, memory per session "
        f"| {m['per_session_kib']:.1f} KiB | | | ≤ 16 KiB {ok_mem} |\n"
        f"| IMAP server: SMTP 250 to `* n EXISTS` in all {SESSIONS:,} sessions "
        f"({DELIVERIES} deliveries) | median {m['median_ms']:.1f} ms, p99 {m['p99_ms']:.1f} ms, "
        f"max {m['max_ms']:.1f} ms | | | p99 ≤ 50 ms {ok_p99} |"
    )


if __name__ == "__main__":
    socket.setdefaulttimeout(60)
    print(report())
