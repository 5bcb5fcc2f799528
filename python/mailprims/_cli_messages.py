"""The parsing commands of the command line: ``mailprims parse`` and ``mailprims trace``.

``parse`` reads one message (a file, or ``-`` for standard input), an mbox file (detected by
its ``From `` first line) or a Maildir directory, and prints a summary, or with ``--json``
everything it read (a JSON object for one message, JSON Lines for a mailbox). ``trace``
prints the Received hops table of one message. Errors go to standard error with exit
status 1; usage errors exit with 2 (argparse).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator
from typing import Any, TextIO

import mailprims as mp
from mailprims._progress import CommandError, Progress

# 128 + SIGPIPE (13), as a shell reports a tool that a closed pipe ended.
EXIT_BROKEN_PIPE = 141

__all__ = ["add_commands", "message_to_dict"]


# ---------------------------------------------------------------------------------------
# message data


def _address(a: mp.Address) -> dict[str, Any]:
    return {"name": a.name, "email": a.email, "group": a.group}


def _iso(d: Any) -> str | None:
    return None if d is None else d.isoformat()


def _part_tree(part: mp.Part, depth: int = 0) -> dict[str, Any]:
    node: dict[str, Any] = {
        "type": part.content_type.mime_type,
        "params": part.content_type.params,
        "charset": part.charset,
        "filename": part.filename,
        "disposition": part.disposition,
        "content_id": part.content_id,
        "transfer_encoding": part.transfer_encoding,
    }
    if part.is_multipart:
        node["parts"] = [_part_tree(p, depth + 1) for p in part.parts]
    else:
        node["size"] = len(part.payload)
    inner = part.message
    if inner is not None and depth < 50:
        node["message"] = {
            "subject": inner.subject,
            "from": [_address(a) for a in inner.from_],
            "root": _part_tree(inner.root, depth + 1),
        }
    return node


def message_to_dict(msg: mp.Message) -> dict[str, Any]:
    """Everything ``mailprims parse --json`` prints for a message."""
    trace = msg.trace()
    info = msg.list_info
    return {
        "headers": [[h.name, h.value] for h in msg.headers.fields()],
        "subject": msg.subject,
        "from": [_address(a) for a in msg.from_],
        "sender": [_address(a) for a in msg.sender],
        "to": [_address(a) for a in msg.to],
        "cc": [_address(a) for a in msg.cc],
        "bcc": [_address(a) for a in msg.bcc],
        "reply_to": [_address(a) for a in msg.reply_to],
        "date": _iso(msg.date),
        "message_id": msg.message_id,
        "in_reply_to": msg.in_reply_to,
        "references": msg.references,
        "content_type": msg.content_type.mime_type,
        "size": msg.size,
        "parts": _part_tree(msg.root),
        "attachments": [
            {
                "filename": p.filename,
                "type": p.content_type.mime_type,
                "size": len(p.payload),
            }
            for p in msg.attachments
        ],
        "text": msg.text,
        "html": msg.html,
        "received": trace.to_dicts(),
        "transit_seconds": _seconds(trace.transit_time),
        "authentication_results": [r.to_dict() for r in msg.authentication_results],
        "dkim_signatures": [s.to_dict() for s in msg.dkim_signatures],
        "arc_sets": [s.to_dict() for s in msg.arc_sets],
        "list": None if info is None else info.to_dict(),
        "defects": [
            {"kind": d.kind, "message": d.message, "offset": d.offset} for d in msg.defects
        ],
    }


def _seconds(delta: Any) -> float | None:
    return None if delta is None else delta.total_seconds()


def _addresses(addrs: list[mp.Address]) -> str:
    return ", ".join(str(a) for a in addrs)


def _tree_lines(part: mp.Part, indent: int = 1, depth: int = 0) -> Iterator[str]:
    bits = [part.content_type.mime_type]
    if part.charset:
        bits.append(f"charset={part.charset}")
    if part.filename:
        bits.append(repr(part.filename))
    if part.transfer_encoding:
        bits.append(part.transfer_encoding)
    if not part.is_multipart:
        bits.append(f"({len(part.payload):,} bytes)")
    yield "  " * indent + " ".join(bits)
    for child in part.parts:
        yield from _tree_lines(child, indent + 1, depth + 1)
    inner = part.message
    if inner is not None and depth < 50:
        yield "  " * (indent + 1) + f"message: {inner.subject!r}"
        yield from _tree_lines(inner.root, indent + 2, depth + 1)


def summary_lines(msg: mp.Message) -> Iterator[str]:
    """The human summary of ``mailprims parse``."""
    rows: list[tuple[str, str]] = [
        ("From", _addresses(msg.from_)),
        ("To", _addresses(msg.to)),
    ]
    if msg.cc:
        rows.append(("Cc", _addresses(msg.cc)))
    rows += [
        ("Subject", msg.subject or ""),
        ("Date", _iso(msg.date) or msg.headers.get("Date") or ""),
        ("Message-ID", msg.message_id or ""),
        ("Size", f"{msg.size:,} bytes, {len(msg.headers)} header fields"),
    ]
    if msg.received:
        rows.append(("Received", msg.trace().summary()))
    results = msg.authentication_results
    if results:
        rows.append(("Auth", ", ".join(f"{r.method}={r.result}" for r in results)))
    for sig in msg.dkim_signatures:
        rows.append(("DKIM", f"d={sig.domain} s={sig.selector} a={sig.algorithm}"))
    arc = msg.arc_sets
    if arc:
        rows.append(
            (
                "ARC",
                ", ".join(
                    f"i={s.instance} {s.sealer} cv={s.seal.chain_validation if s.seal else '?'}"
                    for s in arc
                ),
            )
        )
    info = msg.list_info
    if info is not None:
        rows.append(
            ("List", f"{info.id or '?'}" + (" (one-click unsubscribe)" if info.one_click else ""))
        )
    width = max(len(name) for name, _ in rows) + 1
    for name, value in rows:
        yield f"{name + ':':<{width}} {value}"
    yield "Parts:"
    yield from _tree_lines(msg.root)
    defects = msg.defects
    if defects:
        yield f"Defects ({len(defects)}):"
        for d in defects:
            yield f"  {d}"


def _one_line(key: object, msg: mp.Message) -> str:
    date = msg.date.strftime("%Y-%m-%d %H:%M") if msg.date else "-" * 16
    sender = msg.from_[0].email if msg.from_ else ""
    if len(sender) > 30:
        sender = sender[:29] + "…"
    flag = f"  [{len(msg.defects)} defects]" if msg.defects else ""
    return f"{key}\t{date}  {sender:<30}  {msg.subject or ''}{flag}"


# ---------------------------------------------------------------------------------------
# inputs


def _read_input(path: str, kind: str = "auto") -> tuple[str, Any]:
    """``("message", Message)``, ``("mbox", Mbox)`` or ``("maildir", Maildir)``; ``kind``
    ``"auto"`` tells them apart (a directory with ``cur/`` or ``new/``, a file whose first
    line is an mbox ``From `` line, else one message)."""
    if path == "-":
        if kind not in ("auto", "message"):
            raise CommandError(f"standard input is read as one message, not a {kind}")
        return "message", mp.Message.parse(sys.stdin.buffer.read())
    try:
        if kind == "auto" and os.path.isdir(path):
            kind = "maildir"
        if kind == "maildir":
            if not any(os.path.isdir(os.path.join(path, d)) for d in ("cur", "new")):
                raise CommandError(f"{path}: not a Maildir (no cur/ or new/)")
            return "maildir", mp.Maildir(path, create=False)
        if kind == "auto":
            with open(path, "rb") as f:
                kind = "mbox" if f.read(5) == b"From " else "message"
        if kind == "mbox":
            return "mbox", mp.Mbox(path, create=False)
        return "message", mp.Message.parse_file(path)
    except OSError as e:
        raise CommandError(f"{path}: {e.strerror or e}") from e


def _mailbox_items(kind: str, box: Any) -> Iterator[tuple[object, mp.Message]]:
    if kind == "maildir":
        yield from box.items()
    else:
        for index, data in box.items_bytes():
            yield index, mp.Message.parse(data)


# ---------------------------------------------------------------------------------------
# commands


def cmd_parse(args: argparse.Namespace, out: TextIO) -> int:
    kind, obj = _read_input(args.file, args.format)
    if kind == "message":
        if len(obj.headers) == 0 and obj.size:
            # Parsed all the same (as the stdlib would), but likely not what was meant.
            print(
                f"mailprims parse: warning: {args.file} has no header fields: it was read as "
                "a body only (is it a message? a message starts with lines like "
                "'From: ...' and 'Subject: ...')",
                file=sys.stderr,
            )
        if args.json:
            json.dump(message_to_dict(obj), out, indent=2, ensure_ascii=False)
            out.write("\n")
        else:
            for line in summary_lines(obj):
                out.write(line + "\n")
        return 0
    total = len(obj)
    count = defective = 0
    with Progress(total, f"parsing {args.file}") as progress:
        for key, msg in _mailbox_items(kind, obj):
            if args.json:
                record = {"key": key, **message_to_dict(msg)}
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
            else:
                out.write(_one_line(key, msg) + "\n")
            count += 1
            defective += bool(msg.defects)
            progress.update()
    if not args.json:
        noun = "message" if count == 1 else "messages"
        out.write(f"{count:,} {noun}, {defective:,} with defects ({kind} {args.file})\n")
    return 0


def cmd_trace(args: argparse.Namespace, out: TextIO) -> int:
    kind, obj = _read_input(args.file)
    if kind != "message":
        raise CommandError(f"{args.file}: trace reads one message, not a {kind}")
    trace = obj.trace()
    if args.json:
        data = {
            "hops": trace.to_dicts(),
            "created": _iso(trace.created),
            "transit_seconds": _seconds(trace.transit_time),
            "delivered_after_seconds": _seconds(trace.delivered_after),
        }
        json.dump(data, out, indent=2, ensure_ascii=False)
        out.write("\n")
    elif not trace:
        out.write("no Received fields\n")
    else:
        out.write(str(trace) + "\n")
    return 0


def add_commands(sub: Any) -> None:
    """Add ``parse`` and ``trace`` to the command line's subparsers."""
    p = sub.add_parser(
        "parse",
        help="summarise a message, an mbox file or a Maildir (--json: everything)",
        description="Parse FILE (a message, an mbox file or a Maildir directory; - reads a "
        "message from standard input) and print a summary, or everything with --json.",
    )
    p.add_argument("file", metavar="FILE", help="message file, mbox file, Maildir, or -")
    p.add_argument(
        "--json", action="store_true", help="print everything as JSON (JSON Lines for a mailbox)"
    )
    p.add_argument(
        "--format",
        choices=("auto", "message", "mbox", "maildir"),
        default="auto",
        help="what FILE is (default: auto; a file starting with a 'From ' line is an mbox)",
    )
    p.set_defaults(handler=cmd_parse)
    t = sub.add_parser(
        "trace",
        help="the Received hops of a message, with delays",
        description="Print the Received hops of a message (FILE, or - for standard input), "
        "oldest first, with the delay between hops; negative delays mean clock skew.",
    )
    t.add_argument("file", metavar="FILE", help="message file, or -")
    t.add_argument("--json", action="store_true", help="print the hops as JSON")
    t.set_defaults(handler=cmd_trace)


def run(args: argparse.Namespace) -> int:
    """Run a parsing command: errors to standard error with status 1; a closed pipe
    (``mailprims parse big.mbox | head``) ends quietly."""
    try:
        status = int(args.handler(args, sys.stdout))
        # Output smaller than the buffer meets the closed pipe here, not at exit.
        sys.stdout.flush()
        return status
    except CommandError as e:
        print(f"mailprims {args.command}: error: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # Python's documented recipe: point stdout at devnull so the interpreter's final
        # flush does not raise again; the status is a SIGPIPE death's as a shell reports it
        # (what `cat` or `grep` give in `... | head`).
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
