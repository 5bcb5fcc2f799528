"""DKIM against dkimpy 1.1.8 (pure Python RSA; Ed25519 through PyNaCl).

- verify: a 6 KiB message with one RSA-2048 signature (relaxed/relaxed). mailprims'
  ``Verifier.verify`` asks a DNS server on 127.0.0.1 and keeps the parsed key in its cache
  (the "key cached" case); it also evaluates DMARC and ARC for the message, which dkimpy's
  ``dkim.verify`` does not. dkimpy gets the key record from a dict (``dnsfunc``), no DNS.
- sign: the same message, RSA-2048 and Ed25519. mailprims' ``DkimSigner.sign`` returns a
  parsed ``Message``; dkimpy's ``dkim.sign`` returns the DKIM-Signature field.
- SMTP server: the same signed message sent by Postfix's ``smtp-source`` (4 persistent
  sessions) to ``SmtpServer(handler=Sink(), verify=Verifier(...))``, which checks DKIM,
  SPF (``ip4:127.0.0.0/8``), DMARC and ARC of each one and adds Authentication-Results,
  against the same server without ``verify``. The ratio is on/off throughput (below 1: the
  cost of checking); DNS answers come from the verifier's cache after the first message.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import os
import pathlib
import shutil
import smtplib
import sys
import tempfile

import dkim

from harness import Case

sys.path.insert(0, str(pathlib.Path(__file__).parent.parent / "tests"))
from dns_zone import Zone, dns_server

import mailprims as mp
from mailprims.auth import DkimKey, DkimSigner, Verifier

SMTP_MESSAGES = 2000
SMTP_SESSIONS = 4
SMTP_SOURCE = shutil.which("smtp-source") or "/usr/sbin/smtp-source"

DOMAIN = "example.org"
LINE = "The quarterly figures are in the attached tables; the summary follows below.\r\n"
BODY = (LINE * (6 * 1024 // len(LINE) + 1))[: 6 * 1024]
MESSAGE = (
    "From: Alice Doe <alice@example.org>\r\nTo: Bob Smith <bob@example.com>\r\n"
    "Subject: Quarterly figures\r\nDate: Mon, 9 Mar 2026 18:22:32 +0100\r\n"
    "Message-ID: <q3@example.org>\r\nMIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n\r\n" + BODY
).encode()

_stack = contextlib.ExitStack()


def smtp_source(port: int, message_file: pathlib.Path) -> None:
    import subprocess

    subprocess.run(
        [
            SMTP_SOURCE,
            "-d",
            "-s",
            str(SMTP_SESSIONS),
            "-m",
            str(SMTP_MESSAGES),
            "-F",
            str(message_file),
            "-f",
            "alice@example.org",
            "-t",
            "bob@example.com",
            f"127.0.0.1:{port}",
        ],
        check=True,
        timeout=600,
        stdout=subprocess.DEVNULL,
    )


def smtp_cases(verifier: Verifier, signed: bytes) -> list[Case]:
    """Server throughput with verification on and off (needs Postfix's smtp-source)."""
    if not pathlib.Path(SMTP_SOURCE).exists():
        print("smtp-source not installed: the SMTP server case is skipped", file=sys.stderr)
        return []
    on = _stack.enter_context(
        mp.SmtpServer(handler=mp.Sink(maxlen=1), verify=verifier, hostname="mx.bench.test")
    )
    off = _stack.enter_context(mp.SmtpServer(handler=mp.Sink(maxlen=1), hostname="mx.bench.test"))
    # smtp-source ends each line of the file with CRLF itself.
    directory = pathlib.Path(_stack.enter_context(tempfile.TemporaryDirectory()))
    message_file = directory / "signed.eml"
    message_file.write_bytes(signed.replace(b"\r\n", b"\n"))
    with smtplib.SMTP("127.0.0.1", on.port) as client:
        client.sendmail("alice@example.org", ["bob@example.com"], signed)
    auth = on.messages[-1].auth
    # The benchmark measures the common case: everything passes.
    assert auth is not None and auth.dkim[0].result == "pass", auth
    assert auth.spf is not None and auth.spf.result == "pass", auth
    assert auth.dmarc.result == "pass", auth
    return [
        Case(
            "dkim",
            f"SMTP server verify on / off, Sink, smtp-source {SMTP_SESSIONS} sessions x "
            f"{SMTP_MESSAGES} x 6 KiB RSA-signed",
            lambda: smtp_source(on.port, message_file),
            lambda: smtp_source(off.port, message_file),
            "same server, verify off",
            unit="msg",
            per_call=SMTP_MESSAGES,
        )
    ]


def cases() -> list[Case]:
    rsa = DkimKey.generate("rsa")
    seed = base64.b64encode(os.urandom(32))
    ed = DkimKey.load(seed)
    zone = Zone(
        {
            f"rsa._domainkey.{DOMAIN}": [("TXT", rsa.txt_record)],
            f"_dmarc.{DOMAIN}": [("TXT", "v=DMARC1; p=none")],
            DOMAIN: [("TXT", "v=spf1 ip4:127.0.0.0/8 -all")],
        }
    )
    # The server runs for the rest of the benchmark process and is stopped at exit by
    # atexit, while its threads still run: left to the garbage collector at interpreter
    # shutdown, its stop() waited forever for a serving thread that could no longer run, and
    # `make bench` never ended.
    server = dns_server(zone)
    addr = server.__enter__()
    atexit.register(server.__exit__, None, None, None)
    verifier = Verifier(nameservers=[addr])

    rsa_signer = DkimSigner(DOMAIN, "rsa", rsa)
    ed_signer = DkimSigner(DOMAIN, "ed", ed)
    signed = bytes(rsa_signer.sign(MESSAGE))
    records = {f"rsa._domainkey.{DOMAIN}.".encode(): rsa.txt_record.encode()}

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes | None:
        return records.get(name)

    # Both verify the same signature (and the benchmark measures passes, not failures).
    assert verifier.verify(signed).dkim[0].result == "pass"
    assert dkim.verify(signed, dnsfunc=dnsfunc)
    rsa_pem = rsa.private_pem().encode()

    def dkimpy_sign_rsa() -> bytes:
        return dkim.sign(MESSAGE, b"rsa", DOMAIN.encode(), rsa_pem)

    def dkimpy_sign_ed() -> bytes:
        return dkim.sign(
            MESSAGE, b"ed", DOMAIN.encode(), seed, signature_algorithm=b"ed25519-sha256"
        )

    return [
        Case(
            "dkim",
            "verify 6 KiB, RSA-2048 (key cached; + DMARC, ARC)",
            lambda: verifier.verify(signed),
            lambda: dkim.verify(signed, dnsfunc=dnsfunc),
            "dkimpy",
            target=10,
            unit="message",
        ),
        Case(
            "dkim",
            "sign 6 KiB, RSA-2048",
            lambda: rsa_signer.sign(MESSAGE),
            dkimpy_sign_rsa,
            "dkimpy",
            target=5,
            unit="message",
        ),
        Case(
            "dkim",
            "sign 6 KiB, Ed25519",
            lambda: ed_signer.sign(MESSAGE),
            dkimpy_sign_ed,
            "dkimpy",
            target=3,
            unit="message",
        ),
        *smtp_cases(verifier, signed),
    ]
