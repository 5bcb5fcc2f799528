"""The one free-port helper of the tests, for peers that cannot listen on port 0 and say
which port they got (aiosmtpd's Controller, Dovecot's configuration file), and for a port
nothing listens on (connection refused)."""

from __future__ import annotations

import socket


def free_port(host: str = "127.0.0.1") -> int:
    """A port on ``host`` that was free a moment ago (the kernel's pick for port 0)."""
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port
