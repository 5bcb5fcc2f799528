"""Smoke tests for an installed wheel: what a user does in the first five minutes.

`make test` runs this file with the standard library's unittest, in a fresh virtual
environment per CPython (3.10 and later) into which only the wheel is installed: no pytest,
no test dependencies, so the wheel alone must be enough. The main pytest run collects it
too (unittest cases), against the development build.

The round trip is real: the package's SmtpServer and Pop3Server on loopback ports over a
temporary Maildir store, with the standard library's smtplib and poplib as the clients.
"""

from __future__ import annotations

import email
import email.policy
import os
import poplib
import smtplib
import sys
import tempfile
import unittest
from pathlib import Path

import mailprims as mp

TIMEOUT = 10  # seconds; every network call below is bounded by it


class ImportTest(unittest.TestCase):
    def test_installed_package_is_the_wheel(self) -> None:
        # In the smoke venvs (`make test`, the release workflow) the package must come from the
        # installed wheel, not from a checkout that happens to be on sys.path.
        if os.environ.get("MAILPRIMS_SMOKE_INSTALLED") == "1":
            self.assertIn("site-packages", Path(mp.__file__).parts)
        self.assertRegex(mp.__version__, r"^\d+\.\d+\.\d+")
        for name in ("Message", "SmtpServer", "Pop3Server", "MailError"):
            self.assertIn(name, mp.__all__)

    def test_extension_is_abi3(self) -> None:
        ext = Path(mp._mailprims.__file__).name  # type: ignore[attr-defined]
        if sys.platform.startswith("linux"):
            self.assertIn(".abi3.", ext)


class MessageTest(unittest.TestCase):
    def test_parse(self) -> None:
        raw = (
            b"From: Alice <alice@example.org>\r\n"
            b"To: bob@example.org\r\n"
            b"Subject: =?utf-8?q?R=C3=A9union?=\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n"
            b"Content-Transfer-Encoding: quoted-printable\r\n"
            b"\r\n"
            b"caf=C3=A9\r\n"
        )
        msg = mp.Message.parse(raw)
        self.assertEqual(msg.subject, "Réunion")
        self.assertEqual(msg.from_[0].email, "alice@example.org")
        self.assertEqual(msg.text.strip(), "café")
        self.assertEqual(msg.as_bytes(), raw)

    def test_build_reads_back_with_the_stdlib(self) -> None:
        msg = mp.Message.build(
            from_="Alice <alice@example.org>",
            to=["bob@example.org"],
            subject="Grüße",
            text="hello\n",
            attachments=[("a.bin", bytes(range(256)))],
        )
        parsed = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
        self.assertEqual(parsed["Subject"], "Grüße")
        attachment = next(iter(parsed.iter_attachments()))
        self.assertEqual(attachment.get_filename(), "a.bin")
        self.assertEqual(attachment.get_content(), bytes(range(256)))

    def test_codecs(self) -> None:
        self.assertEqual(mp.base64.encode(b"\x14\xfb\x9c\x03\xd9\x7e"), b"FPucA9l+")
        self.assertEqual(mp.base64.decode(b"FPucA9l+"), b"\x14\xfb\x9c\x03\xd9\x7e")
        self.assertEqual(mp.quoted_printable.decode(b"caf=C3=A9"), "café".encode())


class RoundTripTest(unittest.TestCase):
    """SMTP in, POP3 out, over loopback: stdlib clients against the package's servers."""

    def test_smtp_to_a_sink(self) -> None:
        sink = mp.Sink()
        with mp.SmtpServer(handler=sink, hostname="mx.example.org") as server:
            with smtplib.SMTP("127.0.0.1", server.port, timeout=TIMEOUT) as client:
                client.sendmail("a@example.net", ["b@example.org"], b"Subject: hi\r\n\r\nhi\r\n")
        (envelope,) = sink.messages
        self.assertEqual(envelope.mail_from, "a@example.net")
        self.assertEqual(envelope.rcpt_tos, ["b@example.org"])
        self.assertEqual(mp.Message.parse(envelope.content).subject, "hi")

    @unittest.skipUnless(sys.platform == "win32", "Windows only")
    def test_maildir_is_not_implemented_on_windows(self) -> None:
        with tempfile.TemporaryDirectory() as tmp, self.assertRaises(NotImplementedError):
            mp.MaildirStore(Path(tmp) / "mail")

    @unittest.skipIf(sys.platform == "win32", "Maildir file names contain ':' (not on Windows)")
    def test_smtp_then_pop3(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            users = mp.Users(domains=["example.org"])
            users.add("bob", "correct horse battery")
            store = mp.MaildirStore(Path(tmp) / "mail")
            smtp = mp.SmtpServer(store=store, users=users, hostname="mail.example.org")
            pop3 = mp.Pop3Server(store=store, users=users, hostname="mail.example.org")
            body = mp.Message.build(
                from_="alice@example.net",
                to=["bob@example.org"],
                subject="smoke",
                text="over loopback\n",
            ).as_bytes()
            with smtp, pop3:
                with smtplib.SMTP("127.0.0.1", smtp.port, timeout=TIMEOUT) as client:
                    refused = client.sendmail("alice@example.net", ["bob@example.org"], body)
                self.assertEqual(refused, {})
                pop = poplib.POP3("127.0.0.1", pop3.port, timeout=TIMEOUT)
                try:
                    pop.user("bob")
                    pop.pass_("correct horse battery")
                    count, _size = pop.stat()
                    self.assertEqual(count, 1)
                    _resp, lines, _octets = pop.retr(1)
                    pop.dele(1)
                finally:
                    pop.quit()
            got = mp.Message.parse(b"\r\n".join(lines) + b"\r\n")
            self.assertEqual(got.subject, "smoke")
            self.assertEqual(got.text.splitlines(), ["over loopback"])
            self.assertEqual(got.received[0].by_host, "mail.example.org")


if __name__ == "__main__":
    unittest.main()
