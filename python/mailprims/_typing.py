"""Type aliases shared by the package (not public API)."""

from __future__ import annotations

import sys
from typing import TypeAlias

if sys.version_info >= (3, 12):
    from collections.abc import Buffer
else:  # pragma: no cover - depends on the interpreter
    Buffer: TypeAlias = bytes | bytearray | memoryview

__all__ = ["Buffer"]
