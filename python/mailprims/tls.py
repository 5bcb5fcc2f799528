"""TLS helpers: certificates for local servers and tests.

Clients verify certificates by default against the system's roots; pass a CA file to trust a
private CA or a self-signed certificate such as the ones made here.

>>> from mailprims import tls
>>> cert, key = tls.self_signed_certificate(["localhost", "127.0.0.1"])
>>> cert.startswith("-----BEGIN CERTIFICATE-----"), "PRIVATE KEY" in key
(True, True)
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Iterable

from mailprims import _mailprims

__all__ = ["check_server_identity", "self_signed_certificate", "write_self_signed_certificate"]

DEFAULT_NAMES = ("localhost", "127.0.0.1", "::1")


def self_signed_certificate(hostnames: Iterable[str] = DEFAULT_NAMES) -> tuple[str, str]:
    """Generate a self-signed certificate for ``hostnames`` (DNS names or IP addresses).

    Returns ``(certificate_pem, private_key_pem)``. For tests and local servers only.
    """
    return _mailprims.tls_self_signed(list(hostnames))


def write_self_signed_certificate(
    directory: str | os.PathLike[str], hostnames: Iterable[str] = DEFAULT_NAMES
) -> tuple[pathlib.Path, pathlib.Path]:
    """Write a new self-signed certificate and its key into ``directory``.

    Returns the paths ``(cert.pem, key.pem)``; the key file is readable by its owner only.
    """
    cert, key = self_signed_certificate(hostnames)
    root = pathlib.Path(directory)
    cert_path, key_path = root / "cert.pem", root / "key.pem"
    cert_path.write_text(cert)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return cert_path, key_path


def check_server_identity(cert_pem: str | bytes, key_pem: str | bytes) -> None:
    """Raise :class:`~mailprims.ConfigError` unless the PEM certificate chain and private key
    can serve TLS together (parsable, and the key matches the certificate)."""

    def as_bytes(v: str | bytes) -> bytes:
        return v.encode() if isinstance(v, str) else v

    _mailprims.tls_check_server_identity(as_bytes(cert_pem), as_bytes(key_pem))
