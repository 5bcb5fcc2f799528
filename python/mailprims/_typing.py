"""Type aliases shared by the package (not public API)."""

from __future__ import annotations

import datetime
import os
import sys
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, TypeAlias, Union

if sys.version_info >= (3, 12):
    from collections.abc import Buffer
else:  # pragma: no cover - depends on the interpreter
    Buffer: TypeAlias = bytes | bytearray | memoryview

if TYPE_CHECKING:
    from mailprims._mailprims import Address, Attachment, Message

# What message building takes: addresses as text or `Address` objects, one or a list;
# header values by field kind; attachments in their several forms.
AddressArg: TypeAlias = Union[str, "Address", Iterable[Union[str, "Address"]]]
HeaderValue: TypeAlias = Union[str, datetime.datetime, "Address", Iterable[Union[str, "Address"]]]
HeadersArg: TypeAlias = Mapping[str, HeaderValue] | Iterable[tuple[str, HeaderValue]]
AttachmentArg: TypeAlias = Union[
    "Attachment",
    "Message",
    tuple[str | None, Union[Buffer, str, "Message"]],
    str,
    "os.PathLike[str]",
]

__all__ = ["AddressArg", "AttachmentArg", "Buffer", "HeaderValue", "HeadersArg"]
