"""The Layout page of the documentation (docs/layout.md) lists every folder of the tree, and
only folders that exist (issue 13). Folders inside the corpora (one per message kind or fuzz
target) are covered by their parent's line."""

from __future__ import annotations

import pathlib
import re
import subprocess

ROOT = pathlib.Path(__file__).resolve().parent.parent
# Folders whose subfolders are data named by kind or fuzz target, listed by their parent.
COLLECTIONS = ("tests/corpus/", "fuzz/corpus/", "fuzz/seeds/")


def layout_folders() -> set[str]:
    text = (ROOT / "docs" / "layout.md").read_text(encoding="utf-8")
    block = text.split("```", 2)[1]
    return {m.group(1) for m in re.finditer(r"^(\S+/)\s", block, re.MULTILINE)}


def tree_folders() -> set[str]:
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    folders = set()
    for f in files:
        parts = f.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            folder = "/".join(parts[:i]) + "/"
            if not any(folder.startswith(c) and folder != c for c in COLLECTIONS):
                folders.add(folder)
    return folders


def test_layout_lists_every_folder_of_the_tree() -> None:
    listed = layout_folders()
    tree = tree_folders()
    # `tests/data/` holds only `auth/`, which the section names.
    parents_of_listed = {p for f in listed for p in _parents(f)}
    assert tree - listed - parents_of_listed == set()
    assert listed - tree == set()


def _parents(folder: str) -> set[str]:
    parts = folder.rstrip("/").split("/")
    return {"/".join(parts[:i]) + "/" for i in range(1, len(parts))}
