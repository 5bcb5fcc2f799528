"""notebooks/sending_and_receiving.ipynb is documentation: it must run from top to bottom in
a fresh kernel without an error or a warning, and is committed with its outputs (refresh
them with ``python notebooks/run.py sending_and_receiving.ipynb``)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import nbformat
import pytest

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "sending_and_receiving.ipynb"

_spec = importlib.util.spec_from_file_location("notebooks_run", NOTEBOOK.parent / "run.py")
assert _spec is not None and _spec.loader is not None
runner = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(runner)


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


def test_committed_with_outputs() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), (
        "not committed as executed in order: run python notebooks/run.py"
    )
    # every cell but the set-up and clean-up ones shows something
    assert sum(bool(c.outputs) for c in code) >= len(code) - 2
    assert problems(nb) == []


def test_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    # The kernel is this interpreter, so it imports the mailprims under test.
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    nb = runner.execute(NOTEBOOK)
    assert problems(nb) == []
    outputs = "".join(
        str(out.get("text", "")) + str(out.get("data", {}).get("text/plain", ""))
        for cell in nb.cells
        for out in cell.get("outputs", [])
    )
    # the round trips happened: both messages and the 20 sent with asyncio arrived
    assert "Réunion à 15h: the agenda | [('agenda.txt'" in outputs
    assert "(21, ['Réunion à 15h: the agenda'])" in outputs
