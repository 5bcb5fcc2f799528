"""The servers and clients under hostile load (issue 12): each scenario measures one figure.

Every scenario runs the server in its own process (``serve.py``), so its memory and threads
are measured apart from the load generator, and drives it over loopback sockets: asyncio
clients written here, Postfix's ``smtp-source`` for bulk delivery, and small hostile servers
for the client checks. ``scale`` is ``"ci"`` (seconds; what ``make test`` runs through
``tests/test_stress.py``) or ``"full"`` (``make stress``). Counts and times are bounded either
way. Options the installed mailprims lacks are dropped (``serve.py``), so the same scenarios
measure the code before and after a change.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import pathlib
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

HERE = pathlib.Path(__file__).parent
PASSWORD = "correct horse"


@dataclass
class Figure:
    """One measured value: which issue item, what, the value, and its unit."""

    item: str
    what: str
    value: float | int | str
    unit: str = ""

    def text(self) -> str:
        v = self.value
        if isinstance(v, float):
            v = f"{v:,.2f}" if abs(v) < 100 else f"{v:,.0f}"
        elif isinstance(v, int):
            v = f"{v:,}"
        return f"{v} {self.unit}".strip()


@dataclass
class Scenario:
    """What one scenario found: its figures, and the invariants it checked."""

    name: str
    figures: list[Figure] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    def add(self, item: str, what: str, value: float | int | str, unit: str = "") -> None:
        self.figures.append(Figure(item, what, value, unit))


# ---- the server process --------------------------------------------------------------------


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM (peak RSS) in KiB and Threads of a process."""
    out: dict[str, int] = {}
    try:
        text = pathlib.Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return out
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "Threads"):
            out[key] = int(value.split()[0])
    return out


class ServerProcess:
    """``serve.py`` with ``spec``; samples its threads and memory while it runs."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "serve.py"), json.dumps(spec)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.strip():
            self.proc.kill()
            raise RuntimeError(f"server did not start: {spec}")
        self.port = int(line)
        self.pid = self.proc.pid
        self.max_threads = 0
        self.max_rss = 0
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()
        self.baseline = proc_status(self.pid)

    def _sample(self) -> None:
        while not self._stop.is_set():
            s = proc_status(self.pid)
            self.max_threads = max(self.max_threads, s.get("Threads", 0))
            self.max_rss = max(self.max_rss, s.get("VmRSS", 0))
            self._stop.wait(0.02)

    def status(self) -> dict[str, int]:
        return proc_status(self.pid)

    def peak_mib(self) -> float:
        return max(self.status().get("VmHWM", 0), self.max_rss) / 1024

    def kill(self) -> None:
        self._stop.set()
        self.proc.kill()
        self.proc.wait(10)
        self._close_pipes()

    def _close_pipes(self) -> None:
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()

    def close(self) -> None:
        self._stop.set()
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._close_pipes()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def smtp_spec(**extra: Any) -> dict[str, Any]:
    return {"kind": "smtp", "hostname": "mx.test", **extra}


# ---- protocol helpers ------------------------------------------------------------------------


async def smtp_reply(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One SMTP reply: its code and all its text."""
    text = b""
    while True:
        line = await reader.readline()
        if not line:
            return 0, text
        text += line
        if len(line) < 4 or line[3:4] != b"-":
            code = int(line[:3]) if line[:3].isdigit() else 0
            return code, text


async def open_smtp(port: int, timeout: float = 30) -> tuple[Any, Any, int]:
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
    code, _ = await asyncio.wait_for(smtp_reply(reader), timeout)
    return reader, writer, code


def plain(user: str, password: str) -> bytes:
    return base64.b64encode(f"\0{user}\0{password}".encode())


async def smtp_auth_attempt(port: int, user: str, password: str) -> tuple[int, float]:
    """Connect, EHLO, AUTH PLAIN: the reply code and how long the AUTH answer took."""
    reader, writer, code = await open_smtp(port)
    try:
        if code != 220:
            return code, 0.0
        writer.write(b"EHLO stress\r\n")
        await smtp_reply(reader)
        start = time.monotonic()
        writer.write(b"AUTH PLAIN " + plain(user, password) + b"\r\n")
        code, _ = await asyncio.wait_for(smtp_reply(reader), 120)
        took = time.monotonic() - start
        writer.write(b"QUIT\r\n")
        with contextlib.suppress(Exception):
            await asyncio.wait_for(smtp_reply(reader), 5)
        return code, took
    finally:
        writer.close()


async def pop3_auth_attempt(port: int, user: str, password: str) -> tuple[int, float]:
    """USER/PASS: 1 for +OK, -1 for a wrong password, -2 for a refusal (0: closed), and how
    long PASS took."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 30)
    try:
        greeting = await asyncio.wait_for(reader.readline(), 30)
        if not greeting.startswith(b"+OK"):
            return -1, 0.0
        writer.write(f"USER {user}\r\n".encode())
        await reader.readline()
        start = time.monotonic()
        writer.write(f"PASS {password}\r\n".encode())
        line = await asyncio.wait_for(reader.readline(), 120)
        took = time.monotonic() - start
        writer.write(b"QUIT\r\n")
        if line.startswith(b"+OK"):
            return 1, took
        # -1: the password was checked and wrong; -2: refused unchecked ([SYS/TEMP])
        return (-1 if line.startswith(b"-ERR [AUTH]") else -2 if line else 0), took
    finally:
        writer.close()


def auth_server(kind: str, tmp: pathlib.Path, **extra: Any) -> dict[str, Any]:
    """A server with one account whose password checks are reached without TLS."""
    spec: dict[str, Any] = {
        "kind": kind,
        "hostname": "mx.test",
        "store": str(tmp / "mail"),
        "users": {"alice": PASSWORD},
        "max_connections": 2000,
        "max_connections_per_address": None,
        "auth_failure_limit": None,
    }
    if kind == "smtp":
        spec["auth_require_tls"] = False
    spec.update(extra)
    return spec


# ---- item 1: memory of password checks ----------------------------------------------------


def auth_memory(scale: str, kind: str) -> Scenario:
    """Many unauthenticated connections send a wrong password at once."""
    n = 300 if scale == "full" else 60
    s = Scenario(f"auth_memory_{kind}")
    with (
        tempfile.TemporaryDirectory() as t,
        ServerProcess(auth_server(kind, pathlib.Path(t))) as srv,
    ):
        attempt = smtp_auth_attempt if kind == "smtp" else pop3_auth_attempt

        async def run() -> list[tuple[int, float]]:
            return await asyncio.gather(
                *(attempt(srv.port, "alice", f"wrong{i}") for i in range(n))
            )

        start = time.monotonic()
        results = asyncio.run(run())
        wall = time.monotonic() - start
        refused = sum(1 for code, _ in results if code in (535, -1))
        s.facts.update(refused=refused, attempts=n)
        s.add("1", f"{kind.upper()}: peak RSS, {n} wrong passwords at once", srv.peak_mib(), "MiB")
        s.add("1", f"{kind.upper()}: peak threads, {n} wrong passwords", srv.max_threads)
        s.add("1", f"{kind.upper()}: all {n} answered after", wall, "s")
    return s


def auth_timing(scale: str, kind: str) -> Scenario:
    """Answer time of a wrong password: a known user against an unknown one."""
    n = 8 if scale == "full" else 3
    s = Scenario(f"auth_timing_{kind}")
    with (
        tempfile.TemporaryDirectory() as t,
        ServerProcess(auth_server(kind, pathlib.Path(t))) as srv,
    ):
        attempt = smtp_auth_attempt if kind == "smtp" else pop3_auth_attempt

        async def run(user: str) -> list[float]:
            out = []
            for _ in range(n):
                _, took = await attempt(srv.port, user, "wrong")
                out.append(took)
            return out

        asyncio.run(run("warmup"))
        known = statistics.median(asyncio.run(run("alice")))
        unknown = statistics.median(asyncio.run(run("nobody")))
    s.add("1,2", f"{kind.upper()}: wrong password, known user (median)", known * 1000, "ms")
    s.add("1", f"{kind.upper()}: wrong password, unknown user (median)", unknown * 1000, "ms")
    s.facts.update(known=known, unknown=unknown)
    return s


# ---- item 2: failure budget per client address --------------------------------------------


def auth_budget(scale: str, kind: str) -> Scenario:
    """One address guesses passwords over fresh connections for a fixed time."""
    seconds = 10.0 if scale == "full" else 4.0
    s = Scenario(f"auth_budget_{kind}")
    tmp = tempfile.TemporaryDirectory()
    spec = auth_server(kind, pathlib.Path(tmp.name))
    # The defaults: as a user who configured nothing gets them.
    for k in ("auth_failure_limit",):
        spec.pop(k)
    with tmp, ServerProcess(spec) as srv:
        attempt = smtp_auth_attempt if kind == "smtp" else pop3_auth_attempt
        checked = 0
        deadline = time.monotonic() + seconds

        async def guesser() -> None:
            nonlocal checked
            i = 0
            while time.monotonic() < deadline:
                i += 1
                try:
                    code, _ = await attempt(srv.port, "alice", f"guess{i}")
                except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
                    continue
                if code in (535, -1):
                    checked += 1

        async def run() -> None:
            await asyncio.gather(*(guesser() for _ in range(20)))

        asyncio.run(run())
    s.add(
        "2", f"{kind.upper()}: wrong passwords checked for one address in {seconds:.0f} s", checked
    )
    s.facts["checked"] = checked
    return s


# ---- item 3: one client holding connection slots --------------------------------------------


def slow_data(scale: str) -> Scenario:
    """A client sends DATA at one byte per second (each byte within data_timeout)."""
    cap = 40.0 if scale == "full" else 12.0
    s = Scenario("slow_data")
    spec = smtp_spec(sink=True, data_timeout=3.0, transaction_timeout=6.0)
    with ServerProcess(spec) as srv:

        async def run() -> tuple[float, bytes]:
            reader, writer, _ = await open_smtp(srv.port)
            writer.write(b"EHLO slow\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n")
            for _ in range(3):
                await smtp_reply(reader)
            writer.write(b"DATA\r\n")
            await smtp_reply(reader)
            start = time.monotonic()
            last = b""
            while time.monotonic() - start < cap:
                try:
                    writer.write(b"x")
                    await writer.drain()
                    line = await asyncio.wait_for(reader.readline(), 1.0)
                    if line or reader.at_eof():
                        last = line
                        break
                except asyncio.TimeoutError:
                    continue
                except OSError:
                    break
            writer.close()
            return time.monotonic() - start, last

        held, last = asyncio.run(run())
    closed = held < cap
    s.add(
        "3",
        "1 B/s in DATA: connection held for",
        f"{held:.0f} s{'' if closed else '+ (still open)'}",
    )
    s.facts.update(held=held, closed=closed, reply=last.decode(errors="replace").strip())
    return s


def per_address(scale: str) -> Scenario:
    """One address opens many connections at once."""
    n = 200 if scale == "full" else 80
    s = Scenario("per_address")
    spec = smtp_spec(sink=True, max_connections=1000)
    with ServerProcess(spec) as srv:

        async def run() -> list[int]:
            conns = await asyncio.gather(*(open_smtp(srv.port) for _ in range(n)))
            codes = [c for _, _, c in conns]
            for _, w, _ in conns:
                w.close()
            return codes

        codes = asyncio.run(run())
    greeted = codes.count(220)
    s.add("3", f"{n} connections from one address: greeted with 220", greeted)
    s.facts.update(greeted=greeted, refused=codes.count(421))
    return s


def noop_flood(scale: str) -> Scenario:
    """One connection sends NOOP after NOOP."""
    n = 5000 if scale == "full" else 1000
    s = Scenario("noop_flood")
    with ServerProcess(smtp_spec(sink=True)) as srv:

        async def run() -> tuple[int, int]:
            reader, writer, _ = await open_smtp(srv.port)
            answered, last = 0, 0
            for _ in range(n // 100):
                writer.write(b"NOOP\r\n" * 100)
                with contextlib.suppress(OSError):
                    await writer.drain()
                for _ in range(100):
                    code, _ = await asyncio.wait_for(smtp_reply(reader), 30)
                    if code == 250:
                        answered += 1
                    elif code:
                        last = code
                    if code != 250:
                        writer.close()
                        return answered, last
            writer.close()
            return answered, last

        answered, last = asyncio.run(run())
    s.add("3", f"{n} NOOPs on one connection: answered 250", answered)
    s.facts.update(answered=answered, last=last)
    return s


# ---- item 4: listen backlog -----------------------------------------------------------------


def listen_backlog(port: int) -> int:
    """The accept queue length of the listening socket (``ss``'s Send-Q)."""
    out = subprocess.run(
        ["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=False
    ).stdout
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 3:
            return int(fields[2])
    return 0


def burst(scale: str) -> Scenario:
    """1,000 clients connect at once; how many are left connected but not greeted."""
    n, trials, wait = (1000, 6, 5.0) if scale == "full" else (400, 2, 5.0)
    s = Scenario("burst")
    spec = smtp_spec(sink=True, max_connections=1000, max_connections_per_address=None)
    worst = 0
    bad_trials = 0
    with ServerProcess(spec) as srv:
        backlog = listen_backlog(srv.port)

        async def one(results: list[int]) -> None:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", srv.port), 20
                )
            except (OSError, asyncio.TimeoutError):
                results.append(-1)
                return
            try:
                line = await asyncio.wait_for(reader.readline(), wait)
                results.append(1 if line.startswith(b"220") else 2)
            except (asyncio.TimeoutError, OSError):
                results.append(0)
            finally:
                writer.close()

        for _ in range(trials):
            results: list[int] = []

            async def run(results: list[int] = results) -> None:
                await asyncio.gather(*(one(results) for _ in range(n)))

            asyncio.run(run())
            ungreeted = results.count(0)
            worst = max(worst, ungreeted)
            bad_trials += ungreeted > 0
            time.sleep(0.5)
    s.add("4", "listen backlog (accept queue)", backlog)
    s.add(
        "4", f"burst of {n} connects: trials with clients never greeted", f"{bad_trials}/{trials}"
    )
    s.add("4", f"burst of {n}: most clients not greeted within {wait:.0f} s", worst)
    s.facts.update(backlog=backlog, bad_trials=bad_trials, worst=worst)
    return s


# ---- item 5: durable delivery under concurrency -------------------------------------------


def smtp_source() -> str | None:
    return shutil.which("smtp-source") or (
        "/usr/sbin/smtp-source" if pathlib.Path("/usr/sbin/smtp-source").exists() else None
    )


def durable_once(tool: str, sessions: int, messages: int) -> dict[str, Any]:
    """One smtp-source run against a fresh server and store."""
    with tempfile.TemporaryDirectory(dir=os.environ.get("STRESS_DIR")) as t:
        root = pathlib.Path(t) / "mail"
        spec = {
            "kind": "smtp",
            "hostname": "mx.test",
            "store": str(root),
            "users": {"bob": PASSWORD},
            "max_connections": 2000,
            "max_connections_per_address": None,
        }
        with ServerProcess(spec) as srv:
            start = time.monotonic()
            r = subprocess.run(
                [tool, "-s", str(sessions), "-m", str(messages), "-l", "1024",
                 "-f", "load@example.org", "-t", "bob@example.org", f"127.0.0.1:{srv.port}"],
                capture_output=True, text=True, timeout=600, check=False,
            )  # fmt: skip
            took = time.monotonic() - start
            out = {"rate": messages / took, "threads": srv.max_threads, "peak": srv.peak_mib()}
            time.sleep(3)
            out["after"] = srv.status().get("VmRSS", 0) / 1024
        out["stored"] = len(list((root / "bob" / "new").iterdir()))
        out["ok"] = r.returncode == 0 and out["stored"] == messages
    return out


def durable_load(scale: str) -> Scenario:
    """smtp-source delivering into a Maildir store (fsync before 250) at growing concurrency;
    at full scale three sweeps, interleaved so the machine's noise spreads over every level,
    and the median throughput of each."""
    levels = (50, 200, 500, 1000) if scale == "full" else (20, 100)
    sweeps = 3 if scale == "full" else 1
    s = Scenario("durable_load")
    tool = smtp_source()
    if tool is None:
        s.facts["skipped"] = "smtp-source not installed"
        return s
    runs: dict[int, list[dict[str, Any]]] = {n: [] for n in levels}
    for _ in range(sweeps):
        for sessions in levels:
            messages = max(3000, 4 * sessions) if scale == "full" else 4 * sessions
            runs[sessions].append(durable_once(tool, sessions, messages))
    for sessions, rs in runs.items():
        messages = max(3000, 4 * sessions) if scale == "full" else 4 * sessions
        s.facts[f"ok_{sessions}"] = all(r["ok"] for r in rs)
        rate = statistics.median(r["rate"] for r in rs)
        what = f"{sessions} connections"
        s.add("5", f"{what}: throughput", rate, "msg/s")
        s.add("5", f"{what}: peak threads", max(r["threads"] for r in rs))
        s.add("5", f"{what}: peak RSS", max(r["peak"] for r in rs), "MiB")
        s.add("5", f"{what}: RSS 3 s after the load", max(r["after"] for r in rs), "MiB")
        stored = sum(r["stored"] for r in rs)
        s.add("5", f"{what}: stored / sent", f"{stored}/{messages * len(rs)}")
    return s


# ---- kill -9 and disk full: acknowledged means stored whole ---------------------------------


def message(ident: str, size: int) -> bytes:
    text = (ident * (size // len(ident) + 1))[:size]
    body = "\r\n".join(text[i : i + 76] for i in range(0, len(text), 76))
    return (
        f"From: load@example.org\r\nTo: bob@example.org\r\nSubject: {ident}\r\n"
        f"Message-ID: <{ident}@stress>\r\n\r\n{body}\r\n"
    ).encode()


async def deliver_forever(
    port: int,
    tag: str,
    size: int,
    sent: dict[str, bytes],
    acked: set[str],
    refusals: list[int],
    stop: float,
) -> None:
    """Send messages on one connection until the deadline or the server goes away; every
    message sent goes into ``sent``, those answered 250 into ``acked``."""
    try:
        reader, writer, code = await open_smtp(port, 10)
    except (OSError, asyncio.TimeoutError):
        return
    i = 0
    try:
        writer.write(b"EHLO load\r\n")
        await smtp_reply(reader)
        while time.monotonic() < stop:
            i += 1
            ident = f"{tag}-{i}"
            data = message(ident, size)
            writer.write(b"MAIL FROM:<load@example.org>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n")
            codes = [(await smtp_reply(reader))[0] for _ in range(3)]
            if codes[2] != 354:
                if 0 in codes:
                    return
                refusals.append(codes[2])
                writer.write(b"RSET\r\n")
                await smtp_reply(reader)
                continue
            sent[ident] = data
            writer.write(data + b".\r\n")
            code, _ = await smtp_reply(reader)
            if code == 250:
                acked.add(ident)
            elif code == 0:
                return
            else:
                refusals.append(code)
                if len(refusals) > 200:
                    return
    except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError):
        return
    finally:
        writer.close()


def deliver_in_parallel(
    port: int, tag: str, size: int, connections: int, seconds: float
) -> Callable[[dict[str, bytes], set[str], list[int]], Any]:
    """A coroutine function sending from ``connections`` connections for ``seconds``."""

    async def run(sent: dict[str, bytes], acked: set[str], refusals: list[int]) -> None:
        stop = time.monotonic() + seconds
        await asyncio.gather(
            *(
                deliver_forever(port, f"{tag}{c}", size, sent, acked, refusals, stop)
                for c in range(connections)
            )
        )

    return run


def check_store(root: pathlib.Path, sent: dict[str, bytes], acked: set[str]) -> tuple[int, int]:
    """(acknowledged messages missing or damaged, files in new/ or cur/ that are not a whole
    message we sent). Unacknowledged messages may be stored (their 250 was lost with the
    server), but only whole."""
    found: set[str] = set()
    damaged = 0
    for sub in ("new", "cur"):
        d = root / "bob" / sub
        for p in d.iterdir() if d.exists() else ():
            data = p.read_bytes()
            m = re.search(rb"Message-ID: <([^@>]+)@stress>", data)
            ident = m.group(1).decode() if m else ""
            if ident in sent and data.endswith(sent[ident]):
                found.add(ident)
            else:
                damaged += 1
    return len(acked - found), damaged


def kill9(scale: str) -> Scenario:
    """Deliver with 40 connections, kill -9 the server at a random moment, check, repeat."""
    rounds = 5 if scale == "full" else 1
    s = Scenario("kill9")
    sent: dict[str, bytes] = {}
    acked: set[str] = set()
    tmp = tempfile.TemporaryDirectory(dir=os.environ.get("STRESS_DIR"))
    root = pathlib.Path(tmp.name) / "mail"
    rng = random.Random(12)
    with tmp:
        for r in range(rounds):
            spec = store_spec(root)
            srv = ServerProcess(spec)
            refusals: list[int] = []

            async def load(
                srv: ServerProcess = srv, r: int = r, refusals: list[int] = refusals
            ) -> None:
                stop = time.monotonic() + 30
                tasks = [
                    asyncio.ensure_future(
                        deliver_forever(
                            srv.port, f"r{r}c{c}", 2000 + 500 * c, sent, acked, refusals, stop
                        )
                    )
                    for c in range(40)
                ]
                await asyncio.sleep(rng.uniform(0.5, 2.5))
                os.kill(srv.pid, signal.SIGKILL)
                await asyncio.gather(*tasks, return_exceptions=True)

            asyncio.run(load())
            srv.kill()
        missing, damaged = check_store(root, sent, acked)
    s.add("5", f"kill -9 x{rounds}: messages acknowledged", len(acked))
    s.add("5", f"kill -9 x{rounds}: acknowledged but lost, files damaged", f"{missing}, {damaged}")
    s.facts.update(acked=len(acked), missing=missing, damaged=damaged)
    return s


def store_spec(root: pathlib.Path) -> dict[str, Any]:
    return {
        "kind": "smtp",
        "hostname": "mx.test",
        "store": str(root),
        "users": {"bob": PASSWORD},
        "max_connections_per_address": None,
    }


@contextlib.contextmanager
def tmpfs(size: str, inodes: int | None = None) -> Iterator[pathlib.Path | None]:
    """A small tmpfs (root only); None when it cannot be mounted."""
    path = pathlib.Path(tempfile.mkdtemp(prefix="mailprims-full-"))
    opts = f"size={size}" + (f",nr_inodes={inodes}" if inodes else "")
    mounted = (
        os.geteuid() == 0
        and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)],
            capture_output=True,
            check=False,
        ).returncode
        == 0
    )
    try:
        yield path if mounted else None
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], check=False)
        with contextlib.suppress(OSError):
            path.rmdir()


def disk_full(scale: str) -> Scenario:
    """Deliver into a 4 MiB tmpfs (then one with few inodes) until the server refuses."""
    s = Scenario("disk_full")
    cases = (("space", "4m", None, 60_000), ("inodes", "64m", 60, 500))
    for label, size, inodes, msg_size in cases:
        with tmpfs(size, inodes) as mount:
            if mount is None:
                s.facts["skipped"] = "needs root to mount a tmpfs"
                return s
            root = mount / "mail"
            sent: dict[str, bytes] = {}
            acked: set[str] = set()
            refusals: list[int] = []
            with ServerProcess(store_spec(root)) as srv:
                load = deliver_in_parallel(srv.port, label, msg_size, 4, 20.0)
                asyncio.run(load(sent, acked, refusals))
            missing, damaged = check_store(root, sent, acked)
            tmp = root / "bob" / "tmp"
            tmp_left = len(list(tmp.iterdir())) if tmp.exists() else 0
        codes = sorted(set(refusals))
        s.add("5", f"{label} full: acknowledged, then refused with", f"{len(acked)}, {codes}")
        s.add("5", f"{label} full: acknowledged but lost, damaged, left in tmp/",
              f"{missing}, {damaged}, {tmp_left}")  # fmt: skip
        s.facts[label] = {"acked": len(acked), "missing": missing, "damaged": damaged,
                          "tmp": tmp_left, "codes": codes}  # fmt: skip
    return s


# ---- item 6: clients against hostile servers ---------------------------------------------


class HostileServer:
    """A TCP server in a thread that answers with ``script(reader, writer)``."""

    def __init__(self, script: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any]) -> None:
        self.sent = 0
        self._script = script
        self._ready = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self._ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                await self._script(self, r, w)
            w.close()

        server = self.loop.run_until_complete(asyncio.start_server(handle, "127.0.0.1", 0))
        self._server = server
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self.loop.run_forever()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self._server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        if not self.thread.is_alive():
            for task in asyncio.all_tasks(self.loop):
                task.cancel()
            with contextlib.suppress(RuntimeError):
                self.loop.run_until_complete(asyncio.sleep(0))
            self.loop.close()


async def endless_pop3(
    self: HostileServer, r: asyncio.StreamReader, w: asyncio.StreamWriter
) -> None:
    w.write(b"+OK hostile\r\n")
    chunk = (b"x" * 998 + b"\r\n") * 256
    while True:
        line = await r.readline()
        if not line:
            return
        verb = line.split()[0].upper() if line.split() else b""
        if verb == b"CAPA":
            w.write(b"+OK\r\nUSER\r\n.\r\n")
        elif verb == b"LIST":
            w.write(
                b"+OK 1 messages\r\n1 1000\r\n.\r\n"
                if line.strip() == b"LIST"
                else b"+OK 1 1000\r\n"
            )
        elif verb == b"STAT":
            w.write(b"+OK 1 1000\r\n")
        elif verb == b"RETR":
            w.write(b"+OK 1000 octets\r\n")
            while True:
                w.write(chunk)
                self.sent += len(chunk)
                await w.drain()
        else:
            w.write(b"+OK\r\n")
        await w.drain()


async def endless_smtp(
    self: HostileServer, r: asyncio.StreamReader, w: asyncio.StreamWriter
) -> None:
    w.write(b"220 hostile ESMTP\r\n")
    await r.readline()
    chunk = b"250-" + b"x" * 60 + b"\r\n"
    while True:
        w.write(chunk * 1000)
        self.sent += len(chunk) * 1000
        await w.drain()


CLIENT_POP3 = """
import sys, mailprims as mp
c = mp.Pop3Client("127.0.0.1", int(sys.argv[1]), tls="none", allow_insecure_auth=True, timeout=30)
c.login("u", "p")
c.list()
try:
    c.retr_bytes(1)
    print("OK")
except Exception as e:
    print(type(e).__name__, str(e)[:200])
"""

CLIENT_SMTP = """
import sys, mailprims as mp
try:
    with mp.SmtpClient("127.0.0.1", int(sys.argv[1]), tls="none", timeout=30) as c:
        c.send(mp.Message.build(from_="a@example.org", to=["b@example.org"], text="hi"))
    print("OK")
except Exception as e:
    print(type(e).__name__, str(e)[:200])
"""


def hostile_client(scale: str, kind: str) -> Scenario:
    """A client against a server that never ends its response: memory and outcome."""
    cap_mib = 1500 if scale == "full" else 400
    cap_s = 20.0 if scale == "full" else 8.0
    s = Scenario(f"hostile_{kind}")
    server = HostileServer(endless_pop3 if kind == "pop3" else endless_smtp)
    code = CLIENT_POP3 if kind == "pop3" else CLIENT_SMTP
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(server.port)], stdout=subprocess.PIPE, text=True
    )
    start = time.monotonic()
    peak = 0
    outcome = ""
    while proc.poll() is None:
        peak = max(peak, proc_status(proc.pid).get("VmRSS", 0))
        if peak > cap_mib * 1024 or time.monotonic() - start > cap_s:
            proc.kill()
            outcome = f"killed at {peak / 1024:,.0f} MiB after {time.monotonic() - start:.0f} s"
            break
        time.sleep(0.02)
    out = proc.communicate(timeout=10)[0].strip()
    server.close()
    outcome = outcome or out
    what = "RETR that never ends" if kind == "pop3" else "reply that never ends"
    s.add("6", f"{kind.upper()} client, {what}: peak RSS", peak / 1024, "MiB")
    s.add("6", f"{kind.upper()} client, {what}: outcome", outcome[:70])
    s.facts.update(peak_mib=peak / 1024, outcome=outcome, sent=server.sent)
    return s


# ---- all of them ------------------------------------------------------------------------------


def all_scenarios() -> list[tuple[str, Callable[[str], Scenario]]]:
    return [
        ("auth_memory_smtp", lambda sc: auth_memory(sc, "smtp")),
        ("auth_memory_pop3", lambda sc: auth_memory(sc, "pop3")),
        ("auth_timing_smtp", lambda sc: auth_timing(sc, "smtp")),
        ("auth_timing_pop3", lambda sc: auth_timing(sc, "pop3")),
        ("auth_budget_smtp", lambda sc: auth_budget(sc, "smtp")),
        ("auth_budget_pop3", lambda sc: auth_budget(sc, "pop3")),
        ("slow_data", slow_data),
        ("per_address", per_address),
        ("noop_flood", noop_flood),
        ("burst", burst),
        ("durable_load", durable_load),
        ("kill9", kill9),
        ("disk_full", disk_full),
        ("hostile_pop3", lambda sc: hostile_client(sc, "pop3")),
        ("hostile_smtp", lambda sc: hostile_client(sc, "smtp")),
    ]
