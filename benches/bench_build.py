"""Building messages against the stdlib: a text+HTML message with two 100 KiB attachments,
built and serialized to bytes, and a small text message.

The stdlib side is its documented way: ``EmailMessage``, ``set_content`` (text),
``add_alternative`` (HTML), ``add_attachment`` (twice) and ``as_bytes()``; mailprims does
``Message.build(...)`` and ``bytes(msg)`` (the build includes reading the result back into a
parsed ``Message``).
"""

from __future__ import annotations

import email.policy
import os
from email.message import EmailMessage

import mailprims as mp
from harness import Case

KIB = 1024

TEXT = (
    "Hello Bob,\n\nHere are the quarterly figures we discussed on the phone. The summary is "
    "in the body; the full tables are attached as a PDF and a spreadsheet.\n\n"
    "Best regards,\nAlice — Réunion d'équipe\n"
) * 4
HTML = (
    "<html><body><p>Hello Bob,</p><p>Here are the <b>quarterly figures</b> we discussed. "
    "The full tables are attached.</p><p>Best regards,<br>Alice — Réunion d'équipe</p>"
    "</body></html>\n"
) * 4
PDF = os.urandom(100 * KIB)
XLSX = os.urandom(100 * KIB)


def stdlib_build() -> bytes:
    m = EmailMessage(policy=email.policy.SMTP)
    m["From"] = "Alice Doe <alice@example.org>"
    m["To"] = "Bob Smith <bob@example.com>, Carol <carol@example.com>"
    m["Subject"] = "Quarterly figures — Q3"
    m["Date"] = "Mon, 9 Mar 2010 18:22:32 +0100"
    m["Message-ID"] = "<q3-figures@example.org>"
    m.set_content(TEXT)
    m.add_alternative(HTML, subtype="html")
    m.add_attachment(PDF, maintype="application", subtype="pdf", filename="figures.pdf")
    m.add_attachment(
        XLSX,
        maintype="application",
        subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        filename="tables.xlsx",
    )
    return m.as_bytes()


def mailprims_build() -> bytes:
    m = mp.Message.build(
        from_="Alice Doe <alice@example.org>",
        to="Bob Smith <bob@example.com>, Carol <carol@example.com>",
        subject="Quarterly figures — Q3",
        headers={
            "Date": "Mon, 9 Mar 2010 18:22:32 +0100",
            "Message-ID": "<q3-figures@example.org>",
        },
        text=TEXT,
        html=HTML,
        attachments=[("figures.pdf", PDF), ("tables.xlsx", XLSX)],
    )
    return bytes(m)


def stdlib_small() -> bytes:
    m = EmailMessage(policy=email.policy.SMTP)
    m["From"] = "Alice Doe <alice@example.org>"
    m["To"] = "Bob Smith <bob@example.com>"
    m["Subject"] = "Hello"
    m.set_content("Hello Bob\nThis is a small message containing 4 lines of text.\n")
    return m.as_bytes()


def mailprims_small() -> bytes:
    m = mp.Message.build(
        from_="Alice Doe <alice@example.org>",
        to="Bob Smith <bob@example.com>",
        subject="Hello",
        text="Hello Bob\nThis is a small message containing 4 lines of text.\n",
    )
    return bytes(m)


def cases() -> list[Case]:
    # Both sides produce a message the other reads back the same (checked in the tests);
    # here, a sanity check that they build what the benchmark says.
    ours = mp.Message.parse(mailprims_build())
    theirs = mp.Message.parse(stdlib_build())
    assert [a.payload for a in ours.attachments] == [a.payload for a in theirs.attachments]
    size = len(mailprims_build())
    return [
        Case(
            "build",
            "text+HTML, two 100 KiB attachments, to bytes",
            mailprims_build,
            stdlib_build,
            "EmailMessage+add_attachment+as_bytes",
            10,
            size,
            unit="msg",
        ),
        Case(
            "build",
            "small text message, to bytes",
            mailprims_small,
            stdlib_small,
            "EmailMessage+set_content+as_bytes",
            None,
            len(mailprims_small()),
            unit="msg",
        ),
    ]
