"""POP3 over loopback: 1,000 messages of mixed sizes in one Maildir, everything retrieved in
one session (log in, RETR each message, QUIT without deleting).

* client: mailprims' :class:`~mailprims.Pop3Client` against stdlib :mod:`poplib`, both
  retrieving from the same Dovecot.
* server: :mod:`poplib` retrieving from mailprims' :class:`~mailprims.Pop3Server` against
  :mod:`poplib` retrieving from Dovecot, the same messages in both Maildirs.

Dovecot (Debian packages dovecot-core and dovecot-pop3d) is run in the foreground from a
temporary directory; without it these cases are skipped with a message.
"""

from __future__ import annotations

import atexit
import pathlib
import poplib
import random
import shutil
import socket
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests"))

from _dovecot import Dovecot, available, write_messages

import mailprims
from harness import Case

USER, PASSWORD = "bob", "bench password"
COUNT = 1000


def mixed_messages(count: int = COUNT, seed: int = 1939) -> list[bytes]:
    """Mail-like messages: mostly a few KiB, some tens of KiB, a few hundreds (attachments),
    with LF line ends as Maildirs store them."""
    rng = random.Random(seed)
    words = b"the quick brown fox jumps over a lazy dog while mail flows between hosts".split()
    out = []
    for i in range(count):
        r = rng.random()
        size = (
            rng.randint(500, 4_000)
            if r < 0.7
            else rng.randint(10_000, 50_000)
            if r < 0.95
            else rng.randint(100_000, 400_000)
        )
        head = (
            b"Return-Path: <alice@example.org>\n"
            b"From: Alice <alice@example.org>\nTo: Bob <bob@example.org>\n"
            b"Subject: message %d\nMessage-ID: <%d@example.org>\n"
            b"Date: Mon, 1 Jan 2024 00:00:00 +0000\n\n" % (i, i)
        )
        body = bytearray()
        while len(body) < size:
            line = b" ".join(rng.choice(words) for _ in range(rng.randint(6, 14)))
            if rng.random() < 0.02:
                line = b"." + line  # lines that need dot-stuffing
            body += line + b"\n"
        out.append(head + bytes(body))
    return out


def _poplib_fetch_all(port: int) -> int:
    pop = poplib.POP3("127.0.0.1", port, timeout=60)
    pop.user(USER)
    pop.pass_(PASSWORD)
    count, _ = pop.stat()
    total = 0
    for n in range(1, count + 1):
        _, lines, _ = pop.retr(n)
        total += len(b"\r\n".join(lines))
    pop.quit()
    return total


def _raw_fetch_all(port: int) -> int:
    """One RETR at a time, like poplib, but reading with as little client work as possible:
    what is left is mostly the server's time per command."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = bytearray(1 << 20)
        view = memoryview(buf)

        def response(end: bytes) -> int:
            got = 0
            while True:
                n = sock.recv_into(view[got:])
                if n == 0:
                    raise ConnectionError("server closed the connection")
                got += n
                if buf[:got].endswith(end):
                    return got
                if got == len(buf):  # keep only a tail long enough to see the terminator
                    buf[:8] = buf[got - 8 : got]
                    got = 8

        response(b"\r\n")
        sock.sendall(f"USER {USER}\r\n".encode())
        response(b"\r\n")
        sock.sendall(f"PASS {PASSWORD}\r\n".encode())
        response(b"\r\n")
        total = 0
        for n in range(1, COUNT + 1):
            sock.sendall(b"RETR %d\r\n" % n)
            total += response(b"\r\n.\r\n")
        sock.sendall(b"QUIT\r\n")
        response(b"\r\n")
        return total


def cases() -> list[Case]:
    if not available():
        print(
            "bench_pop3: Dovecot (dovecot-core, dovecot-pop3d) is not installed; skipped",
            file=sys.stderr,
        )
        return []
    messages = mixed_messages()
    total_bytes = sum(len(m.replace(b"\n", b"\r\n")) for m in messages)
    dovecot = Dovecot({USER: PASSWORD})
    write_messages(dovecot.maildir(USER), messages)
    dovecot.start()
    atexit.register(dovecot.stop)

    def ours_client() -> int:
        with mailprims.Pop3Client(
            "127.0.0.1", dovecot.port, tls="none", allow_insecure_auth=True
        ) as client:
            client.login(USER, PASSWORD)
            return sum(len(m) for m in client.fetch_all_bytes())

    result = [
        Case(
            group="POP3 client",
            name=f"retrieve {COUNT} mixed messages from Dovecot",
            ours=ours_client,
            peer=lambda: _poplib_fetch_all(dovecot.port),
            peer_name="poplib",
            target=3.0,
            unit_bytes=total_bytes,
        )
    ]
    result.extend(_server_cases(messages, dovecot, total_bytes))
    return result


def _server_cases(messages: list[bytes], dovecot: Dovecot, total_bytes: int) -> list[Case]:
    root = pathlib.Path(tempfile.mkdtemp(prefix="mailprims-bench-pop3-"))
    atexit.register(shutil.rmtree, root, True)
    store = mailprims.MaildirStore(root)
    users = mailprims.Users()
    users.add(USER, PASSWORD)
    # Delivered as mailprims' SMTP server delivers (names carry the sizes, ",S=" and ",W=");
    # no fsync for the set-up.
    maildir = store.mailbox(USER)
    for data in messages:
        maildir.add(data, sync=False)
    server = mailprims.Pop3Server(store=store, users=users)
    server.start()
    atexit.register(server.stop)
    return [
        Case(
            group="POP3 server",
            name=f"poplib retrieves {COUNT} mixed messages",
            ours=lambda: _poplib_fetch_all(server.port),
            peer=lambda: _poplib_fetch_all(dovecot.port),
            peer_name="from Dovecot",
            target=1.0,
            unit_bytes=total_bytes,
        ),
        Case(
            group="POP3 server",
            name=f"{COUNT} sequential RETRs, minimal client",
            ours=lambda: _raw_fetch_all(server.port),
            peer=lambda: _raw_fetch_all(dovecot.port),
            peer_name="from Dovecot",
            unit_bytes=total_bytes,
        ),
    ]
