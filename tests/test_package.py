"""The package as users meet it: import, version, exceptions, the command line."""

from __future__ import annotations

import pathlib
import pickle
import re
import subprocess
import sys

import pytest

import mailprims

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_version_matches_cargo() -> None:
    cargo = (ROOT / "Cargo.toml").read_text()
    version = re.search(r'^version = "([^"]+)"', cargo, re.MULTILINE)
    assert version is not None
    assert mailprims.__version__ == version.group(1)


def test_extension_is_private() -> None:
    assert "_mailprims" not in mailprims.__all__
    for name in mailprims.__all__:
        assert getattr(mailprims, name) is not None


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (mailprims.CodecError, ValueError),
        (mailprims.ParseError, ValueError),
        (mailprims.AddressError, ValueError),
        (mailprims.MailTimeoutError, TimeoutError),
        (mailprims.MailConnectionError, ConnectionError),
    ],
)
def test_exceptions_share_builtin_meaning(cls: type[Exception], builtin: type[Exception]) -> None:
    assert issubclass(cls, mailprims.MailError)
    assert issubclass(cls, builtin)


def test_smtp_error_hierarchy_and_pickling() -> None:
    for cls in (
        mailprims.SmtpTemporaryError,
        mailprims.SmtpPermanentError,
        mailprims.SmtpRecipientsRefused,
    ):
        assert issubclass(cls, mailprims.SmtpError)
    err = mailprims.SmtpPermanentError(
        "550 5.1.1 no such user", code=550, enhanced_code="5.1.1", text="no such user"
    )
    again = pickle.loads(pickle.dumps(err))
    assert (again.code, again.enhanced_code, again.text, str(again)) == (
        550,
        "5.1.1",
        "no such user",
        "550 5.1.1 no such user",
    )


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailprims", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_demo_runs() -> None:
    result = run_cli("demo")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    # the textbook's three Base64 examples, computed
    for line in ("base64  FPucA9l+", "base64  FA==", "base64  FPs="):
        assert line in out
    assert "RFC 2047 header: =?utf-8?B?UsOpdW5pb24gw6AgMTVo?= -> Réunion à 15h" in out
    assert out.rstrip().endswith("ok")


def test_cli_version_and_help() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == mailprims.__version__
    assert run_cli().returncode == 2
