"""Seed the fuzz corpora (fuzz/corpus/<target>/) from tests/corpus and protocol examples.

Run once before a long fuzzing run on a fresh checkout (``make fuzz-long`` does): header
values of every corpus message go to the header-grammar targets, and command and reply lines
from RFC 5321 / RFC 1939 examples to the protocol targets. Seeds are named by their SHA-1,
as libFuzzer names what it adds, so running this again adds nothing twice.
"""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "fuzz" / "corpus"

SMTP_COMMANDS = [
    b"EHLO client.example.org",
    b"HELO [192.0.2.1]",
    b"MAIL FROM:<alice@example.org> SIZE=1000 BODY=8BITMIME",
    b"MAIL FROM:<> RET=HDRS ENVID=QQ314159",
    b'RCPT TO:<"john doe"@example.com> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+2Bb@x.org',
    b"RCPT TO:<@a.example,@b.example:user@c.example>",
    b"RCPT TO:<postmaster>",
    b"MAIL FROM:<j\xc3\xb6rg@b\xc3\xbccher.example> SMTPUTF8",
    b"DATA",
    b"BDAT 1000 LAST",
    b"RSET",
    b"NOOP x",
    b"QUIT",
    b"VRFY Smith",
    b"EXPN staff",
    b"HELP MAIL",
    b"STARTTLS",
    b"AUTH PLAIN AGFsaWNlAHNlY3JldA==",
    b"AUTH LOGIN",
    b"mail from: <a@b.example>",
]
SMTP_REPLIES = [
    b"220 mx.example.org ESMTP ready",
    b"250-mx.example.org Hello\r\n250-SIZE 35882577\r\n250-8BITMIME\r\n250-PIPELINING\r\n"
    b"250-AUTH PLAIN LOGIN CRAM-MD5\r\n250-ENHANCEDSTATUSCODES\r\n250-CHUNKING\r\n250 SMTPUTF8",
    b"250 2.1.0 Ok",
    b"550-5.1.1 The email account that you tried to reach does not exist.\r\n550 5.1.1 try again",
    b"354 End data with <CR><LF>.<CR><LF>",
    b"421 4.3.2 Service not available",
    b"334 VXNlcm5hbWU6",
]
POP3_COMMANDS = [
    b"USER mrose",
    b"PASS secret",
    b"APOP mrose c4c9334bac560ecc979e58001b3e22fb",
    b"AUTH PLAIN AGFsaWNlAHNlY3JldA==",
    b"AUTH",
    b"STLS",
    b"CAPA",
    b"STAT",
    b"LIST",
    b"LIST 2",
    b"RETR 1",
    b"DELE 1",
    b"TOP 1 10",
    b"UIDL",
    b"UIDL 3",
    b"NOOP",
    b"RSET",
    b"QUIT",
    b"USER\x01a b\x01c",
]
POP3_RESPONSES = [
    b"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>",
    b"-ERR [IN-USE] Do you have another POP session running?",
    b"-ERR [SYS/TEMP] try later",
    b"+ ",
    b"+OK 2 messages (320 octets)",
    b"Subject: x\n\n.line with a dot\n..two\nlast without end",
    b"a\r\n.\r\nb\rc\n\r\n.",
]


def header_values(raw: bytes) -> list[tuple[str, bytes]]:
    head = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[0]
    fields = re.split(rb"\r?\n(?![ \t])", head)
    out = []
    for f in fields:
        name, sep, value = f.partition(b":")
        if sep:
            out.append((name.strip().decode("latin-1").lower(), value))
    return out


def main() -> int:
    seeds: dict[str, set[bytes]] = {
        t: set()
        for t in ("addresses", "dates", "encoded_words", "params")
    }
    seeds["smtp_command"] = set(SMTP_COMMANDS)
    seeds["smtp_reply"] = set(SMTP_REPLIES)
    seeds["pop3_command"] = set(POP3_COMMANDS)
    seeds["pop3_response"] = set(POP3_RESPONSES)
    for path in sorted((ROOT / "tests" / "corpus").glob("*/*.eml")):
        raw = path.read_bytes()
        seeds["pop3_response"].add(raw[:2048])
        for name, value in header_values(raw):
            if name in ("from", "to", "cc", "bcc", "reply-to", "sender"):
                seeds["addresses"].add(value)
            if name in ("date", "received", "resent-date"):
                seeds["dates"].add(value.rsplit(b";", 1)[-1])
            if b"=?" in value or name == "subject":
                seeds["encoded_words"].add(value)
            if name in ("content-type", "content-disposition"):
                seeds["params"].add(value)
    added = 0
    for target, values in seeds.items():
        d = OUT / target
        d.mkdir(parents=True, exist_ok=True)
        for v in values:
            f = d / hashlib.sha1(v).hexdigest()
            if not f.exists():
                f.write_bytes(v)
                added += 1
    print(f"added {added} seeds under {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
