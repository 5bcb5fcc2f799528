"""What every client wrapper (SMTP, POP3, and the next) is built from; a new client adds its
own methods and copies none of this. The Rust half is described in ``src/python/client.rs``.

**Options.** The public constructor, written once per protocol in the protocol's base class,
turns its keyword arguments into one frozen :class:`ClientOptions` (a protocol with options
of its own subclasses it) with :meth:`ClientOptions.of`, and passes that to the Rust core
together with ``blocking``. The core reads the options by attribute name. The signature is
the one place a constructor writes its keywords: it hands them on by name with
:func:`arguments` (``ClientOptions.of(**arguments(locals()), ports=...)``), and ``of``
refuses a missing or unknown one with ``TypeError``.

**Sync and async.** ``XClient`` and ``AsyncXClient`` derive from one ``_XBase(ClientBase)`` that
makes ``self._core``; they differ in :attr:`ClientBase._blocking` and in ``await``. A core made
with ``blocking=True`` returns each operation's value, one made with ``blocking=False`` an
awaitable of it::

    class ImapClient(_ImapBase):            class AsyncImapClient(_ImapBase):
        _blocking = True                        _blocking = False

        def noop(self) -> str:                  async def noop(self) -> str:
            return self._core.noop()                return await self._core.noop()

**Shared.** :class:`ClientBase` gives every client ``host``, ``port``, :attr:`transcript` and
:meth:`clear_transcript`; :class:`SessionClientBase` adds what a client of one connection
(IMAP, POP3) reads from its core's ``info()``: ``connected``, ``welcome``, ``tls_version``.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

__all__ = ["ClientBase", "ClientOptions", "SessionClientBase", "arguments", "tls_mode"]

_O = TypeVar("_O", bound="ClientOptions")


def tls_mode(tls: str, port: int, implicit_port: int) -> str:
    """The core's TLS mode for ``tls=``: ``"auto"`` is implicit TLS on the protocol's TLS
    port (465 for SMTP, 995 for POP3) and STARTTLS/STLS when offered elsewhere."""
    if tls == "auto":
        return "implicit" if port == implicit_port else "opportunistic"
    if tls in ("starttls", "implicit", "none"):
        return tls
    raise ValueError(f"tls must be 'auto', 'starttls', 'implicit' or 'none', not {tls!r}")


def _cadata(cafile: str | os.PathLike[str] | None, cadata: str | bytes | None) -> bytes | None:
    """The PEM trust anchors from ``cafile=`` or ``cadata=`` (at most one of them)."""
    if cafile is not None and cadata is not None:
        raise ValueError("give cafile or cadata, not both")
    if cafile is not None:
        return pathlib.Path(cafile).read_bytes()
    if isinstance(cadata, str):
        return cadata.encode()
    return cadata


def arguments(given: dict[str, Any]) -> dict[str, Any]:
    """A constructor's arguments by name, from ``locals()`` taken first thing in its
    ``__init__`` (``self`` left out), to hand on unchanged to :meth:`ClientOptions.of`."""
    return {name: value for name, value in given.items() if name not in ("self", "__class__")}


def seconds(value: float | None) -> float | None:
    """A timeout as the core takes it (the core checks that it is positive)."""
    return None if value is None else float(value)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ClientOptions:
    """How a client connects: what the Rust core's ``ClientOptions`` reads (each field by
    name), already checked and resolved (``tls`` is the core's mode, ``cadata`` PEM bytes)."""

    host: str
    port: int
    tls: str
    cadata: bytes | None
    verify: bool
    tls_hostname: str | None
    allow_insecure_auth: bool
    timeout: float | None
    connect_timeout: float | None
    transcript: bool

    @classmethod
    def of(
        cls: type[_O],
        host: str,
        port: int | None,
        *,
        ports: tuple[int, int],
        tls: str,
        cafile: str | os.PathLike[str] | None,
        cadata: str | bytes | None,
        verify: bool,
        tls_hostname: str | None,
        allow_insecure_auth: bool,
        timeout: float | None,
        connect_timeout: float | None,
        transcript: bool,
        **protocol_fields: Any,
    ) -> _O:
        """The options a client constructor's arguments give: ``ports`` are the protocol's
        plain and implicit-TLS ports (``port=None`` is the one ``tls`` asks for, and
        ``tls="auto"`` is resolved by them), ``cafile`` read, timeouts as floats;
        ``protocol_fields`` are the subclass's own fields, as they are."""
        plain_port, implicit_port = ports
        if port is None:
            port = implicit_port if tls == "implicit" else plain_port
        return cls(
            host=host,
            port=port,
            tls=tls_mode(tls, port, implicit_port),
            cadata=_cadata(cafile, cadata),
            verify=verify,
            tls_hostname=tls_hostname,
            allow_insecure_auth=allow_insecure_auth,
            timeout=seconds(timeout),
            connect_timeout=seconds(connect_timeout),
            transcript=transcript,
            **protocol_fields,
        )


class ClientBase:
    """What every client object has; ``_core`` is the protocol's Rust core."""

    _core: Any
    #: The sync client's core returns values, the async client's awaitables.
    _blocking: ClassVar[bool]
    host: str
    port: int

    def _start(self, core: Callable[[ClientOptions, bool], Any], options: ClientOptions) -> None:
        """Make the protocol's Rust core for ``options``, sync or async as the class is."""
        self.host = options.host
        self.port = options.port
        self._core = core(options, self._blocking)

    @property
    def transcript(self) -> list[tuple[str, str]]:
        """With ``transcript=True``: every line sent (``"C"``) and received (``"S"``) so far,
        on every connection, as ``(direction, line)`` pairs without line ends, message data
        included (dot-stuffed, as on the wire); passwords and AUTH credentials appear as
        ``********``. Empty otherwise."""
        lines: list[tuple[str, str]] = self._core.transcript.lines()
        return lines

    def clear_transcript(self) -> None:
        """Forget the lines recorded so far."""
        self._core.transcript.clear()


class SessionClientBase(ClientBase):
    """A client over one connection, whose core tells its state without waiting (``info()``,
    the protocol's ``SessionInfo``)."""

    def _info(self) -> Any:
        return self._core.info()

    @property
    def connected(self) -> bool:
        """Whether the connection is open."""
        connected: bool = self._info().connected
        return connected

    @property
    def welcome(self) -> str | None:
        """The text of the server's greeting (after POP3's ``+OK``, IMAP's ``* OK``), None
        before connecting."""
        greeting: str | None = self._info().greeting
        return greeting

    @property
    def tls_version(self) -> str | None:
        """The TLS version of the connection (``"TLSv1.3"``), None when unencrypted."""
        version: str | None = self._info().tls_version
        return version
