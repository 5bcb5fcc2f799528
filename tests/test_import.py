"""`import mailprims` stays quick (issue 14): the extension, the exceptions and the codecs load
at once; asyncio, ssl, email, logging, pandas and the command line, display and pytest plugin
modules load on first use (PEP 562). Each check runs in a fresh interpreter, so what this
pytest process has imported does not count."""

from __future__ import annotations

import json
import subprocess
import sys

import mailprims

# Modules that `import mailprims` must not pull in, with what pulls them in when used.
HEAVY = ("asyncio", "ssl", "email", "logging", "pandas", "pyarrow", "http", "inspect")
PRIVATE_ON_DEMAND = ("mailprims._display", "mailprims.pytest_plugin", "mailprims.__main__")


def _run(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout


def test_import_mailprims_loads_none_of_the_heavy_modules() -> None:
    loaded = json.loads(_run("import mailprims, sys, json; print(json.dumps(sorted(sys.modules)))"))
    assert "mailprims._mailprims" in loaded  # the check would pass vacuously otherwise
    heavy = [m for m in loaded if m.split(".")[0] in HEAVY]
    assert heavy == []
    assert [m for m in loaded if m.startswith("mailprims._cli") or m in PRIVATE_ON_DEMAND] == []


def test_every_public_name_resolves_in_a_fresh_interpreter() -> None:
    code = (
        "import mailprims, json\n"
        "missing = [n for n in mailprims.__all__ if getattr(mailprims, n, None) is None]\n"
        "print(json.dumps([missing, sorted(set(mailprims.__all__) - set(dir(mailprims)))]))\n"
    )
    missing, not_in_dir = json.loads(_run(code))
    assert missing == []
    assert not_in_dir == []


def test_lazy_names_are_the_submodules_objects() -> None:
    from mailprims.smtp import SmtpClient
    from mailprims.store import Maildir

    assert mailprims.SmtpClient is SmtpClient
    assert mailprims.Maildir is Maildir
    assert mailprims.smtp_server.SmtpServer is mailprims.SmtpServer


def test_unknown_attribute_is_an_attribute_error() -> None:
    try:
        mailprims.no_such_name  # noqa: B018
    except AttributeError as e:
        assert "no_such_name" in str(e)
    else:
        raise AssertionError("mailprims.no_such_name resolved")


def test_first_use_loads_the_module_then() -> None:
    code = (
        "import mailprims, sys\n"
        "before = 'asyncio' in sys.modules\n"
        "mailprims.SmtpServer\n"
        "print(before, 'mailprims.smtp_server' in sys.modules)\n"
    )
    assert _run(code).split() == ["False", "True"]
