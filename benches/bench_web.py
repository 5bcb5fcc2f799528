"""The web inbox (``make bench``).

- SMTP ingest with the inbox open and a page receiving live updates (a server-sent-events
  client reading every event), against the same SMTP server and store with the web inbox
  closed (the two alternate run by run): Postfix's ``smtp-source``, 4 sessions, 1 KiB
  messages, durable Maildir delivery. Target:
  at most 10% slower (ratio >= 0.9). For scale: Mailpit states 200-300 messages/s for its
  own ingest (its documentation; it cannot run here).
- :func:`report`: list and search latency over a 100,000-message store through the JSON
  API (HTTP on loopback, keep-alive): median and p99 of each query kind. Target: p99 <= 50 ms.
  ``python benches/bench_web.py`` prints only this report.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import pathlib
import random
import select
import socket
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, str(pathlib.Path(__file__).parent))

from bench_smtp_server import SESSIONS, SMTP_SOURCE, source

import mailprims as mp
from harness import Case

INGEST = 2000
BIG = 100_000
SAMPLES = 200

_stack = contextlib.ExitStack()


class _Watching:
    """The web inbox over the benchmark's store, open with a page reading its live updates,
    or closed: the two states of one system the ingest case compares."""

    def __init__(self, store: mp.MaildirStore) -> None:
        self.store = store
        self.inbox: mp.WebInbox | None = None
        self.stop = threading.Event()
        self.reader: threading.Thread | None = None
        self.added = 0

    def _events(self, port: int, connected: threading.Event) -> None:
        """A page's live updates: read the event stream until told to stop."""
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            while not self.stop.is_set():
                ready, _, _ = select.select([sock], [], [], 0.2)
                if not ready:
                    continue
                chunk = sock.recv(65536)
                if not chunk:
                    break
                connected.set()
                self.added += chunk.count(b"event: added")

    def open(self) -> None:
        if self.inbox is not None:
            return
        self.inbox = mp.WebInbox(self.store).__enter__()
        # Indexing what earlier runs delivered is not part of the ingest being timed.
        self.inbox.wait_ready(600)
        self.stop.clear()
        connected = threading.Event()
        self.reader = threading.Thread(
            target=self._events, args=(self.inbox.port, connected), daemon=True
        )
        self.reader.start()
        if not connected.wait(30):
            raise RuntimeError("the web inbox's event stream did not answer")

    def close(self) -> None:
        if self.inbox is None:
            return
        self.stop.set()
        if self.reader is not None:
            self.reader.join(5)
        self.inbox.__exit__(None, None, None)
        self.inbox = None


def cases() -> list[Case]:
    if not pathlib.Path(SMTP_SOURCE).exists():
        print("smtp-source not installed: web inbox ingest benchmark skipped", file=sys.stderr)
        return []
    root = pathlib.Path(_stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-web-")))
    users = mp.Users(domains=["example.org"])
    users.add("sink", None)
    store = mp.MaildirStore(root / "mail")
    # One server over one store for both sides, the web inbox opened before each watched run
    # and closed before each plain one. Two stores in two directories (the first version of
    # this case) compared where ext4 put each directory's inodes as much as the web inbox:
    # file creation dominates the profile, and the store nobody watched measured up to 26%
    # slower than the watched one on a loaded machine.
    server = _stack.enter_context(mp.SmtpServer(store=store, users=users, max_connections=64))
    watching = _Watching(store)
    _stack.callback(watching.close)
    run = source(server.port, INGEST)
    return [
        Case(
            "Web inbox",
            f"SMTP ingest with the inbox open and live, smtp-source {SESSIONS} x {INGEST} "
            "x 1 KiB (durable Maildir); ratio = time without the inbox / time with it",
            run,
            run,
            "same SmtpServer and store, web inbox closed",
            target=0.9,
            unit="msg",
            per_call=INGEST,
            ours_setup=watching.open,
            peer_setup=watching.close,
        )
    ]


WORDS = (
    "invoice report meeting lunch holiday budget release deploy server outage quarterly "
    "contract offer welcome password reset shipping order receipt travel photos review "
    "design draft minutes agenda urgent reminder newsletter update security alert"
).split()
NAMES = [f"user{i}" for i in range(200)]


def _message(i: int, rnd: random.Random) -> bytes:
    day = 1 + i % 28
    month = 1 + (i // 28) % 12
    subject = " ".join(rnd.choice(WORDS) for _ in range(4)) + f" #{i}"
    body = " ".join(rnd.choice(WORDS) for _ in range(60))
    head = (
        f"From: {rnd.choice(NAMES)} <{rnd.choice(NAMES)}@example.org>\r\n"
        f"To: {rnd.choice(NAMES)}@example.net\r\n"
        f"Subject: {subject}\r\n"
        f"Date: {day:02d} {('Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec').split()[month - 1]}"
        f" 2026 10:{i % 60:02d}:00 +0000\r\n"
        f"Message-ID: <{i}@bench.example>\r\nMIME-Version: 1.0\r\n"
    )
    if i % 10 == 0:
        return (
            head + 'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
            "Content-Type: text/plain\r\n\r\n" + body + "\r\n--b\r\n"
            "Content-Type: application/pdf\r\nContent-Disposition: attachment; "
            'filename="a.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n'
        ).encode()
    return (head + "Content-Type: text/plain\r\n\r\n" + body + "\r\n").encode()


def _fill(store: mp.MaildirStore, count: int) -> None:
    rnd = random.Random(18)
    boxes = [store.mailbox(f"box{i}") for i in range(4)]
    for i in range(count):
        boxes[i % 4].add(_message(i, rnd), sync=False)


QUERIES = {
    "list, first page": "",
    "list, page at offset 99,900": "@deep",
    "list, one mailbox": "@mailbox",
    "search from:": "from:user42",
    "search subject:": "subject:quarterly",
    "search has:attachment": "has:attachment",
    "search date range": "after:2026-03-01 before:2026-03-08",
    "search full text (word)": "outage",
    "search full text (absent)": "zzznothing",
    "search combined": "from:user7 has:attachment budget",
}


def report() -> str:
    """List/search latency over 100,000 messages (see the module documentation)."""
    with tempfile.TemporaryDirectory(prefix="bench-web-big-") as tmp:
        store = mp.MaildirStore(pathlib.Path(tmp) / "mail")
        t0 = time.perf_counter()
        _fill(store, BIG)
        filled = time.perf_counter() - t0
        with mp.WebInbox(store) as inbox:
            t0 = time.perf_counter()
            inbox.wait_ready(600)
            indexed = time.perf_counter() - t0
            assert inbox.indexed == BIG, inbox.indexed
            conn = http.client.HTTPConnection("127.0.0.1", inbox.port, timeout=60)
            lines = [
                f"Web inbox over {BIG:,} messages (4 mailboxes; written in {filled:.1f} s, "
                f"indexed in {indexed:.1f} s), {SAMPLES} requests each over HTTP keep-alive:",
                "",
                "| request | matches | median | p99 | target p99 <= 50 ms |",
                "|---|---|---|---|---|",
            ]
            for label, q in QUERIES.items():
                params: dict[str, object] = {"limit": 50}
                if q == "@deep":
                    params["offset"] = BIG - 100
                elif q == "@mailbox":
                    params["mailbox"] = "box2"
                elif q:
                    params["q"] = q
                path = "/api/v1/messages?" + urllib.parse.urlencode(params)
                times = []
                total = 0
                for _ in range(SAMPLES):
                    t0 = time.perf_counter()
                    conn.request("GET", path)
                    body = conn.getresponse().read()
                    times.append(time.perf_counter() - t0)
                    total = json.loads(body)["total"]
                times.sort()
                median = statistics.median(times) * 1e3
                p99 = times[int(len(times) * 0.99) - 1] * 1e3
                ok = "✅" if p99 <= 50 else "❌"
                lines.append(f"| {label} | {total:,} | {median:.1f} ms | {p99:.1f} ms | {ok} |")
            conn.close()
    return "\n".join(lines)


if __name__ == "__main__":
    print(report())
