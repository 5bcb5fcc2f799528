# Stubs for the Rust extension module; checked with `python -m mypy.stubtest mailprims`.
from collections.abc import Awaitable
from typing import Any, final

from mailprims._typing import Buffer

__version__: str

def base64_encode(data: Buffer, wrap: int | None = 76) -> bytes: ...
def base64_decode(data: Buffer | str, strict: bool = False) -> bytes: ...
def qp_encode(data: Buffer, header: bool = False, binary: bool = False) -> bytes: ...
def qp_decode(data: Buffer | str, header: bool = False) -> bytes: ...
def encoded_word_encode(text: str, charset: str = "utf-8") -> str: ...
def encoded_word_decode(value: str | Buffer) -> str: ...
def params_decode(value: str | Buffer) -> tuple[str, dict[str, str]]: ...
def params_encode(name: str, value: str, charset: str = "utf-8") -> str: ...

# Runtime bridge (private; used by the package and its tests).
def _at_exit() -> None: ...
def _set_future_result(fut: Any, ok: bool, value: Any) -> None: ...
def _runtime_sleep(seconds: float) -> Awaitable[float]: ...
def _runtime_sleep_blocking(seconds: float) -> float: ...

# TLS helpers
def tls_self_signed(hostnames: list[str]) -> tuple[str, str]: ...
def tls_check_server_identity(cert_pem: bytes, key_pem: bytes) -> None: ...

# SMTP client (wrapped by mailprims.smtp)
@final
class SmtpClientCore:
    def __new__(
        cls,
        host: str,
        port: int,
        *,
        tls: str,
        cadata: bytes | None = None,
        verify: bool = True,
        tls_hostname: str | None = None,
        local_hostname: str | None = None,
        username: str | None = None,
        password: str | None = None,
        oauth2_token: str | None = None,
        auth_mechanism: str | None = None,
        allow_insecure_auth: bool = False,
        timeout: float | None = None,
        connect_timeout: float | None = None,
        transaction_timeout: float | None = None,
        pipelining: bool = True,
        chunking: bool = True,
        max_connections: int = 1,
    ) -> SmtpClientCore: ...
    def send_blocking(
        self,
        data: Any,
        sender: str | None = None,
        recipients: list[str] | None = None,
        dsn_notify: list[str] | None = None,
        dsn_return: str | None = None,
        dsn_envelope_id: str | None = None,
        mail_options: list[str] = ...,
        rcpt_options: list[str] = ...,
    ) -> Any: ...
    def send_async(
        self,
        data: Any,
        sender: str | None = None,
        recipients: list[str] | None = None,
        dsn_notify: list[str] | None = None,
        dsn_return: str | None = None,
        dsn_envelope_id: str | None = None,
        mail_options: list[str] = ...,
        rcpt_options: list[str] = ...,
    ) -> Awaitable[Any]: ...
    def connect_blocking(self) -> dict[str, Any]: ...
    def connect_async(self) -> Awaitable[dict[str, Any]]: ...
    def noop_blocking(self) -> Any: ...
    def noop_async(self) -> Awaitable[Any]: ...
    def close_blocking(self, final_: bool = True) -> None: ...
    def close_async(self, final_: bool = True) -> Awaitable[None]: ...
    def session_info(self) -> dict[str, Any] | None: ...
    @property
    def idle_connections(self) -> int: ...
    @property
    def closed(self) -> bool: ...

def smtp_resolve_mx(
    domain: str, nameserver: tuple[str, int] | None = None, timeout: float | None = None
) -> list[tuple[int, str]]: ...
def smtp_deliver(
    client: SmtpClientCore,
    data: Any,
    sender: str | None = None,
    recipients: list[str] | None = None,
    nameserver: tuple[str, int] | None = None,
    dns_timeout: float | None = None,
    asynchronous: bool = False,
) -> Any: ...
