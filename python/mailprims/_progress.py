"""A progress line on standard error for long command-line work, only on a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress"]


class Progress:
    """``description: 12/340 (4%), 1.2 MB`` redrawn at most ten times a second on ``stream``
    (standard error) when it is a terminal, and erased at the end; nothing otherwise, so
    pipes and logs stay clean."""

    def __init__(self, total: int | None, description: str, *, stream: TextIO | None = None):
        self.stream = sys.stderr if stream is None else stream
        self.total = total
        self.description = description
        self.count = 0
        self.octets = 0
        self._last = 0.0
        self._drawn = False
        isatty = getattr(self.stream, "isatty", None)
        self.enabled = bool(isatty and isatty())

    def update(self, n: int = 1, *, octets: int = 0) -> None:
        """Count ``n`` more items done (``octets`` more bytes)."""
        self.count += n
        self.octets += octets
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last >= 0.1 or self.count == self.total:
            self._last = now
            self._draw()

    def _draw(self) -> None:
        line = f"{self.description}: {self.count:,}"
        if self.total:
            line += f"/{self.total:,} ({100 * self.count / self.total:.0f}%)"
        if self.octets:
            line += f", {self.octets / 1e6:.1f} MB"
        self.stream.write("\r" + line + "\x1b[K")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        """Erase the line."""
        if self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
