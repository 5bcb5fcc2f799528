"""``make demo`` / ``python -m mailprims demo``: the seed chapter's scenario, live. It must
exit 0 in bounded time with no configuration, print both dialogues in the chapter's
``C:``/``S:`` form in RFC order, and show that the message arrived with its attachment."""

from __future__ import annotations

import io
import re
import subprocess
import sys

import mailprims as mp
from mailprims import _demo
from mailprims._transcript import format_transcript


def run_demo() -> str:
    # Bounded: the demo takes well under a second; a hang is a failure, not a wait.
    done = subprocess.run(
        [sys.executable, "-m", "mailprims", "demo"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return done.stdout


def lines_between(out: str, start: str, end: str) -> list[str]:
    section = out.split(start, 1)[1].split(end, 1)[0]
    return [line.strip() for line in section.splitlines() if line.strip()]


def test_demo_runs_the_seed_scenario() -> None:
    out = run_demo()
    smtp = lines_between(out, "sends it: SMTP", "== Bob's")
    pop3 = lines_between(out, "fetches it: POP3", "== What Bob's")
    # Every dialogue line is in the seed's form.
    dialogue = [line for line in smtp + pop3 if line[:3] in ("C: ", "S: ")]
    assert len(dialogue) > 40
    # RFC 5321 §3.3: MAIL FROM, then RCPT TO, then DATA (the seed chapter's prose has RCPT
    # first, which is wrong); the message data ends with a lone dot.
    order = [
        smtp.index(line)
        for line in (
            "C: EHLO alice-laptop.example.org",
            "C: MAIL FROM:<alice@example.org> SIZE=" + _size(smtp),
            "C: RCPT TO:<bob@example.org>",
            "C: DATA",
            "C: .",
            "C: QUIT",
        )
    ]
    assert order == sorted(order)
    assert smtp[smtp.index("C: DATA") + 3].startswith("S: 354")
    assert any(re.fullmatch(r"S: 250 2\.0\.0 OK: queued as \w+", line) for line in smtp)
    # The data lines are shortened, and the password never appears.
    assert any(re.fullmatch(r"C: \[\.\.\. \d+ more lines, \d+ octets \.\.\.\]", s) for s in smtp)
    assert "C: AUTH PLAIN ********" in smtp
    assert "12345pass" not in out and "correct horse" not in out
    # POP3 as in RFC 1939 §10's example session: USER, PASS, STAT, LIST, RETR, DELE, QUIT.
    commands = [line for line in pop3 if line.startswith("C: ")]
    assert commands[-7:] == [
        "C: USER bob",
        "C: PASS ********",
        "C: STAT",
        "C: LIST",
        "C: RETR 1",
        "C: DELE 1",
        "C: QUIT",
    ]
    assert "S: +OK bob's maildrop has 1 message (" in "\n".join(pop3)
    # What Bob's client read: the decoded subject, one Received hop, the attachment intact.
    assert "Subject:      Réunion à 15h: the map" in out
    assert re.search(
        r"1\. from alice-laptop\.example\.org \[127\.0\.0\.1\] by mail\.example\.org "
        r"with ESMTPSA id \w+",
        out,
    )
    assert 'Attachment: "plan d\'accès.png", image/png' in out
    assert "identical to what Alice attached" in out
    assert "delivered and fetched in" in out
    # The server's log and the codec section.
    assert re.search(
        r"delivered id=\w+ from=<alice@example.org> to=<bob@example.org> user=alice", out
    )
    assert "base64  FPucA9l+" in out
    assert out.rstrip().endswith("ok")


def _size(smtp: list[str]) -> str:
    line = next(s for s in smtp if s.startswith("C: MAIL FROM:"))
    return line.rsplit("SIZE=", 1)[1]


def test_demo_in_process_returns_zero_and_cleans_up(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    out = io.StringIO()
    assert _demo.run(out) == 0
    assert list(tmp_path.iterdir()) == []  # the store, users file and certificate are gone


def test_transcript_formatting_shortens_data_and_marks_tls() -> None:
    smtp = [
        ("S", "220 mx ESMTP"),
        ("C", "STARTTLS"),
        ("S", "220 go ahead"),
        ("C", "MAIL FROM:<a@x>"),
        ("C", "RCPT TO:<b@y>"),
        ("C", "DATA"),
        ("S", "250 ok"),
        ("S", "250 ok"),
        ("S", "354 go"),
        *[("C", f"line {n}") for n in range(10)],
        ("C", "."),
        ("S", "250 queued"),
    ]
    assert list(format_transcript(smtp, data_lines=2, tls="TLSv1.3")) == [
        "S: 220 mx ESMTP",
        "C: STARTTLS",
        "S: 220 go ahead",
        "   [TLS handshake: TLSv1.3; the rest is encrypted]",
        "C: MAIL FROM:<a@x>",
        "C: RCPT TO:<b@y>",
        "C: DATA",
        "S: 250 ok",
        "S: 250 ok",
        "S: 354 go",
        "C: line 0",
        "C: line 1",
        "C: [... 8 more lines, 64 octets ...]",
        "C: .",
        "S: 250 queued",
    ]
    # BDAT (RFC 3030): the chunk's octets follow the command, no dot.
    bdat = [("C", "BDAT 12 LAST"), ("C", "ab"), ("C", "cd"), ("C", "ef"), ("S", "250 ok")]
    assert list(format_transcript(bdat, data_lines=1)) == [
        "C: BDAT 12 LAST",
        "C: ab",
        "C: [... 2 more lines, 8 octets ...]",
        "S: 250 ok",
    ]
    # POP3: pipelined RETRs, each response's data shortened; an -ERR has none.
    pop = [
        ("C", "RETR 1"),
        ("C", "RETR 2"),
        ("C", "RETR 3"),
        ("S", "+OK 10 octets"),
        ("S", "a"),
        ("S", "b"),
        ("S", "."),
        ("S", "-ERR no such message"),
        ("S", "+OK 5 octets"),
        ("S", "c"),
        ("S", "."),
    ]
    assert list(format_transcript(pop, data_lines=1)) == [
        "C: RETR 1",
        "C: RETR 2",
        "C: RETR 3",
        "S: +OK 10 octets",
        "S: a",
        "S: [... 1 more lines, 3 octets ...]",
        "S: .",
        "S: -ERR no such message",
        "S: +OK 5 octets",
        "S: c",
        "S: .",
    ]


def test_the_demo_message_is_mime_with_an_attachment() -> None:
    # The one function that builds the demo's (and `mailprims send`'s) messages.
    from mailprims._compose import compose

    data = compose(
        from_="a@example.org",
        to=["b@example.org"],
        subject="Réunion",
        text="é",
        html="<p>é</p>",
        attachments=[("x.bin", b"\x00\xff", "application/octet-stream")],
    )
    msg = mp.Message.parse(data)
    assert (msg.subject, msg.text, msg.html) == ("Réunion", "é\r\n", "<p>é</p>\r\n")
    assert msg.message_id is not None and msg.message_id.endswith("@example.org")
    assert [(p.filename, p.payload) for p in msg.attachments] == [("x.bin", b"\x00\xff")]
    assert data.isascii()  # RFC 2047 header, quoted-printable and Base64 bodies: 7-bit
