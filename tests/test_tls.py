"""TLS helpers, cross-checked with the stdlib's OpenSSL-based ssl module."""

from __future__ import annotations

import pathlib
import socket
import ssl
import stat
import threading

import pytest

import mailprims
from mailprims import tls


def test_self_signed_certificate_verifies_with_openssl(tmp_path: pathlib.Path) -> None:
    cert_path, key_path = tls.write_self_signed_certificate(tmp_path, ["localhost", "127.0.0.1"])
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert_path, key_path)
    client_ctx = ssl.create_default_context(cafile=str(cert_path))

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        with server_ctx.wrap_socket(conn, server_side=True) as tls_conn:
            tls_conn.sendall(tls_conn.recv(100).upper())

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with client_ctx.wrap_socket(raw, server_hostname="localhost") as conn:
                conn.sendall(b"hello")
                assert conn.recv(100) == b"HELLO"
    finally:
        thread.join(10)
        listener.close()


def test_identity_check() -> None:
    cert, key = tls.self_signed_certificate()
    tls.check_server_identity(cert, key)
    _, other_key = tls.self_signed_certificate()
    with pytest.raises(mailprims.ConfigError, match="do not fit"):
        tls.check_server_identity(cert, other_key)
    with pytest.raises(mailprims.ConfigError):
        tls.check_server_identity("not a certificate", key)
    assert issubclass(mailprims.TlsError, ConnectionError)
