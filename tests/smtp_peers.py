"""Test peers for the SMTP client tests: aiosmtpd on a loopback port, a scripted raw-socket
server for exact transcripts, and free-port helpers. Everything binds 127.0.0.1 only and every
wait is bounded."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from _net import free_port
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

WAIT = 10.0  # upper bound for anything a test waits for


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    mail_options: list[str]
    rcpt_options: list[str]


@dataclass
class Recorder:
    """An aiosmtpd handler that records messages and can refuse at any stage.

    ``refuse`` maps a stage ("MAIL", "RCPT:<address>", "DATA") to the reply to give.
    """

    refuse: dict[str, str] = field(default_factory=dict)
    pipelining: bool = False
    messages: list[Received] = field(default_factory=list)
    ehlos: int = 0
    drop_in_data: bool = False
    data_delay: float = 0.0
    rcpt_options: list[str] = field(default_factory=list)

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: Any
    ) -> Any:
        self.ehlos += 1
        session.host_name = hostname
        if self.pipelining:
            responses.insert(1, "250-PIPELINING")
        return responses

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if "MAIL" in self.refuse:
            return self.refuse["MAIL"]
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        reply = self.refuse.get(f"RCPT:{address}") or self.refuse.get("RCPT")
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        self.rcpt_options.extend(options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.drop_in_data:
            assert server.transport is not None
            server.transport.close()
            return "250 never sent"
        if self.data_delay:
            import asyncio

            await asyncio.sleep(self.data_delay)
        if "DATA" in self.refuse:
            return self.refuse["DATA"]
        content = envelope.original_content or envelope.content
        assert isinstance(content, bytes)
        self.messages.append(
            Received(
                str(envelope.mail_from),
                list(envelope.rcpt_tos),
                content,
                list(envelope.mail_options),
                list(self.rcpt_options),
            )
        )
        return "250 2.0.0 OK queued as 12345"


def accept_users(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    """aiosmtpd authenticator: user "alice", password "wonderland"."""
    ok = auth_data.login == b"alice" and auth_data.password == b"wonderland"
    return AuthResult(success=ok, handled=False)


@contextmanager
def aiosmtpd_server(handler: Any, **kwargs: Any) -> Iterator[Controller]:
    """aiosmtpd on 127.0.0.1 and a free port (``.port``), stopped afterwards."""
    host = kwargs.pop("hostname", "127.0.0.1")
    controller = Controller(handler, hostname=host, port=free_port(host), **kwargs)
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


class ScriptedServer:
    """A raw-socket SMTP server that plays scripts and records the exact client bytes.

    Each script (one per accepted connection, in order) is a greeting followed by
    ``(expected_client_bytes, reply)`` steps: the server reads until it has received exactly
    the expected bytes, records them, then sends the reply (None: send nothing and keep the
    connection open until the client closes it; b"": close it). Whatever the client sends
    after the script ends is recorded too, until it closes the connection.
    """

    def __init__(self, *scripts: tuple[bytes | None, list[tuple[bytes, bytes | None]]]) -> None:
        self.scripts = list(scripts)
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.listener.settimeout(WAIT)
        self.port: int = self.listener.getsockname()[1]
        self.transcripts: list[bytes] = []
        self.errors: list[str] = []
        self.closed_by_client: list[bool] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        for greeting, steps in self.scripts:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(WAIT)
                self._serve(conn, greeting, steps)

    def _serve(
        self,
        conn: socket.socket,
        greeting: bytes | None,
        steps: list[tuple[bytes, bytes | None]],
    ) -> None:
        got = b""
        closed = False
        try:
            if greeting is not None:
                conn.sendall(greeting)
            for expected, reply in steps:
                want = len(got) + len(expected)
                while len(got) < want:
                    chunk = conn.recv(65536)
                    if not chunk:
                        closed = True
                        break
                    got += chunk
                if closed:
                    break
                if reply is None:
                    break
                if reply == b"":
                    return
                conn.sendall(reply)
            deadline = time.monotonic() + WAIT
            while not closed and time.monotonic() < deadline:
                chunk = conn.recv(65536)
                if not chunk:
                    closed = True
                got += chunk
        except OSError as e:
            self.errors.append(repr(e))
        finally:
            self.transcripts.append(got)
            self.closed_by_client.append(closed)

    def wait(self, connections: int = 1) -> None:
        deadline = time.monotonic() + WAIT
        while len(self.transcripts) < connections and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.transcripts) >= connections, "scripted server did not finish"

    def close(self) -> None:
        self.listener.close()
        self.thread.join(WAIT)
