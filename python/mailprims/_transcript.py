"""Transcripts (``transcript=True`` on the clients) for reading: ``C:``/``S:`` lines as RFC
examples print them, with message data shortened and the start of TLS marked."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

__all__ = ["format_transcript"]

_BDAT = re.compile(r"BDAT (\d+)", re.IGNORECASE)
_FETCH = re.compile(r"(RETR|TOP) ", re.IGNORECASE)


def _clip(line: str, width: int) -> str:
    line = line.expandtabs(4)
    return line if len(line) <= width else line[: width - 3] + "..."


def format_transcript(
    lines: Iterable[tuple[str, str]],
    *,
    data_lines: int = 6,
    width: int = 96,
    tls: str | None = None,
) -> Iterator[str]:
    """``"C: ..."``/``"S: ..."`` lines. Message data (SMTP DATA or BDAT, POP3 RETR or TOP) is
    shown by its first ``data_lines`` lines and a count of the rest; lines are clipped to
    ``width`` characters; after a successful STARTTLS or STLS a note says the rest went
    encrypted (``tls``: the version to name)."""
    lines = list(lines)
    i = 0
    fetches = 0  # RETR/TOP commands sent (maybe pipelined) whose responses are due
    while i < len(lines):
        direction, text = lines[i]
        yield f"{direction}: {_clip(text, width)}"
        i += 1
        end: int | None = None
        if direction == "S" and text.startswith("354"):
            end = _data_end(lines, i, "C")
        elif direction == "C" and (m := _BDAT.match(text)):
            end = _octets_end(lines, i, int(m.group(1)))
        elif direction == "C" and _FETCH.match(text):
            fetches += 1
        elif direction == "S" and fetches:
            fetches -= 1
            if text.startswith("+OK"):
                end = _data_end(lines, i, "S")
        elif direction == "S" and i >= 2 and _starts_tls(lines[i - 2], text):
            yield f"   [TLS handshake{': ' + tls if tls else ''}; the rest is encrypted]"
        if end is not None:
            data = lines[i:end]
            for d, t in data[:data_lines]:
                yield f"{d}: {_clip(t, width)}"
            rest = data[data_lines:]
            if rest:
                octets = sum(len(t.encode()) + 2 for _, t in rest)
                yield f"{rest[0][0]}: [... {len(rest)} more lines, {octets} octets ...]"
            i = end


def _data_end(lines: list[tuple[str, str]], start: int, direction: str) -> int:
    """Index of the ``.`` line ending dot-stuffed data sent by ``direction``."""
    for j in range(start, len(lines)):
        d, t = lines[j]
        if d != direction:
            return j
        if t == ".":
            return j
    return len(lines)


def _octets_end(lines: list[tuple[str, str]], start: int, octets: int) -> int:
    """Index after the lines making up ``octets`` of BDAT data."""
    seen = 0
    j = start
    while j < len(lines) and seen < octets and lines[j][0] == "C":
        seen += len(lines[j][1].encode()) + 2
        j += 1
    return j


def _starts_tls(command: tuple[str, str], reply: str) -> bool:
    direction, text = command
    if direction != "C":
        return False
    verb = text.strip().upper()
    return (verb == "STARTTLS" and reply.startswith("220")) or (
        verb == "STLS" and reply.startswith("+OK")
    )
