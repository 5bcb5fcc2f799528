"""Exceptions raised by mailprims.

Every exception derives from :class:`MailError`. Where the meaning matches a built-in
exception, the class derives from that too, so existing ``except`` clauses keep working:
decoding problems are also :class:`ValueError`, timeouts also :class:`TimeoutError`,
connection failures also :class:`ConnectionError`.
"""

from __future__ import annotations

# Annotations only: typing and the aliases module are not imported with the package
# (issue 14: import time). Type checkers read `TYPE_CHECKING = False` as True.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "AccountError",
    "AddressError",
    "AuthError",
    "CodecError",
    "ConfigError",
    "DnsError",
    "ImapError",
    "MailConnectionError",
    "MailError",
    "MailTimeoutError",
    "MailboxLockedError",
    "MessageNotFoundError",
    "ParseError",
    "Pop3Error",
    "ProtocolError",
    "SmtpError",
    "SmtpNotSupportedError",
    "SmtpPermanentError",
    "SmtpRecipientsRefused",
    "SmtpTemporaryError",
    "StoreError",
    "TlsError",
    "UsersFileError",
]


class MailError(Exception):
    """Root of every exception mailprims raises."""

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword attributes survive pickling (process pools, distributed workers).
        return (_rebuild, (type(self), self.args, self.__dict__))


def _rebuild(cls: type[MailError], args: tuple[Any, ...], state: dict[str, Any]) -> MailError:
    exc = cls.__new__(cls, *args)
    Exception.__init__(exc, *args)
    exc.__dict__.update(state)
    return exc


class CodecError(MailError, ValueError):
    """Data could not be encoded or (strictly) decoded.

    ``offset`` and ``byte`` locate the offending input byte when there is one.
    """

    def __init__(
        self,
        message: str,
        *,
        codec: str | None = None,
        reason: str | None = None,
        offset: int | None = None,
        byte: int | None = None,
    ) -> None:
        super().__init__(message)
        self.codec = codec
        self.reason = reason
        self.offset = offset
        self.byte = byte


class ParseError(MailError, ValueError):
    """Input could not be read as the requested structure (strict parsing only)."""


class AddressError(MailError, ValueError):
    """An e-mail address is not valid; ``text`` is the offending input."""

    def __init__(self, message: str, *, text: str | None = None) -> None:
        super().__init__(message)
        self.text = text


class ProtocolError(MailError):
    """The peer broke the protocol (malformed reply, unexpected state)."""


class MailTimeoutError(MailError, TimeoutError):
    """A network operation timed out."""


class MailConnectionError(MailError, ConnectionError):
    """A connection could not be made, or was lost."""


class TlsError(MailConnectionError):
    """The TLS handshake failed, e.g. the server's certificate did not verify.

    ``reason`` says why when the client can tell, and the message then says what to do:
    ``"unknown_issuer"`` (a self-signed or private-CA certificate: pass ``cafile=``),
    ``"wrong_name"`` (pass ``tls_hostname=``), ``"expired"``, ``"not_tls"`` (implicit TLS
    to a port that speaks plain text first: use ``tls="starttls"``), ``"other"``; ``None``
    for failures outside a client handshake (no STARTTLS offered, say).
    """

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason


class ConfigError(MailError, ValueError):
    """Bad configuration, such as a certificate that does not match its key."""


class SmtpError(MailError):
    """An SMTP server replied with an error.

    ``code`` is the three-digit reply code, ``enhanced_code`` the RFC 3463 status code
    (such as ``"5.1.1"``) when the server sent one, and ``text`` the reply text.
    """

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        enhanced_code: str | None = None,
        text: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.enhanced_code = enhanced_code
        self.text = text


class SmtpTemporaryError(SmtpError):
    """A 4xx reply: the server may accept the same command later."""


class SmtpPermanentError(SmtpError):
    """A 5xx reply: retrying the same command will fail again."""


class SmtpRecipientsRefused(SmtpError):
    """Every recipient was refused; ``recipients`` maps each address to its reply."""

    def __init__(
        self,
        message: str,
        *,
        recipients: dict[str, Any] | None = None,
        code: int | None = None,
        enhanced_code: str | None = None,
        text: str | None = None,
    ) -> None:
        super().__init__(message, code=code, enhanced_code=enhanced_code, text=text)
        self.recipients = recipients or {}


class Pop3Error(MailError):
    """A POP3 server answered ``-ERR``; ``text`` is the server's text and ``code`` its
    response code (RFC 2449 §8, RFC 3206) such as ``"IN-USE"``, ``"AUTH"`` or ``"SYS/TEMP"``,
    when it sent one."""

    def __init__(self, message: str, *, text: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.text = text
        self.code = code


class StoreError(MailError, OSError):
    """A mail store operation failed where no more specific ``OSError`` applies: a full disk
    or quota (``errno.ENOSPC``, ``errno.EDQUOT``), an I/O error, a read-only file system.

    ``errno``, ``strerror`` and ``filename`` are set as for any ``OSError``; the strerror names
    the step that failed (``fsync``, ``deliver``...). A missing mailbox or file raises
    ``FileNotFoundError`` and a permission problem ``PermissionError``, as ``open()`` would.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        # OSError's own reduce keeps errno, strerror and filename.
        reduced = OSError.__reduce__(self)
        assert isinstance(reduced, tuple)
        return reduced


class MailboxLockedError(StoreError):
    """Another process or session holds the mailbox lock.

    For a POP3 maildrop this is RFC 3206's ``[IN-USE]``. ``holder`` is what the lock file says
    about its owner (``"<pid>:<host>"``) when it says anything.
    """

    def __init__(self, *args: Any, holder: str | None = None) -> None:
        super().__init__(*args)
        self.holder = holder


class MessageNotFoundError(MailError, KeyError):
    """No message with this key in the mailbox (a ``KeyError``, as in :mod:`mailbox`)."""

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class AccountError(MailError, ValueError):
    """A user or alias name is invalid (path traversal, control characters...), already
    exists, is unknown, or is still in use. ``name`` and ``reason`` say which and why."""

    def __init__(self, message: str, *, name: str | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.name = name
        self.reason = reason


class UsersFileError(ParseError):
    """A users file could not be read: ``path``, ``lineno`` (1-based), ``line`` and ``reason``
    locate the problem."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        lineno: int | None = None,
        line: str | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(message)
        self.path = path
        self.lineno = lineno
        self.line = line
        self.reason = reason


class SmtpNotSupportedError(SmtpError):
    """The message or the options need an SMTP extension the server does not offer
    (SMTPUTF8 for non-ASCII addresses, 8BITMIME for an 8-bit body, AUTH, DSN...)."""


class DnsError(MailError):
    """A DNS lookup failed. ``permanent`` is true when the domain does not exist or accepts
    no mail (null MX, RFC 7505); otherwise the lookup may succeed later."""

    def __init__(self, message: str, *, domain: str | None = None, permanent: bool = False) -> None:
        super().__init__(message)
        self.domain = domain
        self.permanent = permanent


class AuthError(MailError, ValueError):
    """E-mail authentication could not be done: a DKIM key that cannot be read or cannot
    sign (``kind="key"``, ``"cannot_sign"``: RSA keys under 2048 bits verify but do not
    sign), a message that cannot be signed or sealed (``"sign"``), bad options
    (``"config"``). Verification results are never exceptions: they are
    :class:`mailprims.auth.AuthReport` values."""

    def __init__(self, message: str, *, kind: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind


class ImapError(MailError):
    """An IMAP server refused a command (``NO``, ``BAD``) or ended the session (``BYE``), or
    lacks an extension the call needs (then ``status`` is None). ``status`` is ``"NO"``,
    ``"BAD"`` or ``"BYE"``; ``code`` the response code's name (``"TRYCREATE"``,
    ``"AUTHENTICATIONFAILED"``, ``"NONEXISTENT"``...) when the server sent one; ``text`` the
    server's human-readable text."""

    def __init__(
        self,
        message: str,
        *,
        status: str | None = None,
        text: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.text = text
        self.code = code
