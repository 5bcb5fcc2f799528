"""An SMTP server (RFC 5321) on the Rust core, embeddable in Python programs and tests.

The protocol, limits and TLS run in Rust on tokio; Python is involved per message only when a
Python *handler* is given. A handler is any object with optional hooks named like aiosmtpd's
(``handle_EHLO``, ``handle_MAIL``, ``handle_RCPT``, ``handle_DATA``...), plain or ``async``,
each receiving ``(server, session, envelope, ...)`` and returning the reply line, such as
``"250 OK"`` or ``"550 5.1.1 no such user"`` (``None`` keeps the server's own reply). Unlike
aiosmtpd, the server itself records the sender and recipients in the envelope when the reply
to MAIL or RCPT is positive, so hooks only decide.

>>> import smtplib
>>> from mailprims import SmtpServer, Sink
>>> with SmtpServer(handler=Sink()) as server:
...     with smtplib.SMTP("127.0.0.1", server.port) as client:
...         msg = b"Subject: hi\\r\\n\\r\\nhello\\r\\n"
...         refused = client.sendmail("a@example.org", ["b@example.org"], msg)
...     [m.rcpt_tos for m in server.messages]
[['b@example.org']]
"""

from __future__ import annotations

import inspect
import socket
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, NamedTuple

from mailprims import _mailprims
from mailprims._mailprims import Message
from mailprims._server import ServerBase, read_file
from mailprims.auth import AuthReport, Verifier
from mailprims.events import ServerEvent, _callback
from mailprims.exceptions import ConfigError
from mailprims.store import MaildirStore, Users

__all__ = ["Envelope", "Messages", "Session", "Sink", "SmtpServer", "TlsInfo"]

# asyncio and logging load when first needed, not with the module (issue 14: import time).
if TYPE_CHECKING:
    import asyncio
    import logging


def _log() -> logging.Logger:
    import logging

    return logging.getLogger("mailprims.smtp_server")


HOOKS = ("HELO", "EHLO", "MAIL", "RCPT", "DATA", "RSET", "NOOP", "QUIT", "VRFY")

LOCAL_ERROR = "451 4.3.0 Error: local error in processing"


def _parse_message(data: bytes) -> Message:
    """The parsed form of ``Envelope.message`` (one place to swap the parser)."""
    return Message.parse(data)


class TlsInfo(NamedTuple):
    """The TLS parameters of a session: ``version`` (e.g. ``"TLSv1.3"``) and IANA ``cipher``."""

    version: str
    cipher: str


class Session:
    """What the server knows about one connection, as handler hooks see it.

    ``peer`` is ``(host, port)``; ``host_name`` the name given with HELO/EHLO (``None``
    before); ``extended_smtp`` whether EHLO was used; ``tls`` a :class:`TlsInfo` after STARTTLS;
    ``auth_user`` the user AUTH succeeded for (and ``authenticated`` whether it did).
    Hooks may store their own attributes on it; they last for the connection.
    """

    def __init__(self) -> None:
        self.id = 0
        self.peer: tuple[str, int] = ("", 0)
        self.host_name: str | None = None
        self.extended_smtp = False
        self.tls: TlsInfo | None = None
        self.auth_user: str | None = None

    @property
    def authenticated(self) -> bool:
        """Whether the client authenticated with AUTH."""
        return self.auth_user is not None

    def _update(self, state: _mailprims.SmtpSessionState) -> None:
        self.id = state.id
        self.peer = (state.peer_host, state.peer_port)
        self.host_name = state.host_name
        self.extended_smtp = state.extended_smtp
        self.auth_user = state.auth_user
        version, cipher = state.tls_version, state.tls_cipher
        self.tls = TlsInfo(version, cipher) if version is not None and cipher is not None else None

    def __repr__(self) -> str:
        return f"<Session peer={self.peer!r} host_name={self.host_name!r} tls={self.tls!r}>"


class Envelope:
    """One mail transaction: ``mail_from``, ``mail_options``, ``rcpt_tos``, ``rcpt_options``,
    ``smtp_utf8``, and after DATA the ``content`` (raw bytes as delivered, with the
    ``Return-Path:`` and ``Received:`` fields this server added) and ``original_content``
    (exactly what the client sent, dot-unstuffed). ``message`` parses ``content`` lazily.
    With ``SmtpServer(verify=...)``, ``auth`` is the :class:`~mailprims.auth.AuthReport` of
    the message (from DATA on; ``None`` before and without ``verify``), ``content`` carries
    its Authentication-Results field below the ``Received:`` field, and
    ``original_content`` lacks Authentication-Results fields forged with this server's
    name.
    """

    def __init__(self) -> None:
        self.mail_from: str | None = None
        self.mail_options: list[str] = []
        self.smtp_utf8 = False
        self.rcpt_tos: list[str] = []
        self.rcpt_options: list[list[str]] = []
        self.content: bytes | None = None
        self.id: str = ""
        self.auth: AuthReport | None = None
        self._trace_len = 0
        self._message: Message | None = None

    @property
    def original_content(self) -> bytes | None:
        """The message data as received, without the trace fields the server added."""
        return None if self.content is None else self.content[self._trace_len :]

    @property
    def message(self) -> Message | None:
        """``content`` parsed into a :class:`~mailprims.Message` (once, on first use); ``None``
        before DATA."""
        if self._message is None and self.content is not None:
            self._message = _parse_message(self.content)
        return self._message

    def _update(self, state: _mailprims.SmtpEnvelopeState) -> None:
        self.mail_from = state.mail_from
        self.mail_options = state.mail_options
        self.smtp_utf8 = state.smtp_utf8
        self.rcpt_tos = state.rcpt_tos
        self.rcpt_options = state.rcpt_options
        self._trace_len = state.trace_len
        self.id = state.id
        self.auth = state.auth
        content = state.content
        if content is not None and content is not self.content:
            self.content = content
            self._message = None

    def __repr__(self) -> str:
        if self.content is None:
            return f"<Envelope mail_from={self.mail_from!r} rcpt_tos={self.rcpt_tos!r}>"
        message = self.message
        subject = None if message is None else message.subject
        return (
            f"<Envelope mail_from={self.mail_from!r} rcpt_tos={self.rcpt_tos!r} "
            f"subject={subject!r} size={len(self.content)}>"
        )


class Messages(list[Envelope]):
    """A list of :class:`Envelope` (what ``SmtpServer.messages`` and ``Sink.messages``
    return) whose repr lists each message's sender, recipients and subject, one a line, so
    that a failing ``assert`` on it in a test shows what the server received."""

    def __repr__(self) -> str:
        if not self:
            return "Messages([])  # no message received"
        lines = "".join(f"\n  {e!r}," for e in self)
        return f"Messages([{lines}\n])"


def _from_stored(
    stored: tuple[_mailprims.SmtpSessionState, _mailprims.SmtpEnvelopeState],
) -> Envelope:
    session_state, envelope_state = stored
    envelope = Envelope()
    envelope._update(envelope_state)
    session = Session()
    session._update(session_state)
    envelope.session = session  # type: ignore[attr-defined]
    return envelope


class Sink:
    """A built-in handler keeping every message in memory, for tests: ``messages`` is a list
    of :class:`Envelope` (each with its ``session``). No Python runs per message.

    ``maxlen`` keeps only the newest messages (``count`` still counts all of them).
    """

    def __init__(self, maxlen: int | None = None) -> None:
        self._core = _mailprims.SmtpSink(maxlen)

    @property
    def messages(self) -> Messages:
        """The messages received so far, oldest first (a :class:`Messages` list)."""
        return Messages(_from_stored(m) for m in self._core.messages())

    def __repr__(self) -> str:
        return f"<Sink count={self.count}>"

    @property
    def count(self) -> int:
        """How many messages were accepted."""
        return self._core.count

    def clear(self) -> None:
        """Forget the messages kept so far."""
        self._core.clear()


class _LoopThread:
    """A private asyncio loop for async hooks when the server runs from ``start()``."""

    def __init__(self) -> None:
        import asyncio

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="mailprims-smtp-hooks", daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        if not self.loop.is_running():
            self.loop.close()


class SmtpServer(ServerBase):
    """An SMTP server on ``host:port`` (``port=0`` picks a free port; see :attr:`port`).

    Run it in the background with :meth:`start`/:meth:`stop` (or ``with``), or in asyncio with
    ``await server.serve()``.

    What happens to mail: ``handler`` is a :class:`Sink` or an object with aiosmtpd-style
    hooks; without either ``handler`` or ``store`` the server would have nowhere to put
    what it accepts, so the constructor raises :class:`~mailprims.ConfigError`; ``store``
    (a :class:`~mailprims.MaildirStore`) delivers to the Maildir of each local recipient's
    account, durably (the 250 reply to DATA comes only once the message is
    fsynced into ``new/``). ``users`` (:class:`~mailprims.Users`) says which accounts, aliases
    and local domains exist (550 5.1.1 for unknown local users; ``postmaster`` always exists,
    RFC 5321 §4.5.1) and checks AUTH passwords; without it the store's existing Maildirs are
    the accounts. ``domains`` lists (further) local domains: other recipients are relayed only
    for authenticated clients, and only when the handler has ``handle_DATA`` to carry them
    (otherwise 550 5.7.1; RFC 5068); with no domain configured every domain is local.

    Security: ``tls_cert``/``tls_key`` (PEM file paths) offer STARTTLS; ``authenticator`` is a
    callable ``(username, password) -> bool`` enabling AUTH PLAIN and LOGIN, only
    after STARTTLS unless ``auth_require_tls=False``; ``require_starttls`` refuses mail before
    TLS; ``submission=True`` (port 587, RFC 6409) requires AUTH before MAIL.

    Limits (RFC 5321 §4.5.3): ``max_message_size`` octets (SIZE; ``None``: no limit),
    ``max_recipients`` per message (452 beyond), ``max_connections`` (421 beyond),
    ``max_line_length`` octets with CRLF (500 beyond), ``timeout`` seconds waiting for a
    command (§4.5.3.2.7: 300), ``data_timeout`` seconds waiting for message data (180).
    :meth:`stop` lets transactions in flight finish for up to ``shutdown_grace`` seconds; a
    transaction cut off then, or by a client disconnecting, delivers nothing.

    Hostile clients (each limit ``None`` to switch it off): one client address (an IPv4
    address, or an IPv6 /64) holds at most ``max_connections_per_address`` connections (50,
    as Postfix; 421 4.7.0 beyond); a transaction must be complete, from MAIL to the end of
    its message, within ``transaction_timeout`` seconds (1800, however the client paces its
    data; 421 4.4.2 then); past ``max_junk_commands`` NOOP, RSET, VRFY or HELP without a
    message accepted (100, Postfix's ``smtpd_junk_command_limit``) each one counts as an
    error, so the connection ends with 421 4.7.0 at ``max_errors`` (20 protocol errors on one
    connection). A failed AUTH is
    answered after ``auth_failure_delay`` seconds (2), the same for unknown users, whose
    check runs against a dummy hash; after ``auth_failure_limit`` failures (10) within
    ``auth_failure_window`` seconds (300) from one address, AUTH from it is answered 421
    4.7.0 without a password check until the window has passed. Servers given the same
    ``users`` share those counts (SMTP and POP3 alike). Password checks run on one thread
    per core, the rest waiting their turn, so a crowd of wrong passwords costs a queue, not
    memory; durable deliveries share their directory fsyncs and a bounded set of threads.

    Checking mail: ``verify`` (a :class:`~mailprims.auth.Verifier`) checks DKIM, ARC, SPF
    (with the client's address, HELO name and MAIL FROM) and DMARC of every message, in Rust
    and within the verifier's ``timeout`` (DNS trouble gives ``temperror``, and the message
    goes on), then puts an RFC 8601 Authentication-Results field, with ``hostname`` as its
    authserv-id, below this server's ``Received:`` field, and removes
    Authentication-Results fields that arrived claiming that id (RFC 8601 §5). Hooks see the
    report as ``envelope.auth`` in ``handle_DATA`` and may refuse the message (say ``"550
    5.7.1 ..."``); nothing is stored then. ``dmarc_reject=True`` refuses, with ``550 5.7.1``,
    mail whose DMARC disposition is ``reject`` (``p=reject`` failed, and ``pct`` selected
    it), except from authenticated clients.

    Logging: ``on_event`` is called with a :class:`~mailprims.ServerEvent` (``kind``
    ``"delivered"``: queue id, sender, recipients, size) for every message accepted, after
    its delivery; the sessions never wait for it (see :mod:`mailprims.events`).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        handler: Any = None,
        store: MaildirStore | None = None,
        users: Users | None = None,
        domains: Iterable[str] | None = None,
        hostname: str | None = None,
        tls_cert: str | None = None,
        tls_key: str | None = None,
        require_starttls: bool = False,
        authenticator: Callable[[str, str], bool] | None = None,
        auth_require_tls: bool = True,
        submission: bool = False,
        max_message_size: int | None = 32 * 1024 * 1024,
        max_recipients: int = 100,
        max_connections: int = 1000,
        max_line_length: int = 1000,
        timeout: float = 300.0,
        data_timeout: float = 180.0,
        shutdown_grace: float = 30.0,
        on_event: Callable[[ServerEvent], object] | None = None,
        max_connections_per_address: int | None = 50,
        transaction_timeout: float | None = 1800.0,
        max_junk_commands: int | None = 100,
        auth_failure_delay: float = 2.0,
        auth_failure_limit: int | None = 10,
        auth_failure_window: float = 300.0,
        max_errors: int = 20,
        verify: Verifier | None = None,
        dmarc_reject: bool = False,
    ) -> None:
        if (tls_cert is None) != (tls_key is None):
            raise ValueError("tls_cert and tls_key must be given together")
        if dmarc_reject and verify is None:
            raise ValueError("dmarc_reject needs verify= (a mailprims.auth.Verifier)")
        if handler is None and store is None:
            # Accepting mail with nowhere to put it would answer 250 and lose it.
            raise ConfigError(
                "SmtpServer needs somewhere to put the mail it accepts: handler=Sink() keeps "
                "it in memory (server.messages), store=MaildirStore(...) delivers it to "
                "Maildirs, or a handler with handle_DATA does what it likes with it"
            )
        self.handler = handler
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: _LoopThread | None = None
        self._loop_lock = threading.Lock()
        self._connections: dict[int, tuple[Session, Envelope]] = {}
        sink = handler._core if isinstance(handler, Sink) else None
        hooks = []
        if handler is not None and sink is None:
            hooks = [name for name in HOOKS if callable(getattr(handler, f"handle_{name}", None))]

        self._core = _mailprims.SmtpServerCore(
            host,
            port,
            hostname=hostname or socket.getfqdn(),
            max_message_size=max_message_size,
            max_recipients=max_recipients,
            max_connections=max_connections,
            max_line_length=max_line_length,
            timeout=timeout,
            data_timeout=data_timeout,
            shutdown_grace=shutdown_grace,
            tls_cert=read_file(tls_cert),
            tls_key=read_file(tls_key),
            require_starttls=require_starttls,
            auth_require_tls=auth_require_tls,
            submission=submission,
            domains=list(domains) if domains is not None else None,
            sink=sink,
            dispatch=self._dispatch if hooks else None,
            hooks=hooks,
            authenticator=authenticator,
            store=store,
            users=users,
            on_event=_callback(on_event),
            max_connections_per_address=max_connections_per_address,
            max_junk_commands=max_junk_commands,
            transaction_timeout=transaction_timeout,
            auth_failure_delay=float(auth_failure_delay),
            auth_failure_limit=auth_failure_limit,
            auth_failure_window=float(auth_failure_window),
            max_errors=max_errors,
            verify=verify,
            dmarc_reject=dmarc_reject,
        )

    # -- life cycle ------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop accepting, let transactions in flight finish (up to ``shutdown_grace``), and
        close every connection."""
        try:
            super().stop()
        finally:
            with self._loop_lock:
                if self._loop_thread is not None:
                    self._loop_thread.close()
                    self._loop_thread = None

    async def serve(self, *, ready: asyncio.Event | None = None) -> None:
        """Serve until :meth:`stop` is called or this coroutine is cancelled (which stops the
        server gracefully). ``ready`` is set once the server accepts connections (and
        :attr:`port` is known); if it cannot start, this raises instead. Async hooks run on
        the calling event loop."""
        import asyncio

        self._loop = asyncio.get_running_loop()
        await super().serve(ready=ready)

    def _serve_ended(self) -> None:
        self._loop = None

    @property
    def messages(self) -> Messages:
        """The messages a :class:`Sink` handler received (a :class:`Messages` list)."""
        if not isinstance(self.handler, Sink):
            raise AttributeError("messages are kept only when the handler is a mailprims.Sink")
        return self.handler.messages

    def _repr_extra(self) -> str:
        if isinstance(self.handler, Sink):
            return f" messages={self.handler.count}"
        return ""

    # -- hooks -----------------------------------------------------------------------------

    def _hook_loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is not None:
            return loop
        with self._loop_lock:
            if self._loop_thread is None:
                self._loop_thread = _LoopThread()
            return self._loop_thread.loop

    def _dispatch(
        self,
        conn_id: int,
        hook: str,
        session_state: _mailprims.SmtpSessionState | None,
        envelope_state: _mailprims.SmtpEnvelopeState | None,
        args: tuple[Any, ...],
    ) -> str | list[str] | None:
        """Called from Rust (on a worker thread) for each hook invocation."""
        if hook == "_closed":
            self._connections.pop(conn_id, None)
            return None
        if session_state is None or envelope_state is None:
            return None
        pair = self._connections.get(conn_id)
        if pair is None:
            pair = (Session(), Envelope())
            self._connections[conn_id] = pair
        session, envelope = pair
        if envelope_state.mail_from is None and envelope.mail_from is not None:
            envelope = Envelope()  # a new transaction
            self._connections[conn_id] = (session, envelope)
        session._update(session_state)
        envelope._update(envelope_state)
        try:
            result = getattr(self.handler, f"handle_{hook}")(self, session, envelope, *args)
            if inspect.isawaitable(result):
                import asyncio

                future = asyncio.run_coroutine_threadsafe(_awaited(result), self._hook_loop())
                result = future.result()
            if result is not None and not isinstance(result, (str, list)):
                raise TypeError(f"handle_{hook} returned {type(result).__name__}, not a reply")
            return result
        except Exception as error:
            handle_exception = getattr(self.handler, "handle_exception", None)
            if callable(handle_exception):
                try:
                    reply = handle_exception(error)
                    if isinstance(reply, str):
                        return reply
                except Exception:
                    _log().exception("handle_exception failed")
            _log().exception("SMTP handler hook handle_%s failed", hook)
            return LOCAL_ERROR


async def _awaited(awaitable: Any) -> Any:
    return await awaitable
