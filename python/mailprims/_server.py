"""The life cycle the SMTP, POP3 and IMAP servers share: start, stop, serve, and what they
report; and :func:`core_arguments`, how a constructor hands its keywords to its Rust core."""

from __future__ import annotations

import os
import pathlib
import socket
from typing import TYPE_CHECKING, Any, TypeVar

from mailprims import _client
from mailprims.events import _callback

if TYPE_CHECKING:
    import asyncio

__all__ = ["ServerBase", "core_arguments", "read_file"]

_S = TypeVar("_S", bound="ServerBase")


def read_file(path: str | os.PathLike[str] | None) -> bytes | None:
    """A server's certificate or key file (``tls_cert``/``tls_key``), or None."""
    return None if path is None else pathlib.Path(path).read_bytes()


def core_arguments(given: dict[str, Any]) -> dict[str, Any]:
    """A server constructor's arguments (``locals()`` taken first thing in its ``__init__``)
    as its Rust core takes them, by name: ``self`` left out, the ``tls_cert``/``tls_key``
    files read, ``hostname`` defaulting to this host's name, ``on_event`` wrapped so that what
    it raises is logged. The core checks the rest and refuses unknown names."""
    arguments = _client.arguments(given)
    arguments.update(
        hostname=arguments["hostname"] or socket.getfqdn(),
        tls_cert=read_file(arguments["tls_cert"]),
        tls_key=read_file(arguments["tls_key"]),
        on_event=_callback(arguments["on_event"]),
    )
    return arguments


class ServerBase:
    _core: Any

    @property
    def host(self) -> str:
        """The address the server listens on."""
        return self._core.host

    @property
    def port(self) -> int:
        """The port the server listens on (known once started)."""
        port = self._core.port
        if port is None:
            raise RuntimeError("the server is not started")
        return port

    @property
    def active_connections(self) -> int:
        """How many connections are open."""
        return self._core.active_connections

    @property
    def events_dropped(self) -> int:
        """Events not handed to ``on_event`` because it fell too far behind."""
        return self._core.events_dropped

    def flush_events(self, timeout: float = 5.0) -> None:
        """Wait (at most ``timeout`` seconds) until the events reported so far have been
        handed to ``on_event`` (not from inside ``on_event`` itself)."""
        self._core.flush_events(timeout)

    def start(self) -> None:
        """Start serving in the background; the server accepts connections on return."""
        self._core.start()

    def stop(self) -> None:
        """Stop accepting, close idle sessions (a POP3 session closed so never reaches
        UPDATE: nothing is deleted), let transactions and commands in flight finish (up to
        ``shutdown_grace``), and close every connection."""
        self._core.stop()

    async def serve(self, *, ready: asyncio.Event | None = None) -> None:
        """Serve until :meth:`stop` is called or this coroutine is cancelled (which stops the
        server gracefully). ``ready`` is set once the server accepts connections (and
        :attr:`port` is known); if it cannot start, this raises instead."""
        import asyncio  # loaded already: this runs in an event loop

        self._core.start()
        if ready is not None:
            ready.set()
        try:
            await self._core.wait_stopped()
        except asyncio.CancelledError:
            await asyncio.shield(self._core.stop_async())
            raise
        finally:
            self._serve_ended()
        await self._core.stop_async()

    def _serve_ended(self) -> None:
        """Called when :meth:`serve` stops waiting, before the server finishes stopping."""

    def __repr__(self) -> str:
        port = self._core.port
        where = f"{self.host}:{port}" if port is not None else f"{self.host} (not started)"
        return f"<{type(self).__name__} {where}{self._repr_extra()}>"

    def _repr_extra(self) -> str:
        """More for :meth:`__repr__`, starting with a space (a subclass's own state)."""
        return ""

    def __enter__(self: _S) -> _S:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
