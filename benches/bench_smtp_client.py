"""SMTP client throughput against Postfix's smtp-sink on loopback, 1 KiB messages.

* sync, one connection: ``mailprims.SmtpClient`` vs ``smtplib.SMTP``, one message per call;
* sync, one connection, to a server that offers CHUNKING (mailprims' own ``SmtpServer`` with
  a ``Sink``, in this process): MAIL, RCPT and ``BDAT LAST`` go in one flight, one round trip
  per message, where smtp-sink (no CHUNKING) needs two;
* asyncio, concurrency 4: ``mailprims.AsyncSmtpClient(max_connections=4)`` vs four
  ``aiosmtplib.SMTP`` connections, 64 messages per call spread over 4 concurrent senders.

smtp-sink comes with the Debian package ``postfix`` (``make test`` installs it); aiosmtplib is
installed by ``make bench``. Cases whose peer is missing are skipped with a message.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Callable

import mailprims as mp
from harness import Case

SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
BATCH = 64
CONCURRENCY = 4

SENDER = "alice@example.org"
RECIPIENT = "bob@example.com"
_HEADER = (
    f"From: Alice <{SENDER}>\r\nTo: Bob <{RECIPIENT}>\r\nSubject: benchmark\r\n"
    "Date: Mon, 9 Mar 2010 18:22:32 +0100\r\nMessage-ID: <bench@example.org>\r\n\r\n"
).encode()
_LINE = b"The quick brown fox jumps over the lazy dog, 0123456789.\r\n"
MESSAGE = (_HEADER + _LINE * 32)[: 1024 - 2] + b"\r\n"
assert len(MESSAGE) == 1024


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _start_sink() -> int | None:
    if not os.path.exists(SMTP_SINK):
        return None
    port = _free_port()
    args = [SMTP_SINK, "-m", "64"]
    if os.geteuid() == 0:
        args += ["-u", "nobody"]
    proc = subprocess.Popen(
        [*args, f"127.0.0.1:{port}", "128"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    atexit.register(proc.kill)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    return None


def _sync_cases(port: int) -> list[Case]:
    ours = mp.SmtpClient("127.0.0.1", port, tls="none")
    ours.connect()
    peer = smtplib.SMTP("127.0.0.1", port)
    peer.ehlo()

    def send_ours() -> None:
        ours.send(MESSAGE)

    def send_peer() -> None:
        peer.sendmail(SENDER, [RECIPIENT], MESSAGE)

    return [
        Case(
            "SMTP client",
            "sync, one connection, 1 KiB message",
            send_ours,
            send_peer,
            "smtplib",
            target=2.0,
            unit="msg",
        )
    ]


def _chunking_cases() -> list[Case]:
    # maxlen: the Sink keeps only the newest messages, so memory stays flat while timing.
    server = mp.SmtpServer(handler=mp.Sink(maxlen=100))
    server.start()
    atexit.register(server.stop)
    cases = _sync_cases(server.port)
    for case in cases:
        case.name = "sync, one connection, 1 KiB message, to a CHUNKING server (mailprims Sink)"
        case.target = None
    return cases


def _async_cases(port: int) -> list[Case]:
    try:
        import aiosmtplib
    except ImportError:
        print("bench_smtp_client: aiosmtplib not installed, async case skipped", file=sys.stderr)
        return []
    loop = asyncio.new_event_loop()
    atexit.register(loop.close)

    async def setup() -> tuple[mp.AsyncSmtpClient, list[aiosmtplib.SMTP]]:
        ours = mp.AsyncSmtpClient("127.0.0.1", port, tls="none", max_connections=CONCURRENCY)
        await ours.connect()
        peers = []
        for _ in range(CONCURRENCY):
            p = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, use_tls=False)
            await p.connect()
            peers.append(p)
        return ours, peers

    ours, peers = loop.run_until_complete(setup())

    async def batch_ours() -> None:
        await asyncio.gather(*(ours.send(MESSAGE) for _ in range(BATCH)))

    async def batch_peer() -> None:
        async def worker(p: aiosmtplib.SMTP) -> None:
            for _ in range(BATCH // CONCURRENCY):
                await p.sendmail(SENDER, [RECIPIENT], MESSAGE)

        await asyncio.gather(*(worker(p) for p in peers))

    def run(coro: Callable[[], object]) -> Callable[[], None]:
        return lambda: loop.run_until_complete(coro())  # type: ignore[arg-type]

    return [
        Case(
            "SMTP client",
            f"asyncio, concurrency {CONCURRENCY}, {BATCH} x 1 KiB messages",
            run(batch_ours),
            run(batch_peer),
            "aiosmtplib",
            target=3.0,
            unit="batch",
        )
    ]


def cases() -> list[Case]:
    port = _start_sink()
    if port is None:
        print(
            f"bench_smtp_client: {SMTP_SINK} not found (Debian package postfix): "
            "SMTP cases skipped",
            file=sys.stderr,
        )
        return []
    return _sync_cases(port) + _chunking_cases() + _async_cases(port)
