"""Package metadata: what PyPI shows and what `pip install 'mailprims[...]'` resolves.

The README names extras and platforms; pyproject.toml and the release workflow must agree with
it, or users meet an "extra not provided" warning or a missing wheel.
"""

from __future__ import annotations

import pathlib
import re
import sys

import pytest
import trove_classifiers

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the dev venv is 3.11+; smoke venvs do not run this file
    tomllib = pytest.importorskip("tomli")

ROOT = pathlib.Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
README = (ROOT / "README.md").read_text()
WORKFLOW = (ROOT / ".github" / "workflows" / "release.yml").read_text()


def readme_extras() -> set[str]:
    return set(re.findall(r"mailprims\[([a-z0-9_-]+)\]", README))


def test_readme_names_the_extras_of_the_issue() -> None:
    assert {"pandas", "jupyter", "test", "archive", "dask"} <= readme_extras()


@pytest.mark.parametrize("extra", sorted(readme_extras()))
def test_every_extra_the_readme_names_exists(extra: str) -> None:
    assert extra in PROJECT["optional-dependencies"]


def test_extras_provide_what_the_optional_imports_need() -> None:
    extras = PROJECT["optional-dependencies"]

    def names(extra: str) -> set[str]:
        return {re.split(r"[<>=\[; ]", req, maxsplit=1)[0].lower() for req in extras[extra]}

    # What mailprims imports lazily, by feature (trace.py / _dataframe.py / archive.py).
    assert "pandas" in names("pandas")
    assert {"pandas", "matplotlib"} <= names("jupyter")
    assert "pyarrow" in names("archive")
    assert {"pyarrow", "dask"} <= names("dask")
    # The test extra installs every peer the test suite imports.
    assert {"pytest", "hypothesis", "aiosmtpd", "imapclient", "dkimpy"} <= names("test")


def test_urls_are_complete_and_consistent() -> None:
    urls = PROJECT["urls"]
    assert set(urls) >= {"Homepage", "Documentation", "Repository", "Issues", "Changelog"}
    repo = urls["Repository"].rstrip("/")
    assert urls["Homepage"].rstrip("/") == repo
    assert urls["Issues"] == repo + "/issues"
    assert urls["Changelog"].startswith(urls["Documentation"].rstrip("/"))
    assert all(u.startswith("https://") for u in urls.values())


def test_classifiers_are_valid_and_name_each_supported_python() -> None:
    classifiers = PROJECT["classifiers"]
    unknown = [c for c in classifiers if c not in trove_classifiers.classifiers]
    assert not unknown, unknown
    assert PROJECT["requires-python"] == ">=3.10"
    versions = {c.rsplit(" ", 1)[1] for c in classifiers if re.match(r".* :: 3\.\d+$", c)}
    assert versions == {"3.10", "3.11", "3.12", "3.13"}
    # The workflow smoke-tests the wheels on exactly these.
    for v in versions:
        assert v in WORKFLOW
    # PEP 639: the license is an SPDX expression, so no license classifier.
    assert not [c for c in classifiers if c.startswith("License ::")]


def test_each_os_classifier_has_a_wheel_job() -> None:
    os_jobs = {
        "Operating System :: POSIX :: Linux": "manylinux",
        "Operating System :: MacOS": "macos-",
        "Operating System :: Microsoft :: Windows": "windows-latest",
    }
    for classifier, marker in os_jobs.items():
        assert classifier in PROJECT["classifiers"]
        assert marker in WORKFLOW
    assert "musllinux" in WORKFLOW


def test_license_matches_cargo_and_files_exist() -> None:
    cargo = (ROOT / "Cargo.toml").read_text()
    assert f'license = "{PROJECT["license"]}"' in cargo
    for name in PROJECT["license-files"]:
        assert (ROOT / name).is_file(), name


def test_release_publishes_with_trusted_publishing() -> None:
    assert "id-token: write" in WORKFLOW
    assert "pypa/gh-action-pypi-publish" in WORKFLOW
    assert "PYPI_API_TOKEN" not in WORKFLOW
    assert "startsWith(github.ref, 'refs/tags/')" in WORKFLOW


def test_installed_metadata_matches_pyproject() -> None:
    from importlib import metadata

    meta = metadata.metadata("mailprims")
    assert meta["Requires-Python"] == PROJECT["requires-python"]
    assert set(meta.get_all("Provides-Extra") or []) == set(PROJECT["optional-dependencies"])
    project_urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL") or [])
    assert project_urls == PROJECT["urls"]
    assert (meta["License-Expression"] or meta["License"]) == PROJECT["license"]
