"""SMTP client (RFC 5321): sync and asyncio, TLS, AUTH, pipelining, per-recipient results.

:class:`SmtpClient` and :class:`AsyncSmtpClient` drive the same Rust core on one tokio runtime.
Both take a message as ``bytes`` (or any bytes-like object), ``str``, an
:class:`email.message.Message`, or any object with an ``as_bytes()`` method such as
:class:`mailprims.Message`. The envelope comes from the message unless given: the Sender (or
From) address, and every To, Cc and Bcc address once. Bcc and Resent-Bcc fields are never
transmitted.

:func:`resolve_mx` finds a domain's mail servers, and :func:`deliver` sends straight to them.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import sys
import types
from collections.abc import Iterable, Sequence
from typing import Any, Literal, NamedTuple, TypeAlias

from mailprims import _client, _mailprims
from mailprims.auth import DkimSigner
from mailprims.exceptions import MailError

__all__ = [
    "AsyncSmtpClient",
    "MxRecord",
    "SendResult",
    "SmtpClient",
    "SmtpReply",
    "deliver",
    "deliver_async",
    "resolve_mx",
]

Nameserver: TypeAlias = str | tuple[str, int]


class SmtpReply(NamedTuple):
    """One server reply: ``code`` (250), ``enhanced_code`` (``"2.1.5"`` or None) and
    ``text`` (lines joined with newlines, without codes)."""

    code: int
    enhanced_code: str | None
    text: str

    @property
    def ok(self) -> bool:
        """True for a 2xx reply."""
        return 200 <= self.code < 300

    def __str__(self) -> str:
        parts = [str(self.code)]
        if self.enhanced_code:
            parts.append(self.enhanced_code)
        if self.text:
            parts.append(self.text.replace("\n", " / "))
        return " ".join(parts)


class MxRecord(NamedTuple):
    """A mail exchanger: lower ``preference`` is tried first."""

    preference: int
    exchange: str


class SendResult:
    """What the server said about one message.

    ``recipients`` maps every envelope recipient to the server's reply to its RCPT command;
    those refused (while others were accepted, so the message was still sent) are in
    ``refused`` and shown in the repr. ``reply`` is the server's reply to the message data
    (typically carrying its queue id), ``host`` the server that took it.
    """

    # A dict: each slot's value is its attribute's docstring.
    __slots__ = {
        "host": "The server that took the message.",
        "recipients": "Every envelope recipient, with the server's reply to its RCPT command.",
        "reply": "The server's reply to the message data (typically with its queue id).",
        "sender": "The envelope sender (MAIL FROM).",
    }

    def __init__(
        self, sender: str, recipients: dict[str, SmtpReply], reply: SmtpReply, host: str
    ) -> None:
        self.sender = sender
        self.recipients = recipients
        self.reply = reply
        self.host = host

    @property
    def accepted(self) -> list[str]:
        """Recipients the server accepted."""
        return [r for r, reply in self.recipients.items() if reply.ok]

    @property
    def refused(self) -> dict[str, SmtpReply]:
        """Recipients the server refused, with its reply to each."""
        return {r: reply for r, reply in self.recipients.items() if not reply.ok}

    def __repr__(self) -> str:
        n, total = len(self.accepted), len(self.recipients)
        text = f"<SendResult {n}/{total} accepted via {self.host}: {self.reply}"
        refused = self.refused
        if refused:
            listed = ", ".join(f"{r!r}: {reply}" for r, reply in refused.items())
            text += f"; REFUSED {len(refused)}: {listed}"
        return text + ">"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SendResult):
            return NotImplemented
        return (self.sender, self.recipients, self.reply, self.host) == (
            other.sender,
            other.recipients,
            other.reply,
            other.host,
        )

    __hash__ = None  # type: ignore[assignment]


def _message_bytes(message: Any) -> Any:
    """The message in a form the core takes: bytes-like or str as they are, the rest
    serialized."""
    if type(message) is bytes or isinstance(message, (bytearray, memoryview, str)):
        return message
    # The email package is looked up, not imported: an email.message.Message means it is loaded.
    email_message = sys.modules.get("email.message")
    if email_message is not None and isinstance(message, email_message.Message):
        import email.policy

        # As smtplib.send_message does: CRLF line ends; UTF-8 headers when an address needs
        # them (RFC 6532), which the core then sends with SMTPUTF8.
        policy = message.policy.clone(linesep="\r\n")
        addresses = "".join(
            str(v) for k in ("From", "Sender", "To", "Cc", "Bcc") for v in message.get_all(k, [])
        )
        if not addresses.isascii() and isinstance(policy, email.policy.EmailPolicy):
            policy = policy.clone(utf8=True)
        return message.as_bytes(policy=policy)
    as_bytes = getattr(message, "as_bytes", None)
    if callable(as_bytes):
        return as_bytes()
    try:
        return memoryview(message)
    except TypeError:
        raise TypeError(
            "message must be bytes, str, an email.message.Message or an object with "
            f"as_bytes(), not {type(message).__name__!r}"
        ) from None


_LOCAL_HOSTNAME: list[str | None] = []


def _local_hostname() -> str | None:
    # Like smtplib: the fully qualified name when there is one; otherwise the core uses an
    # address literal of the connection's local address (RFC 5321 §4.1.3). Looked up once.
    if not _LOCAL_HOSTNAME:
        name = socket.getfqdn()
        ok = "." in name and all(c.isalnum() or c in "-." for c in name)
        _LOCAL_HOSTNAME.append(name if ok else None)
    return _LOCAL_HOSTNAME[0]


@dataclasses.dataclass(frozen=True, kw_only=True)
class _SmtpOptions(_client.ClientOptions):
    """The SMTP client's own options, beside those every client has."""

    local_hostname: str | None
    username: str | None
    password: str | None
    oauth2_token: str | None
    auth_mechanism: str | None
    transaction_timeout: float | None
    pipelining: bool
    chunking: bool
    max_connections: int
    dkim: list[DkimSigner]


class _ClientBase(_client.ClientBase):
    _default_max_connections = 1

    def __init__(
        self,
        host: str,
        port: int = 25,
        *,
        tls: Literal["auto", "starttls", "implicit", "none"] = "auto",
        username: str | None = None,
        password: str | None = None,
        oauth2_token: str | None = None,
        auth_mechanism: str | None = None,
        allow_insecure_auth: bool = False,
        cafile: str | os.PathLike[str] | None = None,
        cadata: str | bytes | None = None,
        verify: bool = True,
        tls_hostname: str | None = None,
        local_hostname: str | None = None,
        timeout: float | None = 60.0,
        connect_timeout: float | None = None,
        transaction_timeout: float | None = None,
        pipelining: bool = True,
        chunking: bool = True,
        max_connections: int | None = None,
        transcript: bool = False,
        dkim: DkimSigner | Iterable[DkimSigner] | None = None,
    ) -> None:
        given = _client.arguments(locals())
        signers = [] if dkim is None else [dkim] if isinstance(dkim, DkimSigner) else list(dkim)
        for signer in signers:
            if not isinstance(signer, DkimSigner):
                raise TypeError(f"dkim takes DkimSigner objects, not {type(signer).__name__!r}")
        self.dkim: tuple[DkimSigner, ...] = tuple(signers)
        given.update(
            local_hostname=local_hostname if local_hostname is not None else _local_hostname(),
            transaction_timeout=_client.seconds(transaction_timeout),
            max_connections=(
                self._default_max_connections if max_connections is None else max_connections
            ),
            dkim=signers,
        )
        options = _SmtpOptions.of(**given, ports=(25, 465))
        self._start(_mailprims.SmtpClientCore, options)

    def _info(self) -> _mailprims.SmtpSessionInfo | None:
        return self._core.session_info()

    def _send(
        self,
        message: Any,
        sender: str | None,
        recipients: Iterable[str] | None,
        dsn_notify: Iterable[str] | None,
        dsn_return: Literal["FULL", "HDRS"] | None,
        dsn_envelope_id: str | None,
        mail_options: Sequence[str],
        rcpt_options: Sequence[str],
    ) -> Any:
        """The core's send, given ``send``'s arguments by name (``_client.arguments``), with
        them as the core takes them: the result, or an awaitable of it for the async client."""
        return self._core.send(
            _message_bytes(message),
            sender,
            None if recipients is None else list(recipients),
            None if dsn_notify is None else list(dsn_notify),
            dsn_return,
            dsn_envelope_id,
            list(mail_options),
            list(rcpt_options),
        )

    @property
    def extensions(self) -> dict[str, str]:
        """The extensions of the last EHLO reply, keyword (lower case) to parameters."""
        info = self._info()
        return dict(info.extensions) if info else {}

    @property
    def esmtp(self) -> bool:
        """Whether the server took EHLO (False after a HELO fallback)."""
        info = self._info()
        return bool(info and info.esmtp)

    @property
    def greeting(self) -> SmtpReply | None:
        """The server's greeting (the 220 reply) on the last connection."""
        info = self._info()
        return info.greeting if info else None

    @property
    def tls_version(self) -> str | None:
        """The TLS version of the last connection ("TLSv1.3"), None when unencrypted."""
        info = self._info()
        return info.tls_version if info else None

    @property
    def authenticated(self) -> bool:
        """Whether the last connection authenticated."""
        info = self._info()
        return bool(info and info.authenticated)

    @property
    def connected(self) -> bool:
        """Whether an idle connection is open (a send reconnects when none is)."""
        return bool(self._core.idle_connections)

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return bool(self._core.closed)

    def __repr__(self) -> str:
        state = "closed" if self.closed else ("connected" if self.connected else "idle")
        return f"<{type(self).__name__} {self.host}:{self.port} {state}>"


class SmtpClient(_ClientBase):
    """A blocking SMTP client over one connection, reused for every message.

    ``tls``: ``"auto"`` (implicit TLS on port 465, otherwise STARTTLS when offered),
    ``"starttls"`` (required: fails if not offered), ``"implicit"``, or ``"none"``.
    Certificates are verified against the system's roots, or ``cafile``/``cadata`` (PEM);
    ``verify=False`` turns verification off. ``username`` with ``password`` (AUTH PLAIN or
    LOGIN) or ``oauth2_token`` (XOAUTH2) authenticates; credentials are never sent over an
    unencrypted connection unless ``allow_insecure_auth=True``. ``timeout`` bounds connecting
    and each read or write, ``transaction_timeout`` one whole :meth:`send`. PIPELINING and
    CHUNKING (BDAT) are used when the server offers them, unless ``pipelining=False`` or
    ``chunking=False``.

    The connection opens on :meth:`connect`, ``with``, or the first :meth:`send`; if the server
    closes it, the next call reconnects. ``max_connections`` (default 1) lets several threads
    send at once over that many connections. ``transcript=True`` records the dialogue line by
    line (see :attr:`transcript`), as :mod:`smtplib`'s ``set_debuglevel`` prints it.

    ``dkim`` (a :class:`~mailprims.auth.DkimSigner`, or several: an RSA and an Ed25519 one,
    say) signs every message sent, in Rust, after the Bcc fields are removed, so the
    signatures cover exactly what the server receives; :func:`deliver` takes it too.
    """

    _blocking = True

    def connect(self) -> SmtpReply:
        """Connect now (greeting, EHLO, STARTTLS, AUTH) and return the server's greeting."""
        info: _mailprims.SmtpSessionInfo = self._core.connect()
        return info.greeting

    def send(
        self,
        message: Any,
        *,
        sender: str | None = None,
        recipients: Iterable[str] | None = None,
        dsn_notify: Iterable[str] | None = None,
        dsn_return: Literal["FULL", "HDRS"] | None = None,
        dsn_envelope_id: str | None = None,
        mail_options: Sequence[str] = (),
        rcpt_options: Sequence[str] = (),
    ) -> SendResult:
        """Send one message; returns every recipient's reply.

        Raises :class:`~mailprims.SmtpRecipientsRefused` only when every recipient was
        refused, :class:`~mailprims.SmtpTemporaryError` / :class:`~mailprims.SmtpPermanentError`
        when the server refuses the sender or the message. ``dsn_*`` are the RFC 3461
        options (NOTIFY, RET, ENVID); ``mail_options``/``rcpt_options`` extra ESMTP parameters.
        """
        result: SendResult = self._send(**_client.arguments(locals()))
        return result

    def noop(self) -> SmtpReply:
        """NOOP: check that the server is there."""
        reply: SmtpReply = self._core.noop()
        return reply

    def close(self) -> None:
        """QUIT and close the connection; the client cannot be used afterwards."""
        self._core.close(True)

    quit = close

    def __enter__(self) -> SmtpClient:
        self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        self.close()


class AsyncSmtpClient(_ClientBase):
    """The asyncio SMTP client: the options of :class:`SmtpClient`, awaitable methods, and a
    pool of up to ``max_connections`` (default 4) connections for concurrent sends.

    Idle connections are checked before reuse; one the server closed is replaced. Cancelling
    a send (``asyncio.timeout``, ``task.cancel()``) closes the connection it was using and
    raises :class:`asyncio.CancelledError` as usual; later sends open a new one.
    """

    _blocking = False
    _default_max_connections = 4

    async def connect(self) -> SmtpReply:
        """Open one connection now and return the server's greeting."""
        info: _mailprims.SmtpSessionInfo = await self._core.connect()
        return info.greeting

    async def send(
        self,
        message: Any,
        *,
        sender: str | None = None,
        recipients: Iterable[str] | None = None,
        dsn_notify: Iterable[str] | None = None,
        dsn_return: Literal["FULL", "HDRS"] | None = None,
        dsn_envelope_id: str | None = None,
        mail_options: Sequence[str] = (),
        rcpt_options: Sequence[str] = (),
    ) -> SendResult:
        """Send one message (see :meth:`SmtpClient.send`)."""
        result: SendResult = await self._send(**_client.arguments(locals()))
        return result

    async def noop(self) -> SmtpReply:
        """NOOP on one of the connections."""
        reply: SmtpReply = await self._core.noop()
        return reply

    async def close(self) -> None:
        """QUIT idle connections; the client cannot be used afterwards."""
        await self._core.close(True)

    async def __aenter__(self) -> AsyncSmtpClient:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        await self.close()


def _nameserver(nameserver: Nameserver | None) -> tuple[str, int] | None:
    if nameserver is None:
        return None
    if isinstance(nameserver, str):
        return (nameserver, 53)
    host, port = nameserver
    return (str(host), int(port))


def resolve_mx(
    domain: str, *, nameserver: Nameserver | None = None, timeout: float | None = None
) -> list[MxRecord]:
    """The mail exchangers of ``domain``, most preferred first (RFC 5321 §5.1).

    A domain without MX records but with an address is its own exchanger (preference 0); a
    null MX (RFC 7505) gives an empty list. ``nameserver`` is an IP address or an
    ``(ip, port)`` pair; the system's resolver configuration is used by default. Raises
    :class:`~mailprims.DnsError`.
    """
    return _mailprims.smtp_resolve_mx(domain, _nameserver(nameserver), _client.seconds(timeout))


def deliver(
    message: Any,
    *,
    sender: str | None = None,
    recipients: Iterable[str] | None = None,
    port: int = 25,
    nameserver: Nameserver | None = None,
    dns_timeout: float | None = None,
    **options: Any,
) -> dict[str, SendResult | MailError]:
    """Deliver straight to each recipient domain's mail exchangers, as an MTA does.

    Recipients are grouped by domain; for each, the MX hosts are tried in preference order
    (then each host's addresses) until one takes or refuses the message; unreachable hosts
    and temporary failures move on to the next. Returns, per domain, the
    :class:`SendResult` or the error that ended the attempt. ``options`` are those of
    :class:`SmtpClient` (``tls``, ``timeout``, ``local_hostname``...).
    """
    client = SmtpClient("mx", port, **options)
    result: dict[str, SendResult | MailError] = _mailprims.smtp_deliver(
        client._core,
        _message_bytes(message),
        sender,
        None if recipients is None else list(recipients),
        _nameserver(nameserver),
        _client.seconds(dns_timeout),
    )
    return result


async def deliver_async(
    message: Any,
    *,
    sender: str | None = None,
    recipients: Iterable[str] | None = None,
    port: int = 25,
    nameserver: Nameserver | None = None,
    dns_timeout: float | None = None,
    **options: Any,
) -> dict[str, SendResult | MailError]:
    """:func:`deliver` for asyncio."""
    client = AsyncSmtpClient("mx", port, **options)
    result: dict[str, SendResult | MailError] = await _mailprims.smtp_deliver(
        client._core,
        _message_bytes(message),
        sender,
        None if recipients is None else list(recipients),
        _nameserver(nameserver),
        _client.seconds(dns_timeout),
    )
    return result
