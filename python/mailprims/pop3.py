"""POP3 (RFC 1939): a client, sync and asyncio, and a server over a Maildir store.

:class:`Pop3Server` serves the Maildirs of a :class:`~mailprims.MaildirStore` to the accounts
of a :class:`~mailprims.Users`: USER/PASS, APOP, AUTH PLAIN, STLS, the RFC 2449 extensions
and RFC 3206 response codes, one session per maildrop at a time (the lock Dovecot takes too).

:class:`Pop3Client` and :class:`AsyncPop3Client` drive the same Rust core on one tokio runtime.
They speak USER/PASS, APOP and AUTH PLAIN (RFC 5034), STLS (RFC 2595) and implicit TLS
(port 995), with certificate verification on by default, and pipeline retrievals when the
server allows it (RFC 2449). Message lines of any length are accepted (the stdlib's
:mod:`poplib` gives up at 2048 octets).

Deletions happen only when the session ends with QUIT (RFC 1939 §6): :meth:`Pop3Client.quit`,
or leaving a ``with`` block normally. Leaving it with an exception, :meth:`Pop3Client.close`, a
dropped connection or a timeout deletes nothing.
"""

from __future__ import annotations

import builtins
import contextlib
import dataclasses
import os
import types
from collections.abc import AsyncIterator, Callable, Container, Iterator
from typing import Literal, TypeAlias, overload

from mailprims import _client, _mailprims
from mailprims._mailprims import Message, parse_many
from mailprims._server import ServerBase, core_arguments
from mailprims.events import ServerEvent
from mailprims.exceptions import MailError
from mailprims.store import MaildirStore, Users

__all__ = ["AsyncPop3Client", "Pop3Client", "Pop3Server"]

_TlsMode: TypeAlias = Literal["auto", "starttls", "implicit", "none"]
_LoginMechanism: TypeAlias = Literal["auto", "user", "plain"]


def _parse(data: bytes) -> Message:
    """The one place retrieved bytes become a message object."""
    return Message.parse(data)


def _message_number(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"message numbers are int, not {type(n).__name__}")
    if not 1 <= n <= 0xFFFFFFFF:
        raise ValueError(f"message numbers start at 1, got {n}")
    return n


@dataclasses.dataclass(frozen=True, kw_only=True)
class _Pop3Options(_client.ClientOptions):
    """The POP3 client's own options, beside those every client has."""

    max_message_size: int | None


class _Pop3Base(_client.SessionClientBase):
    def __init__(
        self,
        host: str,
        port: int | None = None,
        *,
        tls: _TlsMode = "auto",
        cafile: str | os.PathLike[str] | None = None,
        cadata: str | bytes | None = None,
        verify: bool = True,
        tls_hostname: str | None = None,
        allow_insecure_auth: bool = False,
        timeout: float | None = 60.0,
        connect_timeout: float | None = None,
        max_message_size: int | None = None,
        transcript: bool = False,
    ) -> None:
        options = _Pop3Options.of(**_client.arguments(locals()), ports=(110, 995))
        self._start(_mailprims.Pop3ClientCore, options)

    def _info(self) -> _mailprims.Pop3SessionInfo:
        return self._core.info()

    @property
    def apop_timestamp(self) -> str | None:
        """The ``<...>`` timestamp of the greeting that APOP signs, if the server sent one."""
        return self._info().apop_timestamp

    @property
    def authenticated(self) -> bool:
        """Whether a login succeeded on this connection."""
        return self._info().authenticated

    def close(self) -> None:
        """Close the connection without QUIT: nothing is deleted (RFC 1939 §6)."""
        self._core.close()

    def __repr__(self) -> str:
        state = "connected" if self.connected else "not connected"
        return f"<{type(self).__name__} {self.host}:{self.port} {state}>"


class Pop3Client(_Pop3Base):
    """A blocking POP3 client over one connection.

    ``tls``: ``"auto"`` (implicit TLS on port 995, otherwise STLS when offered),
    ``"starttls"`` (required: fails with :class:`~mailprims.TlsError` if not offered),
    ``"implicit"`` (port 995 by default), or ``"none"``. Certificates are verified against the
    system's roots, or ``cafile``/``cadata`` (PEM); ``verify=False`` turns verification off.
    Passwords are never sent over an unencrypted connection unless ``allow_insecure_auth=True``
    (APOP sends none). ``timeout`` bounds connecting and each read or write.
    ``transcript=True`` records the dialogue line by line (see :attr:`transcript`), as
    :mod:`poplib`'s ``set_debuglevel`` prints it.

    The connection opens on :meth:`connect`, ``with``, or the first login. Server refusals
    raise :class:`~mailprims.Pop3Error` with the server's ``text`` and RFC 2449 ``code``.
    """

    _blocking = True

    def connect(self) -> str:
        """Connect (and STLS or TLS as configured); returns the greeting's text."""
        greeting: str = self._core.connect()
        return greeting

    def _ensure_connected(self) -> None:
        if not self.connected:
            self.connect()

    def capabilities(self) -> dict[str, builtins.list[str]]:
        """The server's capabilities (CAPA, RFC 2449): name to arguments, e.g.
        ``{"TOP": [], "SASL": ["PLAIN"], ...}``; empty if the server has no CAPA."""
        caps: dict[str, builtins.list[str]] = self._core.capa()
        return caps

    def stls(self) -> str:
        """Switch to TLS now (RFC 2595); ``tls="starttls"`` does this on connecting."""
        text: str = self._core.stls()
        return text

    def login(self, user: str, password: str, *, mechanism: _LoginMechanism = "auto") -> str:
        """Log in with a password: AUTH PLAIN when the server offers it, else USER/PASS
        (``mechanism="user"`` or ``"plain"`` to choose). Returns the server's text."""
        self._ensure_connected()
        text: str = self._core.login(user, password, mechanism)
        return text

    def apop(self, user: str, secret: str) -> str:
        """Log in with APOP (RFC 1939 §7): proves the shared secret without sending it."""
        self._ensure_connected()
        text: str = self._core.apop(user, secret)
        return text

    def stat(self) -> tuple[int, int]:
        """``(message count, mailbox size in octets)``."""
        result: tuple[int, int] = self._core.stat()
        return result

    @overload
    def list(self, which: None = None) -> dict[int, int]: ...
    @overload
    def list(self, which: int) -> int: ...
    def list(self, which: int | None = None) -> dict[int, int] | int:
        """Message sizes: ``{number: octets}``, or one message's size."""
        if which is not None:
            size: int = self._core.list_one(_message_number(which))
            return size
        sizes: dict[int, int] = self._core.list()
        return sizes

    @overload
    def uidl(self, which: None = None) -> dict[int, str]: ...
    @overload
    def uidl(self, which: int) -> str: ...
    def uidl(self, which: int | None = None) -> dict[int, str] | str:
        """Unique ids that stay the same across sessions: ``{number: uid}``, or one."""
        if which is not None:
            uid: str = self._core.uidl_one(_message_number(which))
            return uid
        uids: dict[int, str] = self._core.uidl()
        return uids

    def retr_bytes(self, which: int) -> bytes:
        """Message ``which`` as bytes (CRLF line ends, dots unstuffed)."""
        data: bytes = self._core.retr(_message_number(which))
        return data

    def retr(self, which: int) -> Message:
        """Message ``which``, parsed (a :class:`~mailprims.Message`)."""
        return _parse(self.retr_bytes(which))

    def top_bytes(self, which: int, lines: int) -> bytes:
        """The header of message ``which`` and the first ``lines`` lines of its body."""
        data: bytes = self._core.top(_message_number(which), lines)
        return data

    def top(self, which: int, lines: int) -> Message:
        """The header and first ``lines`` body lines of message ``which``, parsed."""
        return _parse(self.top_bytes(which, lines))

    def dele(self, which: int) -> str:
        """Mark message ``which`` deleted; it goes at QUIT (RSET undoes it)."""
        text: str = self._core.dele(_message_number(which))
        return text

    def rset(self) -> str:
        """Unmark every message marked deleted in this session."""
        text: str = self._core.rset()
        return text

    def noop(self) -> str:
        """NOOP: keep the session alive."""
        text: str = self._core.noop()
        return text

    def quit(self) -> str:
        """QUIT: the server deletes the marked messages and closes the connection."""
        text: str = self._core.quit()
        return text

    def fetch_all_bytes(self, *, delete: bool = False) -> builtins.list[bytes]:
        """Every message as bytes, in order, with pipelined RETRs when the server allows
        them. With ``delete=True`` each is marked deleted (removed at QUIT)."""
        sizes = self.list()
        numbers = sorted(sizes)
        messages: builtins.list[bytes] = self._core.retr_many(numbers, [sizes[n] for n in numbers])
        if delete and numbers:
            self._core.dele_many(numbers)
        return messages

    def fetch_all(self, *, delete: bool = False) -> builtins.list[Message]:
        """Every message, parsed (see :meth:`fetch_all_bytes`), in parallel with the GIL
        released."""
        return parse_many(self.fetch_all_bytes(delete=delete))

    def new_messages(self, seen: Container[str]) -> Iterator[tuple[str, Message]]:
        """``(uid, message)`` for each message whose UIDL is not in ``seen``, retrieved as the
        iteration reaches it: keep the uids to skip these next time."""
        for number, uid in sorted(self.uidl().items()):
            if uid not in seen:
                yield uid, self.retr(number)

    def __enter__(self) -> Pop3Client:
        self._ensure_connected()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        # QUIT commits deletions: only when the block completed. Before login there is
        # nothing to commit, and a server that already hung up is no error.
        if exc_type is None and self.connected:
            if self.authenticated:
                self.quit()
            else:
                with contextlib.suppress(MailError):
                    self.quit()
        self.close()


class AsyncPop3Client(_Pop3Base):
    """The asyncio POP3 client: the options and methods of :class:`Pop3Client`, awaitable.

    Cancelling a call (``asyncio.timeout``, ``task.cancel()``) closes the connection, deleting
    nothing, and raises :class:`asyncio.CancelledError` as usual.
    """

    _blocking = False

    async def connect(self) -> str:
        """Connect (and STLS or TLS as configured); returns the greeting's text."""
        greeting: str = await self._core.connect()
        return greeting

    async def _ensure_connected(self) -> None:
        if not self.connected:
            await self.connect()

    async def capabilities(self) -> dict[str, builtins.list[str]]:
        """The server's capabilities (see :meth:`Pop3Client.capabilities`)."""
        caps: dict[str, builtins.list[str]] = await self._core.capa()
        return caps

    async def stls(self) -> str:
        """Switch to TLS now (RFC 2595)."""
        text: str = await self._core.stls()
        return text

    async def login(self, user: str, password: str, *, mechanism: _LoginMechanism = "auto") -> str:
        """Log in with a password (see :meth:`Pop3Client.login`)."""
        await self._ensure_connected()
        text: str = await self._core.login(user, password, mechanism)
        return text

    async def apop(self, user: str, secret: str) -> str:
        """Log in with APOP (RFC 1939 §7)."""
        await self._ensure_connected()
        text: str = await self._core.apop(user, secret)
        return text

    async def stat(self) -> tuple[int, int]:
        """``(message count, mailbox size in octets)``."""
        result: tuple[int, int] = await self._core.stat()
        return result

    @overload
    async def list(self, which: None = None) -> dict[int, int]: ...
    @overload
    async def list(self, which: int) -> int: ...
    async def list(self, which: int | None = None) -> dict[int, int] | int:
        """Message sizes: ``{number: octets}``, or one message's size."""
        if which is not None:
            size: int = await self._core.list_one(_message_number(which))
            return size
        sizes: dict[int, int] = await self._core.list()
        return sizes

    @overload
    async def uidl(self, which: None = None) -> dict[int, str]: ...
    @overload
    async def uidl(self, which: int) -> str: ...
    async def uidl(self, which: int | None = None) -> dict[int, str] | str:
        """Unique ids: ``{number: uid}``, or one."""
        if which is not None:
            uid: str = await self._core.uidl_one(_message_number(which))
            return uid
        uids: dict[int, str] = await self._core.uidl()
        return uids

    async def retr_bytes(self, which: int) -> bytes:
        """Message ``which`` as bytes (CRLF line ends, dots unstuffed)."""
        data: bytes = await self._core.retr(_message_number(which))
        return data

    async def retr(self, which: int) -> Message:
        """Message ``which``, parsed (a :class:`~mailprims.Message`)."""
        return _parse(await self.retr_bytes(which))

    async def top_bytes(self, which: int, lines: int) -> bytes:
        """The header of message ``which`` and the first ``lines`` lines of its body."""
        data: bytes = await self._core.top(_message_number(which), lines)
        return data

    async def top(self, which: int, lines: int) -> Message:
        """The header and first ``lines`` body lines of message ``which``, parsed."""
        return _parse(await self.top_bytes(which, lines))

    async def dele(self, which: int) -> str:
        """Mark message ``which`` deleted; it goes at QUIT."""
        text: str = await self._core.dele(_message_number(which))
        return text

    async def rset(self) -> str:
        """Unmark every message marked deleted in this session."""
        text: str = await self._core.rset()
        return text

    async def noop(self) -> str:
        """NOOP: keep the session alive."""
        text: str = await self._core.noop()
        return text

    async def quit(self) -> str:
        """QUIT: the server deletes the marked messages and closes the connection."""
        text: str = await self._core.quit()
        return text

    async def fetch_all_bytes(self, *, delete: bool = False) -> builtins.list[bytes]:
        """Every message as bytes (see :meth:`Pop3Client.fetch_all_bytes`)."""
        sizes = await self.list()
        numbers = sorted(sizes)
        messages: builtins.list[bytes] = await self._core.retr_many(
            numbers, [sizes[n] for n in numbers]
        )
        if delete and numbers:
            await self._core.dele_many(numbers)
        return messages

    async def fetch_all(self, *, delete: bool = False) -> builtins.list[Message]:
        """Every message, parsed (in parallel, with the GIL released)."""
        return parse_many(await self.fetch_all_bytes(delete=delete))

    async def new_messages(self, seen: Container[str]) -> AsyncIterator[tuple[str, Message]]:
        """``(uid, message)`` for each message whose UIDL is not in ``seen``."""
        for number, uid in sorted((await self.uidl()).items()):
            if uid not in seen:
                yield uid, await self.retr(number)

    async def __aenter__(self) -> AsyncPop3Client:
        await self._ensure_connected()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        if exc_type is None and self.connected:
            if self.authenticated:
                await self.quit()
            else:
                with contextlib.suppress(MailError):
                    await self.quit()
        self.close()


class Pop3Server(ServerBase):
    """A POP3 server on ``host:port`` (``port=0`` picks a free port; see :attr:`port`)
    serving ``store``'s Maildirs to ``users``' accounts.

    Run it in the background with :meth:`start`/:meth:`stop` (or ``with``), or in asyncio with
    ``await server.serve()``.

    Sessions follow RFC 1939: messages marked with DELE are removed only at QUIT, and
    messages retrieved are then marked seen (moved from ``new/`` to ``cur/`` with the ``S``
    flag, as Dovecot does); a dropped connection, an idle ``timeout`` (RFC 1939 §3: 10
    minutes) or a server stop changes nothing. A second session for the same account gets
    ``-ERR [IN-USE]`` (RFC 3206).

    Security: ``tls_cert``/``tls_key`` (PEM file paths) offer STLS, or TLS from the first
    byte with ``implicit_tls=True`` (port 995). Passwords (USER/PASS, AUTH PLAIN) are
    refused over unencrypted connections from other hosts unless
    ``allow_insecure_auth=True``; clients on the server's own address count as secure, as in
    Dovecot. APOP works for accounts with an ``apop_secret``. A failed login is answered after
    ``auth_failure_delay`` seconds, the same way whether or not the user exists; after
    ``max_auth_failures`` the connection is closed, as it is after ``max_errors`` bad
    commands. :meth:`stop` lets commands in flight finish for up to ``shutdown_grace``
    seconds.

    Hostile clients (each limit ``None`` to switch it off): after ``auth_failure_limit``
    failed logins (10) within ``auth_failure_window`` seconds (300) from one client address
    (an IPv4 address, or an IPv6 /64), logins from it get ``-ERR [SYS/TEMP]`` without a
    password check until the window has passed; servers given the same ``users`` share
    those counts (SMTP AUTH and POP3 alike), so neither reconnecting nor switching protocol
    starts afresh. One address holds at most ``max_connections_per_address`` sessions (50);
    past ``max_junk_commands`` NOOP, RSET or CAPA (100) without a RETR, TOP or DELE, each one
    counts as a bad command. Password checks run on one thread per core, the rest waiting
    their turn.

    Logging: ``on_event`` is called with a :class:`~mailprims.ServerEvent` for every login
    (``"login"``, ``"login_failed"``), retrieval (``"retrieved"``) and deletion at QUIT
    (``"deleted"``); the sessions never wait for it (see :mod:`mailprims.events`).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        store: MaildirStore,
        users: Users,
        hostname: str | None = None,
        tls_cert: str | os.PathLike[str] | None = None,
        tls_key: str | os.PathLike[str] | None = None,
        implicit_tls: bool = False,
        allow_insecure_auth: bool = False,
        timeout: float = 600.0,
        auth_failure_delay: float = 2.0,
        max_auth_failures: int = 3,
        max_errors: int = 20,
        max_connections: int = 1000,
        shutdown_grace: float = 30.0,
        on_event: Callable[[ServerEvent], object] | None = None,
        max_connections_per_address: int | None = 50,
        max_junk_commands: int | None = 100,
        auth_failure_limit: int | None = 10,
        auth_failure_window: float = 300.0,
    ) -> None:
        arguments = core_arguments(locals())
        self.store = store
        self.users = users
        self._core = _mailprims.Pop3ServerCore(**arguments)
