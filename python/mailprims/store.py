"""Storing mail: Maildir and mbox mailboxes, one Maildir per user, and user accounts.

- :class:`Maildir`: one mailbox in the Maildir format (``tmp/``, ``new/``, ``cur/``) as the
  Maildir spec, Dovecot and Python's :class:`mailbox.Maildir` use it, with durable delivery.
- :class:`Mbox`: an mbox file as :class:`mailbox.mbox`, Postfix and Dovecot write it.
- :class:`MaildirStore`: ``root/<user>/`` Maildirs, what the SMTP server delivers to and the
  POP3 server serves.
- :class:`Users`: accounts with Argon2id password hashes, APOP secrets, aliases, local domains.

Iterating a mailbox or indexing it gives lazily parsed :class:`mailprims.Message` objects
(through :func:`_to_message`); ``get_bytes`` and ``items_bytes`` give raw bytes.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import BinaryIO

from mailprims import _mailprims
from mailprims._mailprims import MaildirEntry, MaildropLock, Message

__all__ = ["Maildir", "MaildirEntry", "MaildirStore", "MaildropLock", "Mbox", "Users"]

#: What iterating or indexing a mailbox yields (see :func:`_to_message`).
MessageData = Message


def _to_message(data: bytes) -> MessageData:
    """Turn a stored message into what ``mailbox[key]`` and ``iter(mailbox)`` return: a
    lazily parsed :class:`mailprims.Message` (parsing only records byte ranges, so iterating
    a large mailbox and reading one header each is cheap). ``get_bytes`` and ``items_bytes``
    give the raw bytes.
    """
    return Message.parse(data)


class Maildir(_mailprims.MaildirBase):
    """One Maildir: ``Maildir(path, create=True)``.

    Files and names are those of the Maildir spec (cr.yp.to/proto/maildir.html), Dovecot and
    :class:`mailbox.Maildir`: a message's key is its unique file name before ``:``,
    ``<secs>.M<usecs>P<pid>Q<n>.<host>,S=<size>,W=<crlf size>`` for messages added here (the
    ``S`` and ``W`` fields are Dovecot's, so sizes are known without reading). Flags are the
    info suffix ``:2,<flags>`` in ASCII order (``D`` draft, ``F`` flagged, ``P`` passed, ``R``
    replied, ``S`` seen, ``T`` trashed).

    :meth:`add` is durable: the message is written to ``tmp/``, fsynced, moved into ``new/``
    without ever replacing a file, and ``new/`` is fsynced before the key is returned;
    concurrent adds share directory fsyncs, and a failure leaves nothing in ``new/``. The GIL
    is released during every file operation.

    Iteration and ``maildir[key]`` yield messages; :meth:`keys` are in delivery order.
    Missing keys raise :class:`~mailprims.MessageNotFoundError` (a ``KeyError``).
    """

    def __getitem__(self, key: str) -> MessageData:
        return _to_message(self.get_bytes(key))

    def __delitem__(self, key: str) -> None:
        self.remove(key)

    def __iter__(self) -> Iterator[MessageData]:
        for _key, data in self.items_bytes():
            yield _to_message(data)

    def iterkeys(self) -> Iterator[str]:
        """Iterate over the keys, in delivery order."""
        return iter(self.keys())

    def items(self) -> Iterator[tuple[str, MessageData]]:
        """``(key, message)`` pairs, each message read when reached."""
        for key, data in self.items_bytes():
            yield key, _to_message(data)

    def get_path(self, key: str) -> str:
        """The current path of the message's file (it changes when flags change)."""
        return self._message_path(key)

    def get_file(self, key: str) -> BinaryIO:
        """The message file, open for reading in binary mode (close it when done)."""
        return open(self._open_fd(key), "rb")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path!r})"

    def __reduce__(self) -> tuple[type[Maildir], tuple[str, bool]]:
        return (type(self), (self.path, False))


class Mbox(_mailprims.MboxBase):
    """One mbox file: ``Mbox(path, create=True)``.

    Reads what :class:`mailbox.mbox`, Postfix and Dovecot write, finding messages as
    :class:`mailbox.mbox` does, without loading the file: iteration reads one message at a
    time. Quoting is mboxrd: :meth:`add` prefixes ``>`` to lines matching ``>*From ``, reading
    removes one ``>`` (so ``>From`` lines quoted by an mboxo writer such as Python's
    :mod:`mailbox` come back as ``From``).

    :meth:`add` takes the locks :meth:`mailbox.mbox.lock` takes (``fcntl`` and
    ``<path>.lock``), writes the message at the end in one piece and fsyncs; a failure truncates
    the file back. Messages are numbered from 0.
    """

    def add(
        self,
        data: bytes | bytearray | memoryview,
        *,
        sender: str | None = None,
        date: datetime.datetime | float | None = None,
        sync: bool = True,
        lock_timeout: float = 10.0,
    ) -> int:
        """Append a message; returns its index.

        A message that starts with a ``From `` line keeps it (as with :mod:`mailbox`);
        otherwise the line is ``From <sender> <date>``, with ``MAILER-DAEMON`` for no sender
        and the current time for no date. Waits up to ``lock_timeout`` seconds for another
        writer's lock, then raises :class:`~mailprims.MailboxLockedError`.
        """
        if isinstance(date, datetime.datetime):
            date = date.timestamp()
        return super().add(data, sender=sender, date=date, sync=sync, lock_timeout=lock_timeout)

    def __getitem__(self, index: int) -> MessageData:
        return _to_message(self.get_bytes(index))

    def __iter__(self) -> Iterator[MessageData]:
        for _index, data in self.items_bytes():
            yield _to_message(data)

    def keys(self) -> list[int]:
        """The message indexes."""
        return list(range(len(self)))

    def __enter__(self) -> Mbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.unlock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path!r})"

    def __reduce__(self) -> tuple[type[Mbox], tuple[str, bool]]:
        return (type(self), (self.path, False))


class MaildirStore(_mailprims.MaildirStoreBase):
    """One Maildir per user at ``root/<user>/``: ``MaildirStore(root, create=True)``.

    User names become directory names, so they are checked: ``/``, ``\\``, ``..``, NUL, a
    leading dot, control characters, white space, ``:`` and ``@`` are refused with
    :class:`~mailprims.AccountError`.
    """

    def mailbox(self, user: str, *, create: bool = True) -> Maildir:
        """``user``'s :class:`Maildir`, created on first use unless ``create`` is false (then
        a missing one raises ``FileNotFoundError``)."""
        return Maildir(self._mailbox_path(user, create), create=False)

    def __getitem__(self, user: str) -> Maildir:
        return self.mailbox(user, create=False)

    def __iter__(self) -> Iterator[str]:
        return iter(self.users())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.root!r})"


class Users(_mailprims.UsersBase):
    """Accounts, aliases and local domains: ``Users(domains=())``.

    Passwords are stored as Argon2id hashes; :meth:`verify` does the same work for unknown
    names and compares in constant time. ``postmaster`` always resolves (RFC 5321 §4.5.1): to
    the target of a ``postmaster`` alias, else to a mailbox named ``postmaster``. Names match
    case-insensitively. :meth:`save` and :meth:`load` use a text file, one entry a line::

        domain example.org
        alice:$argon2id$v=19$m=19456,t=2,p=1$...
        bob:$argon2id$v=19$...:apop=s3cret
        noreply:!
        postmaster: alice
    """

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {len(self)} accounts, domains={self.domains!r}>"
