"""Execute the notebooks in place, saving their outputs: ``python notebooks/run.py [NAME...]``.

The notebooks are documentation committed with their outputs; run this after changing one
(or the behaviour it shows). ``tests/test_notebooks.py`` executes them the same way in
``make test``. Needs nbclient, nbformat and ipykernel (the Makefile's test environment).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Use the platformdirs locations jupyter_core will default to (and stop its warning).
os.environ.setdefault("JUPYTER_PLATFORM_DIRS", "1")


def execute(path: Path, timeout: int = 180) -> object:
    """Run every cell of the notebook at ``path`` in a fresh kernel, from its folder;
    raises ``nbclient.exceptions.CellExecutionError`` at the first failing cell."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    return nb


def main(names: list[str]) -> int:
    import nbformat

    paths = [HERE / n for n in names] if names else sorted(HERE.glob("*.ipynb"))
    for path in paths:
        nb = execute(path)
        nbformat.write(nb, path)
        print(f"executed {path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
