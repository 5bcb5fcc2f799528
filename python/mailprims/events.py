"""What the servers did, for an operator's log: :class:`ServerEvent`.

Give :class:`~mailprims.SmtpServer`, :class:`~mailprims.Pop3Server` or
:class:`~mailprims.ImapServer` an ``on_event`` callable and it is called with a
:class:`ServerEvent` for every message accepted (SMTP), every login, failed login, retrieval
and deletion (POP3, IMAP) and every APPEND (IMAP). The sessions never wait for it:
events are queued in the Rust core and handed to the callback from one thread, in the order
they happened; ``stop()`` returns once the events so far have been handed over. An exception
in the callback is logged (logger ``mailprims.events``) and does not affect the servers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

__all__ = ["ServerEvent"]


class ServerEvent(NamedTuple):
    """One thing a server did.

    ``kind`` is ``"delivered"`` (SMTP: a message accepted, after delivery to the store when
    there is one), ``"login"``, ``"login_failed"``, ``"retrieved"`` (POP3 RETR, an IMAP FETCH
    of a whole message) or ``"deleted"`` (removed at POP3 QUIT, or expunged over IMAP), and
    ``"appended"`` (IMAP APPEND). ``peer`` is the client's ``(host, port)``; ``user`` the SMTP
    AUTH user or the POP3/IMAP account (for a failed login, the name given); ``id`` the SMTP
    queue id, the POP3 UIDL or the IMAP UID; ``sender`` and ``recipients`` the SMTP envelope;
    ``size`` the message's octets; ``tls`` whether the connection was encrypted;
    ``mechanism`` how a login was made (``"USER"``, ``"APOP"``, ``"AUTH PLAIN"``,
    ``"LOGIN"``, ``"AUTHENTICATE PLAIN"``). ``str(event)`` is a log line.
    """

    kind: str
    peer: tuple[str, int]
    user: str | None = None
    id: str | None = None
    sender: str | None = None
    recipients: tuple[str, ...] = ()
    size: int = 0
    tls: bool = False
    mechanism: str | None = None

    def __str__(self) -> str:
        fields = [self.kind]
        if self.id is not None:
            fields.append(f"{'id' if self.kind == 'delivered' else 'uid'}={self.id}")
        if self.sender is not None:
            fields.append(f"from=<{self.sender}>")
        if self.recipients:
            fields.append("to=" + ",".join(f"<{r}>" for r in self.recipients))
        if self.user is not None:
            fields.append(f"user={self.user}")
        if self.mechanism is not None:
            fields.append(f"via={self.mechanism.replace(' ', '-')}")
        if self.kind in ("delivered", "retrieved", "deleted", "appended"):
            fields.append(f"size={self.size}")
        fields.append(f"peer={self.peer[0]}")
        if self.tls:
            fields.append("tls")
        return " ".join(fields)


def _callback(on_event: Callable[[ServerEvent], object] | None) -> Callable[..., None] | None:
    """What the Rust core calls with each :class:`ServerEvent` (built there by field name):
    calls ``on_event``, logging (never raising) what it raises."""
    if on_event is None:
        return None
    if not callable(on_event):
        raise TypeError(f"on_event must be callable, not {type(on_event).__name__}")

    def emit(event: ServerEvent) -> None:
        try:
            on_event(event)
        except Exception:
            # logging is imported here, not at import time (import mailprims stays quick).
            import logging

            logging.getLogger("mailprims.events").exception(
                "on_event callback failed for %s", event
            )

    return emit
