"""Issue 12, parsing: one figure per item, run before and after the fixes.

Usage: ``python benches/parsing_hardening.py [--quick]``. Prints one line per item: what
mailprims reads from the case, what is right (the stdlib with ``policy.default``, RFC 2045 /
2047 / 2231 / 5322, or common mail clients, as each line says), and for items 9 and 10 the
time and memory figures. Not part of ``make bench`` (it is a before/after record, not a
side-by-side ratio); the regression tests live in tests/test_message_hardening.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import mailprims as mp

QUICK = "--quick" in sys.argv


def parse(data: bytes) -> mp.Message:
    return mp.Message.parse(data)


def line(item: str, got: object, right: object) -> None:
    mark = "ok " if got == right else "BAD"
    print(f"{mark} {item}: got {got!r}; right {right!r}", flush=True)


def item1() -> None:
    # A boundary folded right after its "=" (and one just before it), and a file name.
    after = (
        b'Content-Type: multipart/mixed; boundary=\r\n "XX"\r\n\r\n'
        b"--XX\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
        b"--XX\r\nContent-Type: application/pdf; name=\r\n a.pdf\r\n"
        b'Content-Disposition: attachment; filename=\r\n\t"report.pdf"\r\n\r\nJVBE\r\n'
        b"--XX--\r\n"
    )
    m = parse(after)
    line(
        "1 fold after '=': parts, filename",
        ([p.content_type.mime_type for p in m.walk()], [a.filename for a in m.attachments]),
        (["multipart/mixed", "text/plain", "application/pdf"], ["report.pdf"]),
    )
    before = b"Content-Type: multipart/mixed; boundary\r\n =XX\r\n\r\n--XX\r\n\r\na\r\n--XX--\r\n"
    line("1 fold before '=': boundary", parse(before).content_type.params.get("boundary"), "XX")


def item2() -> None:
    data = (
        b"From: a@example.com\r\nSubject: outer\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: message/rfc822\r\n\r\n"
        b"From someone@example.org Mon Jun 10 14:00:00 2024\r\n"
        b"From: inner@example.org\r\nSubject: inner\r\n\r\nbody\r\n"
    )
    inner = parse(data).parts[0].message if parse(data).parts else parse(data).root.message
    got = None if inner is None else (inner.subject, [a.email for a in inner.from_])
    line("2 rfc822 body after mbox From_ line", got, ("inner", ["inner@example.org"]))


def item3() -> None:
    got = [
        parse(b"Subject: =?iso-8859-1?Q?caf\xe9?=\r\n\r\n").subject,
        parse(b"Subject: =?koi8-r?Q?\xf0\xd2\xc9?=\r\n\r\n").subject,
    ]
    line("3 raw 8-bit in a legacy-charset encoded word (stdlib)", got, ["café", "При"])


def item4() -> None:
    m = parse(b"Subject: =?utf-7?B?SGkgK0FPay0=?=\r\n\r\n")
    line("4 UTF-7 encoded word (stdlib)", m.subject, "Hi é")


def item5() -> None:
    def emails(v: bytes) -> list[tuple[str, str]]:
        m = parse(b"To: " + v + b"\r\n\r\n")
        return [(a.name, a.email) for a in m.to]

    got = {
        "a@b.example c@d.example": emails(b"a@b.example c@d.example"),
        "a@b.example Bob <c@d.example>": emails(b"a@b.example Bob <c@d.example>"),
        "Ann Bee <a@b.example> Cy Dee <c@d.example>": emails(
            b"Ann Bee <a@b.example> Cy Dee <c@d.example>"
        ),
    }
    right = {
        "a@b.example c@d.example": [("", "a@b.example"), ("", "c@d.example")],
        "a@b.example Bob <c@d.example>": [("", "a@b.example"), ("Bob", "c@d.example")],
        "Ann Bee <a@b.example> Cy Dee <c@d.example>": [
            ("Ann Bee", "a@b.example"),
            ("Cy Dee", "c@d.example"),
        ],
    }
    line("5 addresses without commas (getaddresses, MUAs)", got, right)
    defects = [
        d.kind for d in parse(b"From: x@y.example\r\nTo: a@b.example c@d.example\r\n\r\n").defects
    ]
    line("5 ... with a defect", "invalid-address" in defects, True)


def item6() -> None:
    got = {}
    for zone in ("EST", "est", "Est", "pdt", "gmt", "ut"):
        d = parse(b"Date: Fri, 21 Nov 1997 09:55:06 " + zone.encode() + b"\r\n\r\n").date
        got[zone] = None if d is None else d.utcoffset().total_seconds() / 3600
    right = {"EST": -5, "est": -5, "Est": -5, "pdt": -7, "gmt": 0, "ut": 0}
    line("6 obsolete zone names in any case (stdlib)", got, right)


def item7() -> None:
    m = parse(b"From: John@Home <john@example.com>\r\n\r\n")
    line(
        "7 unquoted @ in a display name (MUAs)",
        [(a.name, a.email) for a in m.from_],
        [("John@Home", "john@example.com")],
    )


def item8() -> None:
    m = parse("Subject: café naïve ".encode() + b"\xff x\r\n\r\n")
    line("8 UTF-8 header with one bad byte (stdlib)", m.subject, "café naïve \ufffd x")


HEAD = "Content-Type: text/plain\r\nContent-Disposition: "


def item9() -> None:
    def continuation(n: int) -> bytes:
        segs = "".join(f";\r\n filename*{i}*=%41%42%43" for i in range(n))
        return f"{HEAD}attachment{segs}\r\n\r\nx\r\n".encode()

    def plain(n: int) -> bytes:
        segs = "".join(f";\r\n x-p{i}=%41%42%43" for i in range(n))
        return f"{HEAD}attachment{segs}\r\n\r\nx\r\n".encode()

    sizes = (25_000, 100_000) if QUICK else (100_000, 400_000)
    times = {}
    for kind, make in (("rfc2231", continuation), ("plain", plain)):
        for n in sizes:
            data = make(n)
            best = float("inf")
            for _ in range(3):
                t0 = time.perf_counter()
                m = parse(data)
                name = m.root.filename
                best = min(best, time.perf_counter() - t0)
                del m
            times[(kind, n)] = best
            if kind == "rfc2231":
                assert name == "ABC" * n, (len(name or ""), n)
            print(
                f"    9 {kind} {n} segments ({len(data) / 1e6:.1f} MB): {times[(kind, n)]:.3f} s",
                flush=True,
            )
    a, b = sizes
    growth = times[("rfc2231", b)] / times[("rfc2231", a)]
    line(
        f"9 RFC 2231: time ratio {b}/{a} segments (linear: ~{b // a})",
        round(growth, 1) <= 1.5 * b / a,
        True,
    )
    print(
        f"    9 rfc2231 / plain at {b}: {times[('rfc2231', b)] / times[('plain', b)]:.1f}x",
        flush=True,
    )


CHILD = r"""
import json, sys
import mailprims as mp

def status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024

base = status("VmRSS")
with open(sys.argv[1], "rb") as f:
    data = f.read()
msg = mp.Message.parse(data)
for part in msg.walk():
    part.payload
print(json.dumps({"size": len(data), "base": base, "peak": status("VmHWM")}))
"""


def item10() -> None:
    import tempfile

    size = (8 if QUICK else 32) << 20
    depth = 50
    leaf = (b"x" * 76 + b"\r\n") * (size // 78)
    data = b"Subject: leaf\r\n\r\n" + leaf
    for i in range(depth):
        data = (
            b"Subject: level %d\r\nMIME-Version: 1.0\r\nContent-Type: message/rfc822\r\n\r\n" % i
            + data
        )
    with tempfile.NamedTemporaryFile(suffix=".eml") as f:
        f.write(data)
        f.flush()
        del data
        out = subprocess.run(
            [sys.executable, "-c", CHILD, f.name], capture_output=True, text=True, check=True
        )
    r = json.loads(out.stdout)
    ratio = (r["peak"] - r["base"]) / r["size"]
    print(
        f"    10 {depth} nested message/rfc822 levels, {r['size'] / 2**20:.0f} MiB: peak "
        f"{(r['peak'] - r['base']) / 2**20:.0f} MiB above the interpreter = {ratio:.1f}x the input",
        flush=True,
    )
    line("10 memory within a small multiple of the input (<= 3x)", ratio <= 3, True)


if __name__ == "__main__":
    for f in (item1, item2, item3, item4, item5, item6, item7, item8, item9, item10):
        try:
            f()
        except Exception as e:  # a before/after record: report and go on
            print(f"ERR {f.__name__}: {type(e).__name__}: {e}", flush=True)
