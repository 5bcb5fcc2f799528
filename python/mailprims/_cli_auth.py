"""The e-mail authentication commands: ``mailprims verify FILE...`` and ``mailprims dkim
keygen|sign``.

``verify`` checks each message's DKIM signatures, ARC chain and DMARC (and SPF with
``--ip``) and prints one line per check; exit status 0 when every message passed (DMARC, or
a DKIM signature without a DMARC policy), 3 when one did not, 1 on errors.
``dkim keygen`` writes a new private key (mode 0600, never over an existing file) and
prints the TXT record to publish; ``dkim sign`` prints the message with a DKIM-Signature.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, TextIO

import mailprims as mp
from mailprims._progress import CommandError
from mailprims.auth import DkimKey, DkimSigner, Verifier

__all__ = ["add_commands"]


def _read_message(path: str) -> mp.Message:
    if path == "-":
        return mp.Message.parse(sys.stdin.buffer.read())
    try:
        return mp.Message.parse_file(path)
    except OSError as e:
        raise CommandError(f"{path}: {e.strerror or e}") from e


def _verifier(args: argparse.Namespace) -> Verifier:
    try:
        return Verifier(
            nameservers=args.nameserver or None,
            timeout=args.timeout,
            dns_timeout=min(args.timeout, 2.0),
        )
    except mp.AuthError as e:
        raise CommandError(str(e)) from e


def _lines(report: mp.auth.AuthReport) -> list[str]:
    out = []
    for d in report.dkim:
        line = f"  dkim   {d.result:<9} d={d.domain} s={d.selector} a={d.algorithm}"
        out.append(line + (f" ({d.reason})" if d.reason else ""))
    if not report.dkim:
        out.append("  dkim   none      no DKIM-Signature")
    if report.dkim_skipped:
        out.append(f"  dkim   ({report.dkim_skipped} more signatures not checked)")
    s = report.spf
    if s is not None:
        who = s.sender if s.identity == "mailfrom" else s.domain
        detail = s.explanation or s.reason
        out.append(
            f"  spf    {s.result:<9} {s.identity}={who} ip={s.ip}"
            + (f" ({detail})" if detail else "")
        )
    m = report.dmarc
    line = f"  dmarc  {m.result:<9} from={m.domain}"
    if m.applied_policy:
        line += f" p={m.applied_policy} pct={m.pct} disposition={m.disposition}"
    out.append(line + (f" ({m.reason})" if m.reason else ""))
    a = report.arc
    line = f"  arc    {a.result:<9} {a.instances} set(s)"
    out.append(line + (f" ({a.reason})" if a.reason else ""))
    return out


def cmd_verify(args: argparse.Namespace, out: TextIO) -> int:
    verifier = _verifier(args)
    failed = 0
    for path in args.files:
        msg = _read_message(path)
        report = verifier.verify(msg, ip=args.ip, helo=args.helo, mail_from=args.mail_from)
        failed += not report.passed
        if args.json:
            out.write(json.dumps({"file": path, **report.to_dict()}) + "\n")
            continue
        verdict = "pass" if report.passed else "FAIL"
        out.write(f"{path}: {verdict}\n")
        for line in _lines(report):
            out.write(line + "\n")
        if args.authserv_id:
            out.write(report.header(args.authserv_id) + "\n")
    return 3 if failed else 0


def cmd_keygen(args: argparse.Namespace, out: TextIO) -> int:
    path = args.out or f"{args.selector}.private.pem"
    try:
        key = DkimKey.generate(args.type, bits=args.bits if args.type == "rsa" else None)
    except mp.AuthError as e:
        raise CommandError(str(e)) from e
    try:
        # Private keys are for their owner only, and never replace another key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as e:
        raise CommandError(f"{path}: exists; not overwriting a key") from e
    except OSError as e:
        raise CommandError(f"{path}: {e.strerror or e}") from e
    with os.fdopen(fd, "w") as f:
        f.write(key.private_pem())
    out.write(f"; private key ({key.algorithm}, {key.bits} bits) written to {path}\n")
    out.write(key.dns_record(args.selector, args.domain) + "\n")
    return 0


def cmd_sign(args: argparse.Namespace, out: TextIO) -> int:
    try:
        key = DkimKey.load(_read_key(args.key))
        signer = DkimSigner(
            args.domain,
            args.selector,
            key,
            headers=args.headers,
            canonicalization=args.canonicalization,
        )
        signed = signer.sign(_read_message(args.file))
    except mp.AuthError as e:
        raise CommandError(str(e)) from e
    binary = getattr(out, "buffer", None)
    if binary is not None:
        out.flush()
        binary.write(bytes(signed))
        binary.flush()
    else:
        out.write(bytes(signed).decode("utf-8", "surrogateescape"))
    return 0


def _read_key(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise CommandError(f"{path}: {e.strerror or e}") from e


def add_commands(sub: Any) -> None:
    """Add ``verify`` and ``dkim`` to the command line's subparsers."""
    v = sub.add_parser(
        "verify",
        help="check DKIM, ARC, SPF and DMARC of messages",
        description="Check each message's DKIM signatures, ARC chain and DMARC policy (and "
        "SPF with --ip). Exit status: 0 when every message passed, 3 when one did not.",
    )
    v.add_argument("files", metavar="FILE", nargs="+", help="message files (- for stdin)")
    v.add_argument("--ip", help="the client address the message came from (enables SPF)")
    v.add_argument("--helo", help="the name the client gave in HELO/EHLO")
    v.add_argument("--mail-from", dest="mail_from", help="the MAIL FROM address")
    v.add_argument(
        "--nameserver",
        action="append",
        metavar="ADDR",
        help="DNS server to ask (IP or IP:PORT; repeatable; default: the system's)",
    )
    v.add_argument("--timeout", type=float, default=10.0, help="seconds per message (10)")
    v.add_argument(
        "--authserv-id", metavar="HOST", help="also print the Authentication-Results field"
    )
    v.add_argument("--json", action="store_true", help="one JSON object per message")
    v.set_defaults(handler=cmd_verify)

    d = sub.add_parser("dkim", help="DKIM keys and signing (keygen, sign)")
    dsub = d.add_subparsers(dest="dkim_command", metavar="command", required=True)
    k = dsub.add_parser(
        "keygen",
        help="make a key and print the DNS record to publish",
        description="Write a new DKIM private key (PEM, mode 0600) and print its TXT record.",
    )
    k.add_argument("--type", choices=("rsa", "ed25519"), default="rsa")
    k.add_argument("--bits", type=int, default=2048, help="RSA key size (2048)")
    k.add_argument("--selector", required=True, help="the s= selector, e.g. 2026")
    k.add_argument("--domain", required=True, help="the d= domain")
    k.add_argument("--out", metavar="FILE", help="key file (default: SELECTOR.private.pem)")
    k.set_defaults(handler=cmd_keygen)
    s = dsub.add_parser(
        "sign",
        help="print a message with a DKIM-Signature",
        description="Sign FILE (- for stdin) and write the signed message to stdout.",
    )
    s.add_argument("file", metavar="FILE")
    s.add_argument("--key", required=True, metavar="PEM", help="private key file")
    s.add_argument("--domain", required=True)
    s.add_argument("--selector", required=True)
    s.add_argument("--canonicalization", default="relaxed/relaxed")
    s.add_argument(
        "--headers", metavar="A:B:C", help="fields to sign (default: the recommended list)"
    )
    s.set_defaults(handler=cmd_sign)
