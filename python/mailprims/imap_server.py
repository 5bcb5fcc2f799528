"""An IMAP server (RFC 9051 IMAP4rev2, and RFC 3501 IMAP4rev1) over a Maildir store.

:class:`ImapServer` serves the Maildirs of a :class:`~mailprims.MaildirStore` to the
accounts of a :class:`~mailprims.Users`, the way Dovecot serves them: folders are Maildir++
directories (``.Sent``, ``.Archive.2024``), flags are the letters after ``:2,`` in the file
names, and UIDs and keywords live in Dovecot's own ``dovecot-uidlist`` and
``dovecot-keywords`` files, so Dovecot, Python's :mod:`mailbox` and this server can take
turns on the same mail. Messages delivered by a :class:`~mailprims.SmtpServer` on the same
store reach every session in IDLE at once.

>>> import imaplib, tempfile
>>> import mailprims as mp
>>> store = mp.MaildirStore(tempfile.mkdtemp())
>>> users = mp.Users()
>>> users.add("alice", "secret")
>>> _ = store.deliver(b"Subject: hi\\r\\n\\r\\nhello\\r\\n", ["alice"])
>>> with mp.ImapServer(store=store, users=users) as server:
...     client = imaplib.IMAP4("127.0.0.1", server.port)
...     _ = client.login("alice", "secret")
...     _ = client.select("INBOX")
...     typ, data = client.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
...     _ = client.logout()
>>> data[0][1]
b'Subject: hi\\r\\n\\r\\n'
"""

from __future__ import annotations

import os
from collections.abc import Callable

from mailprims import _mailprims
from mailprims._server import ServerBase, core_arguments
from mailprims.events import ServerEvent
from mailprims.store import MaildirStore, Users

__all__ = ["ImapServer"]


class ImapServer(ServerBase):
    """An IMAP server on ``host:port`` (``port=0`` picks a free port; see :attr:`port`)
    serving ``store``'s Maildirs to ``users``' accounts.

    Run it in the background with :meth:`start`/:meth:`stop` (or ``with``), or in asyncio
    with ``await server.serve()``.

    It speaks IMAP4rev2 and IMAP4rev1 with LITERAL+, SASL-IR, ID, ENABLE, IDLE, NAMESPACE,
    UNSELECT, UIDPLUS (APPENDUID, COPYUID, UID EXPUNGE), MOVE, CHILDREN, LIST-EXTENDED,
    LIST-STATUS, SPECIAL-USE, ESEARCH, SEARCHRES, BINARY and STATUS=SIZE. The hierarchy
    separator is ``/``; at first login the folders Drafts, Sent, Trash, Junk and Archive are
    created with their special-use attributes (``special_folders=False`` leaves them out).

    Security: ``tls_cert``/``tls_key`` (PEM file paths) offer STARTTLS, or TLS from the first
    byte with ``implicit_tls=True`` (port 993). Passwords (LOGIN, AUTHENTICATE PLAIN) are
    refused over unencrypted connections from other hosts (LOGINDISABLED) unless
    ``allow_insecure_auth=True``; clients on the server's own address count as secure, as in
    Dovecot. A failed login is answered after ``auth_failure_delay`` seconds; after
    ``max_auth_failures`` failures, or ``max_errors`` bad commands, the connection is closed.
    Sessions are closed after ``login_timeout`` seconds of silence before login and
    ``timeout`` seconds after it (30 minutes, IDLE included, as RFC 9051 asks). Command lines
    are limited to ``max_line`` octets, literals to ``max_literal`` (``max_message_size`` for
    APPEND, whose message goes straight to disk as it arrives). Mailbox names that could
    reach outside the user's Maildir (``..``, ``/`` in a level, control characters) are
    refused.

    Other processes' changes (Dovecot, a mail client on the files) are seen when a command
    looks at the mailbox, and every ``check_interval`` seconds during IDLE. :meth:`stop` lets
    commands in flight finish for up to ``shutdown_grace`` seconds.

    Logging: ``on_event`` is called with a :class:`~mailprims.ServerEvent` for every login
    (``"login"``, ``"login_failed"``), APPEND (``"appended"``), whole-message FETCH
    (``"retrieved"``) and expunged message (``"deleted"``), its ``id`` the UID; the sessions
    never wait for it (see :mod:`mailprims.events`).
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
        timeout: float = 1800.0,
        login_timeout: float = 60.0,
        auth_failure_delay: float = 2.0,
        max_auth_failures: int = 3,
        max_errors: int = 20,
        max_connections: int = 1000,
        max_line: int = 65536,
        max_literal: int = 65536,
        max_message_size: int = 64 << 20,
        special_folders: bool = True,
        check_interval: float = 2.0,
        shutdown_grace: float = 30.0,
        on_event: Callable[[ServerEvent], object] | None = None,
    ) -> None:
        arguments = core_arguments(locals())
        self.store = store
        self.users = users
        self._core = _mailprims.ImapServerCore(**arguments)

    @property
    def loaded_mailboxes(self) -> int:
        """Mailboxes held in memory: selected by a session now, or lately."""
        return self._core.loaded_mailboxes
