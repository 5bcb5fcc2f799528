"""pytest fixtures for testing an application's e-mail: real SMTP and POP3 servers inside the
test process, on free loopback ports, torn down after each test. What GreenMail and Mailpit
are used for, without a separate server to run.

Installed with mailprims (entry point ``pytest11``), so nothing needs configuring:

- ``smtp_server``: a running :class:`~mailprims.SmtpServer` keeping what it receives in
  memory (a :class:`~mailprims.Sink`): ``smtp_server.messages`` is a list of
  :class:`~mailprims.Envelope` (``mail_from``, ``rcpt_tos``, ``content``, ``message``)
  whose repr lists sender, recipients and subject of each, so a failing ``assert`` on it
  shows what the server received.
- ``mail_system``: SMTP in, POP3 and IMAP out over a temporary Maildir store, with
  accounts: a :class:`MailSystem` (``host``, ``smtp_port``, ``pop3_port``, ``imap_port``,
  ``passwords``, ``mailbox("bob")``, ``messages("bob")``, ``wait_for_messages``...), and a
  web inbox over the same store (``web``, started when first used) with the race-free
  ``wait_for_message("to:bob subject:welcome")``.

Markers configure them: ``@pytest.mark.smtp_server(tls=True, auth={"user": "pw"}, ...)``
and ``@pytest.mark.mail_system(users={"alice": "pw"}, tls=True, domains=[...], ...)``; other
keyword arguments go to :class:`~mailprims.SmtpServer`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

import mailprims as mp

__all__ = ["DEFAULT_USERS", "MailSystem", "SmtpTestServer"]

#: The accounts of ``mail_system`` unless its marker gives ``users=``.
DEFAULT_USERS: Mapping[str, str] = {"alice": "alice-password", "bob": "bob-password"}

_HOSTNAME = "mail.test"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "smtp_server(tls=False, auth=None, **options): configure the smtp_server fixture "
        "(mailprims): tls=True offers STARTTLS with a self-signed certificate (its file: "
        "smtp_server.cafile); auth={'user': 'password'} enables AUTH; other options go to "
        "mailprims.SmtpServer.",
    )
    config.addinivalue_line(
        "markers",
        "mail_system(users=None, tls=False, domains=None, **options): configure the "
        "mail_system fixture (mailprims): users={'name': 'password'} replaces the default "
        "accounts alice and bob; tls=True offers STARTTLS/STLS on SMTP, POP3 and IMAP "
        "(mail_system.cafile); other options go to mailprims.SmtpServer.",
    )


def _marker_options(request: pytest.FixtureRequest, name: str) -> dict[str, Any]:
    marker = request.node.get_closest_marker(name)
    if marker is None:
        return {}
    if marker.args:
        raise pytest.UsageError(f"@pytest.mark.{name} takes keyword arguments only")
    return dict(marker.kwargs)


def _certificate(request: pytest.FixtureRequest) -> tuple[Path, Path]:
    directory: Path = request.getfixturevalue("tmp_path_factory").mktemp("mailprims-tls")
    return mp.tls.write_self_signed_certificate(directory)


class SmtpTestServer(mp.SmtpServer):
    """The ``smtp_server`` fixture: a :class:`~mailprims.SmtpServer` with a
    :class:`~mailprims.Sink`, plus ``cafile`` (the certificate to trust with ``tls=True``,
    else ``None``) and ``auth`` (the accounts AUTH accepts)."""

    __test__ = False  # not a test class, despite the name

    cafile: Path | None
    auth: dict[str, str]

    def _repr_extra(self) -> str:
        tls = " tls" if self.cafile is not None else ""
        auth = f" auth={sorted(self.auth)}" if self.auth else ""
        return f"{tls}{auth}{super()._repr_extra()}"

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)``, as :class:`smtplib.SMTP` and ``socket.create_connection`` take."""
        return (self.host, self.port)


@pytest.fixture
def smtp_server(request: pytest.FixtureRequest) -> Iterator[SmtpTestServer]:
    """A running SMTP server on 127.0.0.1 keeping every message it accepts in
    ``.messages``; stopped after the test. Configure it with
    ``@pytest.mark.smtp_server(...)``."""
    options = _marker_options(request, "smtp_server")
    tls = bool(options.pop("tls", False))
    auth = dict(options.pop("auth", None) or {})
    cafile = None
    if tls:
        cafile, key = _certificate(request)
        options.setdefault("tls_cert", str(cafile))
        options.setdefault("tls_key", str(key))
    if auth:
        options.setdefault("authenticator", lambda user, password: auth.get(user) == password)
        # Test clients (smtplib) log in without TLS unless the test asks for TLS.
        options.setdefault("auth_require_tls", tls)
    options.setdefault("hostname", _HOSTNAME)
    options.setdefault("shutdown_grace", 5.0)
    server = SmtpTestServer("127.0.0.1", 0, handler=mp.Sink(), **options)
    server.cafile = cafile
    server.auth = auth
    server.start()
    try:
        yield server
    finally:
        server.stop()


# Argon2id hashing is slow on purpose; the accounts of a given user set are hashed once per
# test session and loaded from their users-file text afterwards.
_USERS_TEXT: dict[tuple[tuple[str, str], ...], str] = {}


def _users(passwords: Mapping[str, str], domains: list[str]) -> mp.Users:
    key = tuple(sorted(passwords.items()))
    text = _USERS_TEXT.get(key)
    if text is None:
        users = mp.Users()
        for name, password in passwords.items():
            users.add(name, password, apop_secret=password)
        text = _USERS_TEXT[key] = users.dumps()
    users = mp.Users.loads(text)
    for domain in domains:
        users.add_domain(domain)
    return users


class MailSystem:
    """The ``mail_system`` fixture: SMTP, POP3 and IMAP servers on 127.0.0.1 over one
    temporary Maildir store.

    ``smtp``, ``pop3`` and ``imap`` are the servers, ``host``, ``smtp_port``, ``pop3_port``
    and ``imap_port`` where they listen, ``store`` the :class:`~mailprims.MaildirStore`,
    ``users`` the
    :class:`~mailprims.Users` and ``passwords`` the accounts' passwords (which are also
    their APOP secrets), ``cafile`` the certificate to trust when TLS is on (else ``None``),
    and ``events`` every :class:`~mailprims.ServerEvent` so far (deliveries, logins,
    retrievals, deletions).

    Without ``domains``, every domain is local: mail for ``bob@anything`` goes to bob.
    Passwords are accepted without TLS from this machine (POP3 and IMAP as Dovecot does;
    SMTP AUTH when TLS is off), so :mod:`smtplib`, :mod:`poplib` and :mod:`imaplib` work as
    they are; a message the SMTP server accepts reaches an IMAP session in IDLE at once.
    """

    __test__ = False

    def __init__(
        self,
        root: Path,
        passwords: Mapping[str, str],
        *,
        tls: bool = False,
        domains: list[str] | None = None,
        **smtp_options: Any,
    ) -> None:
        self.host = "127.0.0.1"
        self.passwords = dict(passwords)
        self._events: list[mp.ServerEvent] = []
        self.store = mp.MaildirStore(root / "mail")
        self.users = _users(self.passwords, domains or [])
        for name in self.passwords:
            self.store.mailbox(name)
        self.cafile: Path | None = None
        self._web: mp.WebInbox | None = None
        self._web_client: mp.WebInboxClient | None = None
        tls_options: dict[str, Any] = {}
        if tls:
            self.cafile, key = mp.tls.write_self_signed_certificate(root)
            tls_options = {"tls_cert": str(self.cafile), "tls_key": str(key)}
        smtp_options.setdefault("auth_require_tls", tls)
        smtp_options.setdefault("hostname", _HOSTNAME)
        smtp_options.setdefault("shutdown_grace", 5.0)
        # Tests try wrong passwords on purpose: answer them at once, as the POP3 side does.
        smtp_options.setdefault("auth_failure_delay", 0.0)
        self.smtp = mp.SmtpServer(
            self.host,
            0,
            store=self.store,
            users=self.users,
            domains=domains,
            on_event=self._events.append,
            **tls_options,
            **smtp_options,
        )
        # POP3 and IMAP serve the same mailboxes with the same settings.
        mailbox_options: dict[str, Any] = {
            "store": self.store,
            "users": self.users,
            "hostname": _HOSTNAME,
            "auth_failure_delay": 0.0,
            "shutdown_grace": 5.0,
            "on_event": self._events.append,
            **tls_options,
        }
        self.pop3 = mp.Pop3Server(self.host, 0, **mailbox_options)
        self.imap = mp.ImapServer(self.host, 0, **mailbox_options)

    def start(self) -> None:
        """Start the servers."""
        self.smtp.start()
        try:
            self.pop3.start()
            self.imap.start()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the servers (and the web inbox, if it was started)."""
        try:
            self.smtp.stop()
        finally:
            try:
                self.pop3.stop()
            finally:
                try:
                    self.imap.stop()
                finally:
                    if self._web is not None:
                        self._web.stop()

    @property
    def web(self) -> mp.WebInbox:
        """A :class:`~mailprims.WebInbox` over this system's store, without login (open
        ``mail_system.web.url`` in a browser); started on first use. Everything already in
        the store is indexed when it starts, so nothing sent before is missed."""
        if self._web is None:
            web = mp.WebInbox(self.store, shutdown_grace=2.0)
            web.start()
            self._web = web
        return self._web

    def web_client(self) -> mp.WebInboxClient:
        """A :class:`~mailprims.WebInboxClient` for :attr:`web` (its JSON API)."""
        if self._web_client is None:
            self._web_client = self.web.client()
        return self._web_client

    def wait_for_message(
        self, query: str = "", timeout: float = 5.0, *, after: int = 0
    ) -> mp.InboxMessage:
        """The oldest message (of any mailbox) matching ``query`` (the web inbox's search:
        ``"to:bob subject:welcome"``, words, ``has:attachment``...), returned as soon as it
        is there, even if it arrived before this call: no race with an application that
        sends in the background. ``after`` (a previous message's ``seq``, or
        ``web_client().cursor()``) skips what came earlier. :class:`TimeoutError` after
        ``timeout`` seconds. ``web_client().message(found.id)`` parses it."""
        return self.web_client().wait(query, after=after, timeout=timeout)

    @property
    def events(self) -> list[mp.ServerEvent]:
        """Every :class:`~mailprims.ServerEvent` so far: SMTP deliveries, POP3 and IMAP
        logins, retrievals, appends and deletions (the servers' ``on_event``)."""
        self.smtp.flush_events()
        self.pop3.flush_events()
        self.imap.flush_events()
        return list(self._events)

    @property
    def smtp_port(self) -> int:
        """The SMTP server's port."""
        return self.smtp.port

    @property
    def pop3_port(self) -> int:
        """The POP3 server's port."""
        return self.pop3.port

    @property
    def imap_port(self) -> int:
        """The IMAP server's port."""
        return self.imap.port

    def mailbox(self, user: str) -> mp.Maildir:
        """``user``'s Maildir."""
        return self.store.mailbox(user, create=False)

    def messages(self, user: str) -> list[mp.Message]:
        """The messages in ``user``'s Maildir, oldest first."""
        return list(self.mailbox(user))

    def wait_for_messages(
        self, user: str, count: int = 1, timeout: float = 5.0
    ) -> list[mp.Message]:
        """Wait until ``user`` has at least ``count`` messages (for applications that send
        in the background), then return them; :class:`TimeoutError` after ``timeout``
        seconds."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.messages(user)
            if len(found) >= count:
                return found
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"{user} has {len(found)} message(s) after {timeout} s, expected {count}"
                )
            time.sleep(0.02)

    def smtp_client(self, **options: Any) -> mp.SmtpClient:
        """A :class:`~mailprims.SmtpClient` for this system's SMTP server."""
        options.setdefault("tls", "starttls" if self.cafile else "none")
        if self.cafile:
            options.setdefault("cafile", self.cafile)
        return mp.SmtpClient(self.host, self.smtp_port, **options)

    def pop3_client(self, **options: Any) -> mp.Pop3Client:
        """A :class:`~mailprims.Pop3Client` for this system's POP3 server."""
        options.setdefault("tls", "starttls" if self.cafile else "none")
        if self.cafile:
            options.setdefault("cafile", self.cafile)
        else:
            options.setdefault("allow_insecure_auth", True)
        return mp.Pop3Client(self.host, self.pop3_port, **options)

    def __repr__(self) -> str:
        return (
            f"<MailSystem smtp={self.host}:{self.smtp.port} pop3={self.host}:{self.pop3.port} "
            f"imap={self.host}:{self.imap.port} users={sorted(self.passwords)}>"
        )


@pytest.fixture
def mail_system(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MailSystem]:
    """SMTP, POP3 and IMAP servers over a temporary Maildir store, with the accounts alice
    and bob (see :class:`MailSystem`); stopped after the test. Configure it with
    ``@pytest.mark.mail_system(...)``."""
    options = _marker_options(request, "mail_system")
    passwords = options.pop("users", None) or DEFAULT_USERS
    system = MailSystem(tmp_path, passwords, **options)
    system.start()
    try:
        yield system
    finally:
        system.stop()
