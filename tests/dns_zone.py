"""A DNS server on 127.0.0.1 (UDP and TCP, dnslib) answering from a table, for the
authentication tests: the pattern of the MX tests in ``test_smtp_client_peers.py``, with
what SPF and DKIM tests need besides: TXT records of several strings, CNAMEs, names that
never answer (a silent server, to test time bounds) and big answers (truncated over UDP, so
the client retries over TCP).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator
from typing import Any

from _net import free_port
from dnslib import AAAA, CNAME, MX, PTR, QTYPE, RCODE, RR, TXT, A, DNSError, DNSRecord
from dnslib.server import BaseResolver, DNSHandler, DNSLogger, DNSServer

TIMEOUT = "TIMEOUT"


def _txt(value: Any) -> TXT:
    parts = [value] if isinstance(value, (str, bytes)) else list(value)
    data = [p.encode("utf-8") if isinstance(p, str) else p for p in parts]
    # One character-string holds at most 255 octets (RFC 1035 §3.3.14).
    chunks = [d[i : i + 255] for d in data for i in range(0, max(len(d), 1), 255)] or [b""]
    return TXT(chunks)


def _rdata(rtype: str, value: Any) -> Any:
    if rtype == "A":
        return A(value)
    if rtype == "AAAA":
        return AAAA(value)
    if rtype == "MX":
        preference, exchange = value
        return MX(exchange, preference)
    if rtype == "TXT":
        return _txt(value)
    if rtype == "PTR":
        return PTR(value)
    if rtype == "CNAME":
        return CNAME(value)
    raise ValueError(f"record type {rtype}")


class Zone(BaseResolver):  # type: ignore[misc]
    """Records by name: ``{name: [(type, value) | "TIMEOUT", ...]}``.

    A query is answered with the records of its type, in order, up to a ``"TIMEOUT"`` entry:
    if none were found before it, the query gets no answer at all (the client times out).
    Unknown names get NXDOMAIN. ``silent=True`` answers nothing, ever.
    """

    def __init__(
        self, records: dict[str, Iterable[Any]] | None = None, *, silent: bool = False
    ) -> None:
        self.records: dict[str, list[Any]] = {}
        self.silent = silent
        self.queries: list[tuple[str, str]] = []
        for name, entries in (records or {}).items():
            for e in entries:
                self.add(name, e)

    def add(self, name: str, entry: Any) -> None:
        self.records.setdefault(name.rstrip(".").lower(), []).append(entry)

    def _answers(
        self, qname: str, qtype: str, depth: int = 0, rname: Any = None
    ) -> list[RR] | None:
        rname = rname if rname is not None else qname
        entries = self.records.get(qname)
        if entries is None:
            return []
        out: list[RR] = []
        for e in entries:
            if e == TIMEOUT:
                return out if out else None
            rtype, value = e
            if value == TIMEOUT:
                if rtype == qtype:
                    return None
                continue
            if rtype == qtype:
                out.append(RR(rname, getattr(QTYPE, rtype), rdata=_rdata(rtype, value), ttl=60))
            elif rtype == "CNAME" and depth == 0:
                out.append(RR(rname, QTYPE.CNAME, rdata=_rdata("CNAME", value), ttl=60))
                more = self._answers(value.rstrip(".").lower(), qtype, 1)
                out.extend(more or [])
        return out

    def resolve(self, request: Any, handler: Any) -> Any:
        # dnslib writes bytes outside letters and digits as \\DDD; names here are plain text.
        qname = (
            re.sub(r"\\(\d{3})", lambda m: chr(int(m.group(1))), str(request.q.qname))
            .rstrip(".")
            .lower()
        )
        qtype = QTYPE.get(request.q.qtype)
        self.queries.append((qname, qtype))
        if self.silent or qname.startswith("error."):
            raise DNSError("no answer (test)")
        answers = self._answers(qname, qtype, rname=request.q.qname)
        if answers is None:
            # dnslib's handler drops the query on DNSError: the client hears nothing.
            raise DNSError("no answer (test)")
        reply = request.reply()
        if qname not in self.records:
            reply.header.rcode = RCODE.NXDOMAIN
        for rr in answers:
            reply.add_answer(rr)
        return reply


class _Handler(DNSHandler):  # type: ignore[misc]
    """Big UDP answers are replaced by an empty one with the TC bit (RFC 1035 §4.2.1), so
    the client asks again over TCP. (dnslib's own truncation drops the question section,
    and resolvers discard such replies as not matching their query.)"""

    UDP_LIMIT = 1232

    def get_reply(self, data: bytes) -> bytes:
        rdata: bytes = super().get_reply(data)
        if self.protocol == "udp" and len(rdata) > self.UDP_LIMIT:
            reply = DNSRecord.parse(data).reply()
            reply.header.tc = 1
            rdata = reply.pack()
        return rdata


@contextlib.contextmanager
def dns_server(zone: Zone) -> Iterator[tuple[str, int]]:
    """Serve ``zone`` on 127.0.0.1 (UDP and TCP, one port); yields ``(host, port)``."""
    port = free_port()
    quiet = DNSLogger(logf=lambda _: None)
    servers = [
        DNSServer(zone, port=port, address="127.0.0.1", tcp=tcp, logger=quiet, handler=_Handler)
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
