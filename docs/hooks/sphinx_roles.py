"""mkdocs hook: the docstrings use Sphinx roles (``:class:`Message```, ``:meth:`~x.y```), which
mkdocstrings renders as the role's name beside a code span. Keep the code span only, and for
``~a.b.C`` show ``C``, as Sphinx does."""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(
    r":(?:class|meth|func|attr|mod|data|exc|obj|const):(<code>)~?((?:[\w]+\.)*)([\w]+)"
)


def _replace(match: re.Match[str]) -> str:
    prefix = match.group(2)
    tilde = match.group(0)[match.group(0).index("<code>") + 6 :].startswith("~")
    return match.group(1) + ("" if tilde else prefix) + match.group(3)


def on_page_content(html: str, **_: Any) -> str:
    return _ROLE.sub(_replace, html)
