"""SMTP server throughput and memory, side by side with aiosmtpd (``make bench``).

Load comes from Postfix's ``smtp-source``: 4 concurrent sessions, persistent (``-d``), 1 KiB
messages, over loopback. Each timed call is one whole run of ``MESSAGES`` messages, so
``1 / time * MESSAGES`` is messages per second. ``smtp-sink`` (Postfix's C test server that
discards everything) is the ceiling. ``python benches/bench_smtp_server.py --memory`` reports
the memory held by 1,000 idle connections.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator

sys.path.insert(0, str(pathlib.Path(__file__).parent))

import mailprims as mp
from harness import Case

MESSAGES = 10000
DURABLE = 2000  # each one fsynced: fewer, so a run stays short
SESSIONS = 4
SMTP_SOURCE = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def source(port: int, messages: int = MESSAGES) -> Callable[[], object]:
    def run() -> None:
        subprocess.run(
            [
                SMTP_SOURCE,
                "-d",
                "-s",
                str(SESSIONS),
                "-m",
                str(messages),
                "-l",
                "1024",
                "-f",
                "bench@example.org",
                "-t",
                "sink@example.org",
                f"127.0.0.1:{port}",
            ],
            check=True,
            timeout=600,
            stdout=subprocess.DEVNULL,
        )

    return run


@contextlib.contextmanager
def aiosmtpd_server(handler: object) -> Iterator[int]:
    from aiosmtpd.controller import Controller

    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@contextlib.contextmanager
def smtp_sink_server() -> Iterator[int]:
    port = free_port()
    as_root = ["-u", "nobody"] if os.geteuid() == 0 else []  # smtp-sink refuses to run as root
    proc = subprocess.Popen(
        [SMTP_SINK, *as_root, "-c", f"127.0.0.1:{port}", "1000"], stdout=subprocess.DEVNULL
    )
    for _ in range(200):
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            break
        time.sleep(0.01)
    try:
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


_stack = contextlib.ExitStack()


def cases() -> list[Case]:
    if not pathlib.Path(SMTP_SOURCE).exists():
        print("smtp-source not installed: SMTP server benchmarks skipped", file=sys.stderr)
        return []
    from aiosmtpd.handlers import Mailbox as AioMailbox
    from aiosmtpd.handlers import Sink as AioSink

    ours = _stack.enter_context(mp.SmtpServer(handler=mp.Sink(maxlen=0), max_connections=64))
    aio_port = _stack.enter_context(aiosmtpd_server(AioSink()))
    sink_port = _stack.enter_context(smtp_sink_server())
    # Durable delivery: mailprims fsyncs each message (file, then the new/ directory; group
    # commit across sessions) before its 250; aiosmtpd's Mailbox handler (mailbox.Maildir)
    # does not fsync at all.
    root = pathlib.Path(_stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-smtp-")))
    users = mp.Users(domains=["example.org"])
    users.add("sink", None)
    store = mp.MaildirStore(root / "mailprims")
    ours_store = _stack.enter_context(mp.SmtpServer(store=store, users=users, max_connections=64))
    aio_maildir_port = _stack.enter_context(aiosmtpd_server(AioMailbox(root / "aiosmtpd")))
    per_run = {"unit": "msg", "per_call": MESSAGES}
    return [
        Case(
            "SMTP server",
            f"Sink, smtp-source {SESSIONS} sessions x {MESSAGES} x 1 KiB",
            source(ours.port),
            source(aio_port),
            "aiosmtpd Sink",
            target=5.0,
            **per_run,
        ),
        Case(
            "SMTP server",
            f"durable Maildir, smtp-source {SESSIONS} sessions x {DURABLE} x 1 KiB",
            source(ours_store.port, DURABLE),
            source(aio_maildir_port, DURABLE),
            "aiosmtpd Mailbox (mailbox.Maildir, no fsync)",
            target=3.0,
            unit="msg",
            per_call=DURABLE,
        ),
        Case(
            "SMTP server",
            "ceiling: smtp-sink (C, discards) vs mailprims Sink",
            source(ours.port),
            source(sink_port),
            "smtp-sink",
            **per_run,
        ),
    ]


MEMORY_SERVER = """
import resource, sys, time
resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
kind = sys.argv[1]
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
if kind == "mailprims":
    import mailprims as mp
    server = mp.SmtpServer(handler=mp.Sink(), max_connections=4000)
    server.start()
    port = server.port
else:
    import socket
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Sink
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
    server = Controller(Sink(), hostname="127.0.0.1", port=port)
    server.start()
time.sleep(0.2)
print(port, rss(), flush=True)
sys.stdin.readline()
print(rss(), flush=True)
sys.stdin.readline()
"""


def idle_memory(kind: str, connections: int = 1000) -> tuple[int, int]:
    """(RSS before, RSS with `connections` idle connections) of a server process."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
    proc = subprocess.Popen(
        [sys.executable, "-c", MEMORY_SERVER, kind],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    port, before = map(int, proc.stdout.readline().split())
    socks = []
    try:
        for _ in range(connections):
            s = socket.create_connection(("127.0.0.1", port), timeout=30)
            s.sendall(b"EHLO bench.example\r\n")
            socks.append(s)
        for s in socks:  # everyone greeted and answered: the sessions exist
            data = b""
            while not data.endswith(b"250 HELP\r\n") and b"250 HELP" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        time.sleep(0.5)
        proc.stdin.write("\n")
        proc.stdin.flush()
        after = int(proc.stdout.readline())
    finally:
        for s in socks:
            s.close()
        proc.stdin.write("\n")
        proc.stdin.flush()
        proc.wait(30)
    return before, after


def memory_report() -> str:
    rows = [
        "| server | RSS idle | RSS with 1,000 idle connections | per connection |",
        "|---|---|---|---|",
    ]
    for kind in ("mailprims", "aiosmtpd"):
        before, after = idle_memory(kind)
        rows.append(
            f"| {kind} | {before / 2**20:.1f} MiB | {after / 2**20:.1f} MiB | "
            f"{(after - before) / 1000 / 1024:.1f} KiB |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    if "--memory" in sys.argv:
        print(memory_report())
    else:
        from harness import run_case, table

        results = [run_case(c) for c in cases()]
        print(table(results))
        for r in results:
            n = r.case.per_call
            print(
                f"{r.case.name}: mailprims {n / r.ours_s:,.0f} msg/s, "
                f"{r.case.peer_name} {n / r.peer_s:,.0f} msg/s"
            )
        _stack.close()
