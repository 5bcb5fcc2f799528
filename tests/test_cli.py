"""The command line's parsing commands, run as a user runs them: ``python -m mailprims parse``
and ``trace`` in a subprocess (exit status, standard output, standard error), the progress
line on a real pseudo-terminal, and the console script."""

from __future__ import annotations

import io
import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

import mailprims as mp
from mailprims._progress import Progress

CORPUS = Path(__file__).parent / "corpus"
SEED = CORPUS / "seed" / "received-trace.eml"
TIMEOUT = 60


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailprims", *args],
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def test_parse_summary() -> None:
    p = run("parse", str(SEED))
    assert (p.returncode, p.stderr) == (0, "")
    lines = p.stdout.splitlines()
    assert lines[0] == "From:       Robin Whittle <rw@firstpr.com.au>"
    assert "Subject:    Re: [rrg] Recommendation and what happens next" in lines
    assert any(line.startswith("Received:   7 hops, transit 40 s") for line in lines)
    assert lines[-2:] == ["Parts:", "  text/plain (24 bytes)"]


def test_parse_summary_auth_and_list() -> None:
    p = run("parse", str(CORPUS / "feature" / "gmail-newsletter-auth.eml"))
    assert p.returncode == 0
    assert "Auth:       dkim=pass, spf=pass, dmarc=pass" in p.stdout
    assert "DKIM:       d=news.example.com s=s1 a=rsa-sha256" in p.stdout
    assert "ARC:        i=1 google.com cv=none" in p.stdout
    assert "List:       weekly.news.example.com (one-click unsubscribe)" in p.stdout
    assert "    text/html charset=utf-8 (50 bytes)" in p.stdout


def test_parse_json_has_everything() -> None:
    path = CORPUS / "feature" / "nested-rfc822.eml"
    p = run("parse", "--json", str(path))
    assert p.returncode == 0
    data = json.loads(p.stdout)
    msg = mp.Message.parse_file(path)
    assert data["subject"] == msg.subject
    assert data["headers"] == [[h.name, h.value] for h in msg.headers.fields()]
    assert data["from"] == [{"name": a.name, "email": a.email, "group": a.group} for a in msg.from_]
    assert data["parts"]["type"] == msg.content_type.mime_type
    assert [c["type"] for c in data["parts"]["parts"]] == [
        p.content_type.mime_type for p in msg.parts
    ]
    inner = next(c for c in data["parts"]["parts"] if "message" in c)
    assert inner["message"]["subject"] == next(p.message for p in msg.parts if p.message).subject
    assert data["text"] == msg.text
    assert data["defects"] == [
        {"kind": d.kind, "message": d.message, "offset": d.offset} for d in msg.defects
    ]
    for key in ("received", "authentication_results", "dkim_signatures", "arc_sets", "list"):
        assert key in data


def test_parse_json_trace_and_auth() -> None:
    p = run("parse", "--json", str(CORPUS / "rfc" / "rfc8617-appendix-b-example-1.eml"))
    data = json.loads(p.stdout)
    assert [h["by"] for h in data["received"]] == [
        "clochette.example.org",
        "segv.d1.example",
        "lists.example.org",
        "gmail.example",
    ]
    assert [s["sealer"] for s in data["arc_sets"]] == [
        "lists.example.org",
        "gmail.example",
        "clochette.example.org",
    ]
    assert data["dkim_signatures"][0]["domain"] == "d1.example"
    assert data["authentication_results"][-1] == {
        "authserv_id": "clochette.example.org",
        "method": "arc",
        "method_version": None,
        "result": "pass",
        "reason": None,
        "properties": {},
        "comments": [
            "as.2.gmail.example=pass, ams.2.gmail.example=pass, as.1.lists.example.org=pass,"
            " ams.1.lists.example.org=fail (message has been altered)"
        ],
    }


def test_parse_stdin() -> None:
    p = run("parse", "-", stdin=SEED.read_bytes())
    assert p.returncode == 0
    assert "Message-ID: 4B94D336.7030504@firstpr.com.au" in p.stdout


def make_mbox(path: Path, count: int) -> None:
    box = mp.Mbox(path)
    raw = (CORPUS / "seed" / "hello-world.eml").read_bytes()
    for i in range(count):
        box.add(
            raw.replace(b"Subject: Hello", f"Subject: Hello {i}".encode()),
            sender="bob@example.com",
            date=0,
        )


def test_parse_mbox_and_maildir(tmp_path: Path) -> None:
    make_mbox(tmp_path / "inbox", 25)
    p = run("parse", str(tmp_path / "inbox"))
    assert (p.returncode, p.stderr) == (0, "")
    lines = p.stdout.splitlines()
    assert len(lines) == 26
    assert lines[0].startswith("0\t2010-03-08 19:55  Bob@machine.example             Hello 0")
    assert lines[0].endswith("Hello 0")
    assert lines[-1] == f"25 messages, 0 with defects (mbox {tmp_path / 'inbox'})"
    p = run("parse", "--json", str(tmp_path / "inbox"))
    records = [json.loads(line) for line in p.stdout.splitlines()]
    assert [r["key"] for r in records] == list(range(25))
    assert records[24]["subject"] == "Hello 24"
    md = mp.Maildir(tmp_path / "Maildir")
    key = md.add(SEED.read_bytes())
    p = run("parse", str(tmp_path / "Maildir"))
    assert p.returncode == 0
    assert p.stdout.splitlines()[0].startswith(f"{key}\t2010-03-08 21:36")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("parse", "/nonexistent/x.eml"),
            "mailprims parse: error: /nonexistent/x.eml: No such file or directory",
        ),
        (
            ("trace", "/nonexistent/x.eml"),
            "mailprims trace: error: /nonexistent/x.eml: No such file or directory",
        ),
    ],
)
def test_missing_file(args: tuple[str, ...], message: str) -> None:
    p = run(*args)
    assert (p.returncode, p.stdout, p.stderr.strip()) == (1, "", message)


def test_not_a_maildir_and_trace_of_a_mailbox(tmp_path: Path) -> None:
    p = run("parse", str(tmp_path))
    assert p.returncode == 1
    assert (
        p.stderr.strip() == f"mailprims parse: error: {tmp_path}: not a Maildir (no cur/ or new/)"
    )
    make_mbox(tmp_path / "inbox", 2)
    p = run("trace", str(tmp_path / "inbox"))
    assert p.returncode == 1
    assert "trace reads one message, not a mbox" in p.stderr


def test_path_through_a_file(tmp_path: Path) -> None:
    # ENOTDIR, an error that root gets too.
    path = tmp_path / "file.eml"
    path.write_bytes(b"Subject: x\r\n\r\n")
    p = run("parse", str(path / "x"))
    assert (p.returncode, p.stderr.strip()) == (
        1,
        f"mailprims parse: error: {path / 'x'}: Not a directory",
    )


def test_format_option(tmp_path: Path) -> None:
    # A message saved with an mbox From_ line (CPython's msg_25.txt has one) is a one-message
    # mbox by default; --format message reads it as one message.
    path = tmp_path / "saved.eml"
    path.write_bytes(b"From MAILER-DAEMON Fri Apr 06 16:46:09 2001\n" + SEED.read_bytes())
    p = run("parse", str(path))
    assert p.stdout.splitlines()[-1] == f"1 message, 0 with defects (mbox {path})"
    p = run("parse", "--format", "message", str(path))
    assert p.stdout.startswith("From:       Robin Whittle <rw@firstpr.com.au>\n")
    assert 'invalid-header-line: an mbox "From " line precedes the headers' in p.stdout
    p = run("parse", "--format", "maildir", str(path))
    assert (p.returncode, p.stderr.strip()) == (
        1,
        f"mailprims parse: error: {path}: not a Maildir (no cur/ or new/)",
    )
    assert run("parse", "--format", "mbox", "-", stdin=b"").returncode == 1
    assert run("parse", "--format", "nonsense", str(path)).returncode == 2


def test_usage_errors_exit_2() -> None:
    p = run("parse")
    assert p.returncode == 2
    assert "the following arguments are required: FILE" in p.stderr
    assert run("parse", "--bogus", str(SEED)).returncode == 2
    assert run().returncode == 2


def test_trace_table_and_json() -> None:
    p = run("trace", str(SEED))
    assert p.returncode == 0
    assert p.stdout == str(mp.Message.parse_file(SEED).trace()) + "\n"
    p = run("trace", "--json", str(SEED))
    data = json.loads(p.stdout)
    assert [h["delay_seconds"] for h in data["hops"]] == [None, -2.0, 1.0, 1.0, 1.0, 13.0, 26.0]
    assert (data["transit_seconds"], data["delivered_after_seconds"]) == (40.0, 39.0)
    assert data["created"] == "2010-03-08T21:36:38+11:00"
    p = run("trace", "-", stdin=b"Subject: local\r\n\r\nbody\r\n")
    assert (p.returncode, p.stdout) == (0, "no Received fields\n")


def test_broken_pipe_is_quiet(tmp_path: Path) -> None:
    make_mbox(tmp_path / "inbox", 3000)
    with subprocess.Popen(
        [sys.executable, "-m", "mailprims", "parse", str(tmp_path / "inbox")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.readline()
        proc.stdout.close()
        err = proc.stderr.read()
        # 141: 128 + SIGPIPE, what a shell reports for `cat big | head` (0 if it finished).
        assert proc.wait(timeout=TIMEOUT) in (0, 141)
    assert first.startswith(b"0\t")
    assert b"Traceback" not in err and err == b""


def test_progress_on_a_terminal(tmp_path: Path) -> None:
    """Standard error on a pseudo-terminal: the progress line is drawn and erased;
    standard output (a pipe) stays clean."""
    make_mbox(tmp_path / "inbox", 200)
    controller, terminal = pty.openpty()
    try:
        with subprocess.Popen(
            [sys.executable, "-m", "mailprims", "parse", str(tmp_path / "inbox")],
            stdout=subprocess.PIPE,
            stderr=terminal,
        ) as proc:
            os.close(terminal)
            out, _ = proc.communicate(timeout=TIMEOUT)
        seen = b""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.5)
            if not ready:
                break
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal's other end closed
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(controller)
    assert proc.returncode == 0
    assert len(out.splitlines()) == 201 and b"parsing" not in out
    assert b"parsing" in seen and b"200" in seen
    assert b"\r" in seen


def test_no_progress_without_a_terminal(tmp_path: Path) -> None:
    make_mbox(tmp_path / "inbox", 50)
    p = run("parse", str(tmp_path / "inbox"))
    assert p.stderr == ""


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_line() -> None:
    stream = FakeTerminal()
    with Progress(3, "parsing inbox", stream=stream, use_tqdm=False) as progress:
        for _ in range(3):
            progress.update()
    # The final count is always drawn, then the line is erased.
    assert stream.getvalue().endswith("\rparsing inbox: 3/3 (100%)\x1b[K\r\x1b[K")
    assert progress.count == 3
    quiet = io.StringIO()
    with Progress(3, "x", stream=quiet) as progress:
        progress.update(3)
    assert quiet.getvalue() == ""
    unknown = FakeTerminal()
    with Progress(None, "fetching", stream=unknown, use_tqdm=False) as progress:
        progress.update(7)
    assert "fetching: 7" in unknown.getvalue()


def test_console_script() -> None:
    script = Path(sys.executable).parent / "mailprims"
    if not script.exists():
        pytest.skip("the package is not installed with its console script here")
    p = subprocess.run(
        [str(script), "trace", str(SEED)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert p.returncode == 0
    assert p.stdout.splitlines()[0].split()[:3] == ["Hop", "Delay", "From"]
