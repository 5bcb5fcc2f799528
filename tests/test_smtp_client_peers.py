"""The SMTP client against Postfix's smtp-sink, MX delivery through a DNS server on
127.0.0.1 (dnslib), and the interpreter-exit guard after async sends (pyo3-async-runtimes
issue 40)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

import pytest
from _net import free_port
from dnslib import QTYPE, RCODE, RR
from dnslib.server import BaseResolver, DNSLogger, DNSServer
from smtp_peers import WAIT, Recorder, aiosmtpd_server

import mailprims as mp

SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
needs_sink = pytest.mark.skipif(
    not os.path.exists(SMTP_SINK), reason="smtp-sink (Debian package postfix) not installed"
)

MESSAGE = (
    b"From: Alice <alice@example.org>\r\nTo: bob@example.com\r\nCc: carol@example.com\r\n"
    b"Bcc: dan@example.com\r\nSubject: to the sink\r\n\r\nline one\r\n.line two\r\n"
)


@pytest.fixture
def smtp_sink() -> Iterator[tuple[int, pathlib.Path]]:
    """smtp-sink on a loopback port, dumping each message into a directory."""
    # Run as root, smtp-sink drops privileges to nobody, who must reach the directory (pytest's
    # tmp_path is private to root).
    dump = pathlib.Path(tempfile.mkdtemp(prefix="smtp-sink-"))
    dump.chmod(0o777)
    port = free_port()
    args = [SMTP_SINK, "-d", f"{dump}/%H%M%S."]
    if os.geteuid() == 0:
        args += ["-u", "nobody"]
    proc = subprocess.Popen(
        [*args, f"127.0.0.1:{port}", "64"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + WAIT
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.05)
        yield port, dump
    finally:
        proc.kill()
        proc.wait(WAIT)
        shutil.rmtree(dump, ignore_errors=True)


def dumps(directory: pathlib.Path, count: int) -> list[str]:
    deadline = time.monotonic() + WAIT
    while len(list(directory.iterdir())) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return [p.read_text() for p in sorted(directory.iterdir())]


@needs_sink
def test_smtp_sink_sync(smtp_sink: tuple[int, pathlib.Path]) -> None:
    port, dump = smtp_sink
    with mp.SmtpClient("127.0.0.1", port, tls="none", local_hostname="mta.example.org") as c:
        assert {"pipelining", "8bitmime", "dsn", "enhancedstatuscodes"} <= set(c.extensions)
        result = c.send(MESSAGE, dsn_notify=["FAILURE"], dsn_return="HDRS")
        assert result.accepted == ["bob@example.com", "carol@example.com", "dan@example.com"]
        assert result.reply.code == 250 and result.reply.enhanced_code == "2.0.0"
    (text,) = dumps(dump, 1)
    assert "X-Helo-Args: mta.example.org" in text
    assert "X-Mail-Args: <alice@example.org> RET=HDRS" in text
    assert "X-Rcpt-Args: <dan@example.com> NOTIFY=FAILURE ORCPT=rfc822;dan@example.com" in text
    assert "Bcc" not in text
    # smtp-sink removed the dot-stuffing: the line arrived as written
    assert "\n\nline one\n.line two\n" in text


@needs_sink
def test_smtp_sink_async_pool(smtp_sink: tuple[int, pathlib.Path]) -> None:
    port, dump = smtp_sink

    async def main() -> list[mp.SendResult]:
        async with mp.AsyncSmtpClient("127.0.0.1", port, tls="none", max_connections=4) as c:
            return await asyncio.gather(
                *(c.send(MESSAGE.replace(b"line one", b"message %d" % i)) for i in range(20))
            )

    results = asyncio.run(main())
    assert all(r.reply.code == 250 for r in results)
    texts = dumps(dump, 20)
    assert sorted(int(t.split("message ")[1].split("\n")[0]) for t in texts) == list(range(20))


# MX routing (RFC 5321 §5.1) through a DNS server on 127.0.0.1

ZONE = """
example.test.       60 IN MX 20 mx2.example.test.
example.test.       60 IN MX 10 mx1.example.test.
mx1.example.test.   60 IN A 127.0.0.2
mx2.example.test.   60 IN A 127.0.0.1
implicit.test.      60 IN A 127.0.0.1
nullmx.test.        60 IN MX 0 .
"""


class ZoneResolver(BaseResolver):  # type: ignore[misc]
    """Answers from ZONE; NXDOMAIN for names it does not hold."""

    def __init__(self) -> None:
        self.records = RR.fromZone(ZONE)

    def resolve(self, request, handler):  # type: ignore[no-untyped-def]
        reply = request.reply()
        q = request.q
        for rr in self.records:
            if rr.rname == q.qname and (rr.rtype == q.qtype or q.qtype == QTYPE.ANY):
                reply.add_answer(rr)
        if not any(rr.rname == q.qname for rr in self.records):
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


@pytest.fixture
def dns() -> Iterator[tuple[str, int]]:
    port = free_port()
    quiet = DNSLogger(logf=lambda _: None)
    servers = [
        DNSServer(ZoneResolver(), port=port, address="127.0.0.1", tcp=tcp, logger=quiet)
        for tcp in (False, True)
    ]
    for server in servers:
        server.start_thread()
    try:
        yield ("127.0.0.1", port)
    finally:
        for server in servers:
            server.stop()
            server.server.server_close()


def test_resolve_mx_sorted_by_preference(dns: tuple[str, int]) -> None:
    assert mp.resolve_mx("example.test", nameserver=dns, timeout=5) == [
        mp.MxRecord(10, "mx1.example.test"),
        mp.MxRecord(20, "mx2.example.test"),
    ]


def test_resolve_mx_implicit_null_and_missing(dns: tuple[str, int]) -> None:
    # RFC 5321 §5.1: no MX but an address record: the domain is its own exchanger
    assert mp.resolve_mx("implicit.test", nameserver=dns) == [mp.MxRecord(0, "implicit.test")]
    # RFC 7505: null MX, no mail accepted
    assert mp.resolve_mx("nullmx.test", nameserver=dns) == []
    with pytest.raises(mp.DnsError) as info:
        mp.resolve_mx("nowhere.test", nameserver=dns)
    assert info.value.permanent and info.value.domain == "nowhere.test"


def test_deliver_skips_the_down_exchanger(dns: tuple[str, int]) -> None:
    """The preferred exchanger (mx1, 127.0.0.2) is down: nothing listens there. The mail
    arrives at mx2 (127.0.0.1) on the same port."""
    handler = Recorder()
    with aiosmtpd_server(handler) as mx2:
        with socket.socket() as probe:  # the same port on 127.0.0.2 is really closed
            assert probe.connect_ex(("127.0.0.2", mx2.port)) != 0
        results = mp.deliver(
            b"From: a@origin.example\r\nTo: bob@example.test, carol@nullmx.test\r\n"
            b"Subject: direct\r\n\r\nhi\r\n",
            port=mx2.port,
            nameserver=dns,
            tls="none",
            timeout=5,
        )
    ok = results["example.test"]
    assert isinstance(ok, mp.SendResult)
    assert ok.host == "mx2.example.test" and ok.accepted == ["bob@example.test"]
    refused = results["nullmx.test"]
    assert isinstance(refused, mp.DnsError) and refused.permanent
    (got,) = handler.messages
    assert got.rcpt_tos == ["bob@example.test"]


def test_deliver_async(dns: tuple[str, int]) -> None:
    handler = Recorder()
    with aiosmtpd_server(handler) as mx2:
        results = asyncio.run(
            mp.deliver_async(
                b"From: a@origin.example\r\nTo: bob@example.test\r\n\r\nhi\r\n",
                port=mx2.port,
                nameserver=dns,
                tls="none",
            )
        )
    assert isinstance(results["example.test"], mp.SendResult)
    assert len(handler.messages) == 1


# Interpreter exit after async sends

EXIT_SCRIPT = """
import asyncio, sys
import mailprims as mp

MESSAGE = b"From: a@x.example\\r\\nTo: b@y.example\\r\\nSubject: exit\\r\\n\\r\\nbye\\r\\n"

async def main(port):
    async with mp.AsyncSmtpClient("127.0.0.1", port, tls="none", max_connections=2) as c:
        await asyncio.gather(*(c.send(MESSAGE) for _ in range(3)))
    # Left running: completes (or is cut off) while the interpreter shuts down.
    other = mp.AsyncSmtpClient("127.0.0.1", port, tls="none")
    asyncio.ensure_future(other.send(MESSAGE))
    other._core.send(MESSAGE)  # a bare future nobody awaits

asyncio.run(main(int(sys.argv[1])))
"""


@pytest.mark.slow
def test_no_crash_at_exit_after_async_sends(exit_runs: int) -> None:
    """Runs a short script that sends with the async client and exits, `exit_runs` times."""
    handler = Recorder()
    runs = exit_runs
    with aiosmtpd_server(handler) as server:

        def run(_: int) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-c", EXIT_SCRIPT, str(server.port)],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )

        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(run, range(runs)))
    failed = [r for r in results if r.returncode != 0 or r.stderr]
    assert not failed, (
        f"{len(failed)}/{runs} runs failed; first: rc={failed[0].returncode} {failed[0].stderr}"
    )
    assert len(handler.messages) >= 3 * runs
