"""A synthetic mail archive: tens of thousands of messages that look like a real mailbox.

Used by ``tests/test_archive*.py``, ``notebooks/archives.ipynb`` and
``benches/bench_archive.py``. Deterministic for a seed. What it holds, in proportions taken
from real mailboxes: people with display names (some non-ASCII, RFC 2047-encoded) at a
handful of domains; conversations (a reply quotes ``In-Reply-To`` and the whole
``References`` chain and says ``Re:``); mailing-list traffic (``List-Id``,
``List-Unsubscribe``, the list server's ``Received`` hop); 2 to 5 ``Received`` hops with
delays of seconds (and now and then a server whose clock is behind); Authentication-Results
with SPF/DKIM/DMARC verdicts; multipart/alternative HTML; attachments (PDF, PNG, CSV, DOCX,
a forwarded message); body lines starting with ``From `` (which an mbox must quote); and
about one message in a hundred malformed (no Date, a date nobody can read, a multipart
without its closing boundary, a header line that is not a field, 8-bit bytes in a header).

``messages(n)`` yields the messages as bytes (LF line endings, as in an mbox);
``write_mbox``, ``write_maildir`` and ``write_eml_dir`` store them the way mail programs do.
"""

from __future__ import annotations

import base64
import datetime
import gzip
import os
import random
import re
import urllib.parse
from collections.abc import Iterable, Iterator
from pathlib import Path

FIRST = [
    "Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy",
    "Mallory", "Niaj", "Olivia", "Peggy", "Rupert", "Sybil", "Trent", "Victor", "Walter",
    "Zoë", "Jürgen", "Åsa", "François", "Łukasz", "Renée", "Søren", "José", "Chloé",
]  # fmt: skip
LAST = [
    "Smith", "Jones", "Martin", "Dubois", "Müller", "Rossi", "García", "Nowak", "Jensen",
    "Tanaka", "Kim", "Okafor", "Silva", "Novák", "Lindqvist", "O'Brien", "Ng", "Haddad",
]  # fmt: skip
DOMAINS = ["example.org", "example.com", "example.net", "mail.example.edu", "corp.example"]
LISTS = [
    ("dev", "Developers' discussion", "lists.example.org"),
    ("announce", "Announcements", "lists.example.org"),
    ("users", "Users of the project", "lists.example.org"),
    ("ops", "Operations team", "lists.corp.example"),
    ("social", "After work", "lists.corp.example"),
]
TOPICS = [
    "release schedule", "build failure on main", "quarterly report", "lunch on Thursday",
    "Réunion budget 2024", "server migration", "the new logo", "travel plans",
    "code review: parser", "Größenordnung der Tests", "holiday rota", "invoice #4711",
    "outage post-mortem", "conference talk", "hiring update", "office move",
]  # fmt: skip
WORDS = (
    "the a of to and in that is for it with as on be at by this we you are from or have "
    "an they which one will there all would their more if about out up what so can when "
    "mail server message archive thread reply list release build test parser date header "
    "café déjà naïve résumé"
).split()
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ATTACHMENTS = [
    ("report.pdf", "application/pdf", 6000),
    ("diagram.png", "image/png", 3000),
    ("data.csv", "text/csv", 1500),
    ("minutes.docx", DOCX, 4000),
    ("Übersicht.pdf", "application/pdf", 2500),
]  # fmt: skip


def _word(text: str) -> str:
    """An RFC 2047 encoded word for non-ASCII text (the way mail programs write names)."""
    if text.isascii():
        return text
    return "=?utf-8?b?" + base64.b64encode(text.encode()).decode() + "?="


class _Person:
    def __init__(self, rng: random.Random, i: int) -> None:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        self.name = f"{first} {last}"
        local = re.sub(r"[^a-z]", "", (first[0] + last).lower()) or "user"
        self.email = f"{local}{i}@{rng.choice(DOMAINS)}"

    def header(self) -> str:
        name = _word(self.name)
        if name == self.name and ("'" in name or "," in name):
            name = f'"{name}"'
        return f"{name} <{self.email}>"


def _date(t: datetime.datetime, offset_minutes: int) -> str:
    tz = datetime.timezone(datetime.timedelta(minutes=offset_minutes))
    return t.astimezone(tz).strftime("%a, %d %b %Y %H:%M:%S %z")


def _text(rng: random.Random, lines: int) -> str:
    out = []
    for _ in range(lines):
        out.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 14))))
    return "\n".join(out) + "\n"


def messages(n: int, *, seed: int = 19, malformed: float = 0.01) -> Iterator[bytes]:
    """``n`` messages, oldest first, as bytes with LF line endings."""
    rng = random.Random(seed)
    people = [_Person(rng, i) for i in range(max(20, n // 40))]
    # A few people write most of the mail, as in every real archive.
    weights = [1.0 / (k + 1) ** 0.8 for k in range(len(people))]
    start = datetime.datetime(2023, 1, 1, tzinfo=datetime.timezone.utc)
    step = datetime.timedelta(days=730) / max(n, 1)
    threads: list[dict[str, object]] = []
    for i in range(n):
        t = start + step * i + datetime.timedelta(seconds=rng.randint(0, 600))
        sender = rng.choices(people, weights)[0]
        on_list = rng.random() < 0.35
        lst = rng.choice(LISTS) if on_list else None
        reply_to_thread = threads and rng.random() < 0.55
        if reply_to_thread:
            th = rng.choice(threads[-40:])
            subject = "Re: " + str(th["subject"])
            refs = list(th["refs"])  # type: ignore[call-overload]
            parent = refs[-1]
            lst = th["list"]  # type: ignore[assignment]
        else:
            subject = rng.choice(TOPICS) + ("" if rng.random() < 0.5 else f" ({i})")
            refs = []
            parent = None
        mid = f"{i:06d}.{rng.getrandbits(40):010x}@{sender.email.split('@')[1]}"
        if reply_to_thread:
            th["refs"] = [*refs, mid]  # type: ignore[index]
        else:
            threads.append({"subject": subject, "refs": [mid], "list": lst})
        recipients = rng.sample(people, k=rng.randint(1, 3))
        cc = rng.sample(people, k=rng.randint(0, 2)) if rng.random() < 0.3 else []
        offset = rng.choice([0, 60, 120, -300, -420, 330, 540])
        headers = _received(rng, t, sender, lst)
        headers += _auth(rng, sender)
        if lst is not None:
            name, desc, host = lst
            headers += [
                f"List-Id: {desc} <{name}.{host}>",
                f"List-Unsubscribe: <mailto:{name}-leave@{host}>, <https://{host}/u/{name}>",
                f"List-Post: <mailto:{name}@{host}>",
            ]
            to = f"{name}@{host}"
        else:
            to = ", ".join(p.header() for p in recipients)
        headers += [
            f"From: {sender.header()}",
            f"To: {to}",
        ]
        if cc:
            headers.append("Cc: " + ", ".join(p.header() for p in cc))
        headers += [
            f"Subject: {_word(subject)}",
            f"Date: {_date(t, offset)}",
            f"Message-ID: <{mid}>",
        ]
        if parent is not None:
            headers.append(f"In-Reply-To: <{parent}>")
            headers.append("References: " + "\n ".join(f"<{r}>" for r in refs))
        headers.append("MIME-Version: 1.0")
        body_text = _text(rng, rng.randint(3, 30))
        if rng.random() < 0.03:
            # A line an mbox must quote (">From "), and one that is quoted already.
            body_text += "From the minutes of the last meeting:\n>From an earlier reply\n"
        kind = rng.random()
        if kind < 0.12:
            body = _with_attachments(rng, headers, body_text, i)
        elif kind < 0.40:
            body = _alternative(headers, body_text)
        else:
            headers.append("Content-Type: text/plain; charset=utf-8")
            headers.append("Content-Transfer-Encoding: 8bit")
            body = body_text
        data = ("\n".join(headers) + "\n\n" + body).encode()
        if rng.random() < malformed:
            data = _break(rng, data)
        yield data


def _received(rng: random.Random, t: datetime.datetime, sender: _Person, lst: object) -> list[str]:
    hops = rng.randint(2, 5)
    stamps = []
    at = t
    for _ in range(hops):
        at += datetime.timedelta(seconds=rng.randint(0, 40))
        stamps.append(at)
    if rng.random() < 0.05:
        stamps[-1] -= datetime.timedelta(seconds=rng.randint(5, 90))  # a clock behind
    names = [f"relay{k}.{sender.email.split('@')[1]}" for k in range(hops)]
    if lst is not None:
        names[-2] = "lists." + str(lst[2]).removeprefix("lists.")  # type: ignore[index]
    fields = []
    for k in range(hops - 1, 0, -1):
        fields.append(
            f"Received: from {names[k - 1]} ({names[k - 1]} [192.0.2.{k + 10}])\n"
            f"\tby {names[k]} (Postfix) with ESMTPS id {rng.getrandbits(36):09X};\n"
            f"\t{_date(stamps[k], 0)}"
        )
    fields.append(
        f"Received: from laptop ([198.51.100.{rng.randint(1, 254)}])\n"
        f"\tby {names[0]} with ESMTPSA id {rng.getrandbits(36):09X};\n\t{_date(stamps[0], 60)}"
    )
    return fields


def _auth(rng: random.Random, sender: _Person) -> list[str]:
    domain = sender.email.split("@")[1]

    def verdict() -> str:
        return rng.choices(["pass", "fail", "softfail", "none", "neutral"], [80, 6, 6, 6, 2])[0]

    spf, dkim = verdict(), verdict()
    dmarc = "pass" if "pass" in (spf, dkim) else rng.choice(["fail", "none"])
    return [
        f"Authentication-Results: mx.example.net;\n\tspf={spf} smtp.mailfrom={domain};\n"
        f"\tdkim={dkim} (2048-bit key) header.d={domain};\n\tdmarc={dmarc} header.from={domain}"
    ]


def _alternative(headers: list[str], text: str) -> str:
    headers.append('Content-Type: multipart/alternative; boundary="=_alt"')
    html = "<html><body>" + "".join(f"<p>{line}</p>\n" for line in text.splitlines())
    return (
        "--=_alt\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
        f"{text}\n--=_alt\nContent-Type: text/html; charset=utf-8\n\n{html}</body></html>\n"
        "--=_alt--\n"
    )


def _with_attachments(rng: random.Random, headers: list[str], text: str, i: int) -> str:
    headers.append('Content-Type: multipart/mixed; boundary="=_mixed"')
    parts = [
        "--=_mixed\nContent-Type: text/plain; charset=utf-8\n"
        f"Content-Transfer-Encoding: 8bit\n\n{text}"
    ]
    for name, ctype, size in rng.sample(ATTACHMENTS, k=rng.randint(1, 2)):
        blob = rng.randbytes(rng.randint(size // 2, size))
        encoded = base64.encodebytes(blob).decode()
        if name.isascii():
            disposition = f'attachment; filename="{name}"'
        else:
            # RFC 2231, as the stdlib and mail programs write non-ASCII file names.
            quoted = urllib.parse.quote(name, safe="")
            disposition = f"attachment; filename*=utf-8''{quoted}"
        parts.append(
            f"--=_mixed\nContent-Type: {ctype}\nContent-Disposition: {disposition}\n"
            f"Content-Transfer-Encoding: base64\n\n{encoded}"
        )
    if rng.random() < 0.15:
        parts.append(
            "--=_mixed\nContent-Type: message/rfc822\n\n"
            f"From: Someone <someone@example.com>\nSubject: forwarded {i}\n"
            "Date: Mon, 02 Jan 2023 10:00:00 +0000\n\nThe forwarded text.\n"
        )
    return "".join(parts) + "--=_mixed--\n"


def _break(rng: random.Random, data: bytes) -> bytes:
    head, _, body = data.partition(b"\n\n")
    how = rng.randrange(5)
    if how == 0:
        head = re.sub(rb"\nDate: [^\n]*", b"", head)
    elif how == 1:
        head = re.sub(rb"\nDate: [^\n]*", b"\nDate: the day after tomorrow", head)
    elif how == 2:
        body = re.sub(rb"--=_(mixed|alt)--\n$", b"", body)
    elif how == 3:
        head = head.replace(b"\nMIME-Version", b"\nthis line is not a header\nMIME-Version")
    else:
        head = head.replace(b"\nSubject: ", b"\nSubject: caf\xe9 ", 1)
    return head + b"\n\n" + body


def mbox_quote(message: bytes) -> bytes:
    """mboxrd quoting: one more ``>`` on every line matching ``>*From ``."""
    return re.sub(rb"(?m)^(>*From )", rb">\1", message)


def write_mbox(path: Path, msgs: Iterable[bytes], *, compress: bool = False) -> Path:
    """An mbox (mboxrd, as mutt and Dovecot write it), gzip-compressed with ``compress``."""
    opener = gzip.open if compress else open
    with opener(path, "wb") as f:  # type: ignore[operator]
        for i, m in enumerate(msgs):
            sender = re.search(rb"(?m)^From: .*?<([^>]+)>", m)
            who = sender.group(1).decode() if sender else "MAILER-DAEMON"
            f.write(f"From {who} Mon Jan  {1 + i % 9} 00:00:00 2024\n".encode())
            body = mbox_quote(m)
            f.write(body if body.endswith(b"\n") else body + b"\n")
            f.write(b"\n")
    return path


def write_maildir(
    root: Path, msgs: Iterable[bytes], *, folders: tuple[str, ...] = ("Lists", "Archive.2023")
) -> Path:
    """A Maildir (what Dovecot and Python's ``mailbox.Maildir`` read): messages with a List-Id
    go to the first Maildir++ folder, every fifth other one to the second, the rest to the
    INBOX; two thirds are in ``cur/`` with flags, the rest in ``new/``."""
    dirs = [root, *(root / f".{name}" for name in folders)]
    for d in dirs:
        for sub in ("cur", "new", "tmp"):
            (d / sub).mkdir(parents=True, exist_ok=True)
    for i, m in enumerate(msgs):
        if folders and b"\nList-Id:" in m:
            d = dirs[1]
        elif len(folders) > 1 and i % 5 == 0:
            d = dirs[2]
        else:
            d = dirs[0]
        name = f"{1700000000 + i}.M{i}P{os.getpid()}.synth,S={len(m)}"
        if i % 3:
            (d / "cur" / f"{name}:2,{'S' if i % 2 else 'RS'}").write_bytes(m)
        else:
            (d / "new" / name).write_bytes(m)
    return root


def write_eml_dir(root: Path, msgs: Iterable[bytes], *, compress_every: int = 0) -> Path:
    """One ``.eml`` file per message in sub-directories of 1,000; every ``compress_every``-th
    one gzip-compressed (``.eml.gz``)."""
    for i, m in enumerate(msgs):
        d = root / f"{i // 1000:03d}"
        d.mkdir(parents=True, exist_ok=True)
        if compress_every and i % compress_every == 0:
            (d / f"{i:06d}.eml.gz").write_bytes(gzip.compress(m, 1))
        else:
            (d / f"{i:06d}.eml").write_bytes(m)
    return root
