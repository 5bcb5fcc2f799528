"""Helpers for the SMTP server tests: raw-socket transcripts with exact bytes."""

from __future__ import annotations

import socket
import time

HOST = "mx.test"


class Raw:
    """A plain socket speaking to the server: send bytes, read exact replies."""

    def __init__(self, port: int, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def read(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def reply(self) -> bytes:
        """One complete reply (all its lines)."""
        out = b""
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return out + self.buf
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            out += line + b"\r\n"
            if len(line) < 4 or line[3:4] != b"-":
                return out

    def expect(self, send: bytes, expected: bytes) -> None:
        if send:
            self.sock.sendall(send)
        got = self.read(len(expected))
        assert got == expected, f"sent {send!r}\nexpected {expected!r}\ngot      {got!r}"

    def closed(self, timeout: float = 10.0) -> bool:
        """True once the server has closed the connection (all data read)."""
        deadline = time.monotonic() + timeout
        self.sock.settimeout(timeout)
        while time.monotonic() < deadline:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                return True
            if not chunk:
                return True
            self.buf += chunk
        return False

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Raw:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


GREETING = f"220 {HOST} ESMTP mailprims\r\n".encode()
EHLO_PLAIN = (
    f"250-{HOST}\r\n250-PIPELINING\r\n250-SIZE 33554432\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
    "250-ENHANCEDSTATUSCODES\r\n250-CHUNKING\r\n250 HELP\r\n"
).encode()
