"""The web inbox: a web UI and a JSON API over a :class:`~mailprims.MaildirStore`, what
Mailpit and MailHog are used for, inside the process.

:class:`WebInbox` runs beside (or without) the SMTP and POP3 servers, with the same life
cycle (``start``/``stop``, ``with``, ``await serve()``). Open :attr:`WebInbox.url` in a
browser: the pages are built into the library. :class:`WebInboxClient` speaks its JSON API
(standard library only), for tests and scripts::

    with mp.WebInbox(store) as inbox:
        client = inbox.client()
        cursor = client.cursor()
        ...  # the application sends mail to the SMTP server over the same store
        message = client.wait("to:bob subject:welcome", after=cursor, timeout=10)
        assert "Welcome" in client.message(message.id).text

The API (JSON unless noted; ``ID`` is ``<mailbox>/<key>``, each half percent-encoded as one
path segment):

- ``GET /api/v1/session``: ``csrf_token``, ``user``, ``cursor``, ``ready``.
- ``POST /api/v1/login`` ``{"user", "password"}`` (with ``users=``), ``POST /api/v1/logout``.
- ``GET /api/v1/mailboxes``: names with ``total`` and ``unread``.
- ``GET /api/v1/messages?q=&mailbox=&offset=&limit=&before=`` (also ``/api/v1/search``):
  ``total``, ``cursor`` and ``messages``, newest first.
- ``GET /api/v1/messages/ID``: headers, text, MIME tree, attachments, Received trace,
  authentication results; ``/raw`` the source (``?download=1``: as a file); ``/parts/N`` a
  part's decoded bytes; ``/html`` the sanitised HTML preview.
- ``DELETE /api/v1/messages/ID``; ``POST /api/v1/messages/ID/flags`` ``{"seen": bool,
  "flagged": bool}`` (the Maildir ``S`` and ``F`` flags IMAP reads as ``\\Seen`` and
  ``\\Flagged``).
- ``GET /api/v1/wait?q=&after=CURSOR&timeout=S``: the oldest message matching ``q`` whose
  sequence number is above ``after``, at once if there is one, else as soon as one arrives
  (``{"message": null}`` after ``timeout``).
- ``GET /api/v1/events``: server-sent events ``added``, ``changed``, ``removed``, ``reset``.

State-changing requests need the ``X-CSRF-Token`` header (the session's ``csrf_token``).

The search syntax: words (subject, sender, recipients or text), ``from:``, ``to:``,
``subject:``, ``text:``, ``after:``/``before:`` (``YYYY-MM-DD`` or epoch seconds, on the Date
field), ``has:attachment``, ``is:unread``/``is:read``/``is:flagged``, ``mailbox:``; quotes
group words; every term must match (case-insensitive substrings).
"""

from __future__ import annotations

import datetime
import json
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mailprims import _mailprims
from mailprims._mailprims import Message
from mailprims._server import ServerBase
from mailprims.exceptions import (
    MailConnectionError,
    MailError,
    MailTimeoutError,
    MessageNotFoundError,
)
from mailprims.store import MaildirStore, Users

__all__ = ["InboxMessage", "MessagePage", "WebInbox", "WebInboxClient", "WebInboxError"]


class WebInboxError(MailError):
    """The web inbox refused a request: ``status`` is the HTTP status, ``text`` its
    explanation (401 log in first, 403 CSRF check failed, 400 a bad query...)."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"HTTP {status}: {text}")
        self.status = status
        self.text = text


def _time(value: int | None) -> datetime.datetime | None:
    if value is None:
        return None
    return datetime.datetime.fromtimestamp(value, datetime.timezone.utc)


@dataclass(frozen=True)
class InboxMessage:
    """One message as the inbox lists it. ``id`` (``<mailbox>/<key>``) names it in the
    other calls; ``seq`` is its place in arrival order (the cursor of
    :meth:`WebInboxClient.wait`); ``date`` is the Date field, ``received`` when it was
    delivered; ``flags`` are the Maildir flags (``S`` seen, ``F`` flagged...)."""

    id: str
    mailbox: str
    key: str
    seq: int
    subject: str
    from_: str
    to: str
    date: datetime.datetime | None
    received: datetime.datetime | None
    size: int
    flags: str
    seen: bool
    has_attachments: bool
    snippet: str
    message_id: str | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> InboxMessage:
        """Build one from the API's JSON object."""
        return cls(
            id=data["id"],
            mailbox=data["mailbox"],
            key=data["key"],
            seq=data["seq"],
            subject=data["subject"],
            from_=data["from"],
            to=data["to"],
            date=_time(data.get("date")),
            received=_time(data.get("received")),
            size=data["size"],
            flags=data["flags"],
            seen=data["seen"],
            has_attachments=data["has_attachments"],
            snippet=data["snippet"],
            message_id=data.get("message_id"),
        )


@dataclass(frozen=True)
class MessagePage:
    """One page of a listing or search: ``total`` matches in all, ``messages`` newest
    first from ``offset``; ``cursor`` is the newest sequence number when it was made."""

    total: int
    offset: int
    cursor: int
    messages: list[InboxMessage]


def _path(message_id: str, suffix: str = "") -> str:
    mailbox, sep, key = message_id.partition("/")
    if not sep:
        raise ValueError(f"a message id is '<mailbox>/<key>', not {message_id!r}")
    quote = urllib.parse.quote
    return f"/api/v1/messages/{quote(mailbox, safe='')}/{quote(key, safe='')}{suffix}"


class WebInboxClient:
    """A client for a web inbox's JSON API (standard library only: :mod:`http.client`).

    ``url`` is the inbox's address (``http://127.0.0.1:8025``); with ``user`` and
    ``password`` it logs in first (an inbox started with ``users=``). The CSRF token and the
    session cookie are handled for you. Not thread-safe: one client per thread.
    """

    def __init__(
        self,
        url: str,
        *,
        user: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"want an http:// URL, not {url!r}")
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._host = parts.hostname
        self._port = parts.port or 80
        self._cookie: str | None = None
        self._csrf: str | None = None
        if user is not None:
            self.login(user, password or "")

    def __repr__(self) -> str:
        return f"<WebInboxClient {self.url}>"

    # ---- plumbing ----

    def _request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        timeout: float | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if method not in ("GET", "HEAD") and path != "/api/v1/login":
            headers["X-CSRF-Token"] = self._csrf_token()
        if self._cookie:
            headers["Cookie"] = self._cookie
        # http.client imports ssl and email: loaded with the first request, not the module.
        import http.client

        conn = http.client.HTTPConnection(self._host, self._port, timeout=timeout or self.timeout)
        try:
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            payload = response.read()
        except TimeoutError as e:
            raise MailTimeoutError(f"{self.url}{path}: no answer in time") from e
        except OSError as e:
            raise MailConnectionError(f"cannot reach {self.url}: {e}") from e
        finally:
            conn.close()
        cookie = response.getheader("Set-Cookie")
        if cookie:
            self._cookie = cookie.split(";", 1)[0]
        return response.status, dict(response.getheaders()), payload

    def _json(
        self, method: str, path: str, *, body: Any = None, timeout: float | None = None
    ) -> Any:
        status, _, payload = self._request(method, path, body=body, timeout=timeout)
        return self._check(status, payload, path)

    @staticmethod
    def _check(status: int, payload: bytes, path: str) -> Any:
        try:
            data = json.loads(payload) if payload else {}
        except ValueError:
            data = {"error": payload[:200].decode("utf-8", "replace")}
        if status == 404:
            raise MessageNotFoundError(data.get("error", "not found"), key=path)
        if status >= 400:
            raise WebInboxError(status, data.get("error", ""))
        return data

    def _csrf_token(self) -> str:
        if self._csrf is None:
            self._csrf = self.session()["csrf_token"] or ""
        return self._csrf

    def _bytes(self, path: str) -> bytes:
        status, _, payload = self._request("GET", path)
        if status >= 400:
            self._check(status, payload, path)
        return payload

    # ---- the API ----

    def session(self) -> dict[str, Any]:
        """The session: ``user``, ``csrf_token``, ``login_required``, ``ready`` (the first
        scan of the store is done) and ``cursor``."""
        data: dict[str, Any] = self._json("GET", "/api/v1/session")
        return data

    def login(self, user: str, password: str) -> None:
        """Log in (an inbox started with ``users=``); :class:`WebInboxError` 401 if
        refused."""
        data = self._json("POST", "/api/v1/login", body={"user": user, "password": password})
        self._csrf = data["csrf_token"]

    def logout(self) -> None:
        """End the session."""
        self._json("POST", "/api/v1/logout")
        self._cookie = self._csrf = None

    def cursor(self) -> int:
        """The newest sequence number now: :meth:`wait` with ``after=`` this value sees
        only what arrives from now on (and nothing that does is missed)."""
        return int(self.session()["cursor"])

    def mailboxes(self) -> dict[str, tuple[int, int]]:
        """``{mailbox: (total, unread)}``."""
        data = self._json("GET", "/api/v1/mailboxes")
        return {m["name"]: (m["total"], m["unread"]) for m in data["mailboxes"]}

    def messages(
        self,
        query: str = "",
        *,
        mailbox: str | None = None,
        offset: int = 0,
        limit: int = 50,
        before: int | None = None,
    ) -> MessagePage:
        """A page of messages matching ``query`` (the search syntax of
        :mod:`mailprims.web`), newest first; ``before`` (a ``seq``) pages without offsets."""
        params: dict[str, Any] = {"offset": offset, "limit": limit}
        if query:
            params["q"] = query
        if mailbox:
            params["mailbox"] = mailbox
        if before is not None:
            params["before"] = before
        data = self._json("GET", f"/api/v1/messages?{urllib.parse.urlencode(params)}")
        return MessagePage(
            total=data["total"],
            offset=data["offset"],
            cursor=data["cursor"],
            messages=[InboxMessage.from_json(m) for m in data["messages"]],
        )

    def search(self, query: str, **options: Any) -> list[InboxMessage]:
        """The messages matching ``query`` (first page, ``limit`` 50 unless given)."""
        return self.messages(query, **options).messages

    def get(self, message_id: str) -> dict[str, Any]:
        """Everything the message view shows, as JSON: ``headers``, ``text``,
        ``attachments``, ``parts`` (the MIME tree), ``trace`` (hops with
        ``delay_seconds``), ``authentication_results``, ``flags``..."""
        data: dict[str, Any] = self._json("GET", _path(message_id))
        return data

    def raw(self, message_id: str) -> bytes:
        """The message's bytes, exactly as stored."""
        return self._bytes(_path(message_id, "/raw?download=1"))

    def message(self, message_id: str) -> Message:
        """The message, parsed."""
        return Message.parse(self.raw(message_id))

    def part(self, message_id: str, part: int) -> bytes:
        """A MIME part's payload (transfer encoding undone), by its ``part`` number."""
        return self._bytes(_path(message_id, f"/parts/{int(part)}"))

    def delete(self, message_id: str) -> None:
        """Delete the message from its Maildir."""
        self._json("DELETE", _path(message_id))

    def mark_read(self, message_id: str, read: bool = True) -> InboxMessage:
        """Set (or clear) the Maildir ``S`` flag, IMAP's ``\\Seen``."""
        data = self._json("POST", _path(message_id, "/flags"), body={"seen": read})
        return InboxMessage.from_json(data)

    def wait(self, query: str = "", *, after: int = 0, timeout: float = 10.0) -> InboxMessage:
        """The oldest message matching ``query`` with ``seq`` above ``after``: at once if
        one is there already, else as soon as one arrives; :class:`TimeoutError`
        (:class:`~mailprims.MailTimeoutError`) after ``timeout`` seconds. Race-free: take
        ``after`` from :meth:`cursor` before the mail is sent (or leave it 0: any matching
        message counts, however early it came)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            params = urllib.parse.urlencode(
                {"q": query, "after": after, "timeout": f"{max(left, 0.0):.3f}"}
            )
            data = self._json("GET", f"/api/v1/wait?{params}", timeout=max(left, 0.0) + 10.0)
            if data["message"] is not None:
                return InboxMessage.from_json(data["message"])
            if time.monotonic() >= deadline:
                raise MailTimeoutError(
                    f"no message matching {query!r} after {timeout} s (cursor {after})"
                )


class WebInbox(ServerBase):
    """The web inbox on ``host:port`` (``port=0`` picks a free port; see :attr:`url`) over
    ``store``'s Maildirs.

    Without ``users``, every mailbox and a combined view are open to whoever reaches the
    port, so it binds 127.0.0.1 by default and, when bound to loopback, answers only
    requests addressed to a loopback name (a defence against DNS rebinding). With ``users``
    (a :class:`~mailprims.Users`, the accounts of the POP3 and SMTP servers) it asks for a
    login and each user sees their own mailbox; a failed login is answered after
    ``auth_failure_delay`` seconds.

    The store is indexed in memory when the inbox starts (:meth:`wait_ready`) and kept
    current: mail delivered through the store (the SMTP server) is listed before the SMTP
    reply goes out, and inotify reports what other processes change. At most
    ``max_connections`` connections are served at once.
    """

    def __init__(
        self,
        store: MaildirStore,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        users: Users | None = None,
        max_connections: int = 256,
        auth_failure_delay: float = 2.0,
        session_ttl: float = 12 * 3600.0,
        shutdown_grace: float = 5.0,
    ) -> None:
        self.store = store
        self.users = users
        self._core = _mailprims.WebInboxCore(
            store,
            host,
            port,
            users=users,
            max_connections=max_connections,
            auth_failure_delay=float(auth_failure_delay),
            session_ttl=float(session_ttl),
            shutdown_grace=float(shutdown_grace),
        )

    @property
    def url(self) -> str:
        """``http://host:port`` (known once started)."""
        host = self.host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def indexed(self) -> int:
        """How many messages the index holds."""
        return self._core.indexed

    def wait_ready(self, timeout: float = 60.0) -> bool:
        """Wait until the first scan of the store is done; returns whether it is."""
        return self._core.wait_ready(timeout)

    def client(self, *, user: str | None = None, password: str | None = None) -> WebInboxClient:
        """A :class:`WebInboxClient` for this inbox (logged in with ``user``/``password``
        when given)."""
        return WebInboxClient(self.url, user=user, password=password)
