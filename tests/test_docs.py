"""The documentation covers the API (issue 14): every public name has a docstring (so the API
reference has something to show), and every name in ``mailprims.__all__`` has an entry in the
reference pages (docs/reference/*.md, ``::: mailprims.X`` blocks that mkdocstrings renders).
The pages' examples run as doctests (the Makefile's pytest target collects docs/)."""

from __future__ import annotations

import importlib
import inspect
import pathlib
import re
import types
from collections.abc import Iterator

import mailprims

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"


def _members(cls: type) -> Iterator[tuple[str, object]]:
    """The public methods and properties a class defines itself (not inherited ones)."""
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        if callable(value) or inspect.isdatadescriptor(value):
            yield name, value


def _public_objects() -> Iterator[tuple[str, object]]:
    """``mailprims.X`` for X in ``__all__``, the public names of its public submodules, and
    the members of every public class among them."""
    seen: set[int] = set()
    for name in mailprims.__all__:
        obj = getattr(mailprims, name)
        if name == "__version__":
            continue
        items = [(f"mailprims.{name}", obj)]
        if isinstance(obj, types.ModuleType):
            items += [
                (f"mailprims.{name}.{n}", getattr(obj, n)) for n in getattr(obj, "__all__", [])
            ]
        for qualname, value in items:
            if id(value) in seen or not (
                inspect.isclass(value) or callable(value) or inspect.ismodule(value)
            ):
                continue
            seen.add(id(value))
            yield qualname, value
            if inspect.isclass(value):
                for member, attr in _members(value):
                    yield f"{qualname}.{member}", attr


def test_every_public_name_has_a_docstring() -> None:
    objects = list(_public_objects())
    assert len(objects) > 300  # the walk found the classes' members, not just the names
    # inspect.getdoc, as help() reads it: slot docstrings (a dict __slots__) count too.
    missing = [name for name, obj in objects if not (inspect.getdoc(obj) or "").strip()]
    assert missing == []


def _reference_entries() -> set[str]:
    text = "\n".join(p.read_text(encoding="utf-8") for p in (DOCS / "reference").glob("*.md"))
    return set(re.findall(r"^::: mailprims\.([\w.]+)$", text, re.MULTILINE))


def test_every_public_name_has_a_reference_entry() -> None:
    entries = _reference_entries()
    documented_modules = {
        e for e in entries if isinstance(getattr(mailprims, e, None), types.ModuleType)
    }
    covered = set(entries)
    for module in documented_modules:
        covered |= set(getattr(mailprims, module).__all__)
    # A submodule counts when its page renders it whole, or when each of its names has an entry.
    for name in mailprims.__all__:
        obj = getattr(mailprims, name)
        if isinstance(obj, types.ModuleType) and all(
            n in covered or f"{name}.{n}" in entries for n in obj.__all__
        ):
            covered.add(name)
    assert set(mailprims.__all__) - {"__version__"} - covered == set()
    assert "pytest_plugin" in entries


def test_reference_entries_name_things_that_exist() -> None:
    for entry in _reference_entries():
        parts = entry.split(".")
        if entry == "pytest_plugin":  # not imported by the package (nor, here, by pytest)
            importlib.import_module("mailprims.pytest_plugin")
            continue
        obj: object = mailprims
        for part in parts:
            obj = getattr(obj, part)
