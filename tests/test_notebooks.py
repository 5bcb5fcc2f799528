"""The notebooks in notebooks/ are documentation: each must run from top to bottom in a fresh
kernel without an error or a warning, and is committed with its outputs (refresh them with
``python notebooks/run.py``)."""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))

_spec = importlib.util.spec_from_file_location("notebooks_run", NOTEBOOKS / "run.py")
assert _spec is not None and _spec.loader is not None
runner = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(runner)


def test_the_notebooks_are_there() -> None:
    assert {p.name for p in PATHS} >= {"headers.ipynb", "mime_and_base64.ipynb"}


def test_sample_mail_comes_from_the_repository() -> None:
    """Debian's Python and the official Docker images strip CPython's ``test`` package: the
    notebooks read mail shipped in this repository instead (issue 14)."""
    for path in PATHS:
        nb = nbformat.read(path, as_version=4)
        code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        assert not re.search(r"^\s*(import|from)\s+test\b", code, re.MULTILINE), path.name


def problems(nb: nbformat.NotebookNode) -> list[str]:
    """Errors and standard-error output (warnings) in a notebook's outputs."""
    found = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                found.append(f"{out.ename}: {out.evalue}")
            elif out.output_type == "stream" and out.name == "stderr":
                found.append(out.text)
    return found


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_committed_with_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "a notebook without code"
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), (
        "not committed as executed in order: run python notebooks/run.py"
    )
    assert sum(bool(c.outputs) for c in code) >= len(code) - 1
    assert problems(nb) == []


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_runs(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    # The kernel is this interpreter, so it imports the mailprims under test.
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    nb = runner.execute(path)
    assert problems(nb) == []
