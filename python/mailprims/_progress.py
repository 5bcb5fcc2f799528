"""What the command line shares: the progress line for long work, and the error a command
reports on standard error."""

from __future__ import annotations

import importlib
import re
import sys
import time
from typing import Any, TextIO

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_USAGE",
    "CommandError",
    "Progress",
    "cli_words",
]

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


# The library's advice in Python keywords, and the command line's flags for the same thing;
# advice with no flag (tls_hostname=) is dropped.
_CLI_WORDS = [
    (re.compile(r", or pass tls_hostname= with that name"), ""),
    (
        re.compile(r"""\btls=(['"])(starttls|implicit|auto|none)\1 or \1(starttls|implicit)\1"""),
        r"--tls \2 or --tls \3",
    ),
    (re.compile(r"""\btls=(['"])(starttls|implicit|auto|none)\1"""), r"--tls \2"),
    (re.compile(r"\bcafile="), "--cafile FILE"),
    (re.compile(r"\bverify=False\b"), "--no-verify"),
    (re.compile(r"\ballow_insecure_auth=True\b"), "--allow-insecure-auth"),
    (re.compile(r"\bAPOP\b(?=, or --allow)"), "--apop"),
]


def cli_words(message: str) -> str:
    """``message`` with the Python keywords it suggests (``cafile=``, ``tls='starttls'``,
    ``verify=False``, ``allow_insecure_auth=True``) replaced by the command line's flags."""
    for pattern, replacement in _CLI_WORDS:
        message = pattern.sub(replacement, message)
    return message


class CommandError(Exception):
    """A failure reported as one line on standard error (exit status 1, or ``status``)."""

    def __init__(self, message: str, status: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.status = status


class Progress:
    """A progress line on ``stream`` (standard error) while long work runs, only when the
    stream is a terminal: tqdm's bar when tqdm is installed, else
    ``description: 12/340 (4%), 1.2 MB`` redrawn at most ten times a second and erased at
    the end. Nothing otherwise, so pipes and logs stay clean."""

    def __init__(
        self,
        total: int | None,
        description: str,
        *,
        stream: TextIO | None = None,
        use_tqdm: bool | None = None,
    ) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.total = total
        self.description = description
        self.count = 0
        self.octets = 0
        self._last = 0.0
        self._drawn = False
        self._tqdm: Any = None
        isatty = getattr(self.stream, "isatty", None)
        self.enabled = bool(isatty and isatty())
        if self.enabled and use_tqdm is not False:
            try:
                tqdm = importlib.import_module("tqdm").tqdm
            except ImportError:
                if use_tqdm:
                    raise
            else:
                self._tqdm = tqdm(total=total, desc=description, unit="msg", file=self.stream)

    def update(self, n: int = 1, *, octets: int = 0) -> None:
        """Count ``n`` more items done (``octets`` more bytes)."""
        self.count += n
        self.octets += octets
        if not self.enabled:
            return
        if self._tqdm is not None:
            self._tqdm.update(n)
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
        """Erase the line (or close the tqdm bar)."""
        if self._tqdm is not None:
            self._tqdm.close()
            self._tqdm = None
        elif self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
