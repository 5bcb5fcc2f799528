"""`make smoke`: the built wheel, alone, in a fresh venv for each CPython 3.10+ on this machine.

For every CPython from 3.10 up that it finds (`python3.X` on PATH, then pyenv's versions,
then /usr/bin and /usr/local/bin), it creates target/smoke/py3.X from scratch, installs the
wheel with pip (no index, no dependencies: the wheel must stand alone) and runs
tests/smoke with unittest. Missing versions are skipped with a message; any failure fails.

Usage: python tests/smoke/venvs.py target/wheels/mailprims-*.whl
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VERSIONS = ("3.10", "3.11", "3.12", "3.13")
VENVS = ROOT / "target" / "smoke"


def works(python: str, version: str) -> bool:
    try:
        out = subprocess.run(
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except OSError:
        return False
    return out.returncode == 0 and out.stdout.strip() == version


def find(version: str) -> str | None:
    """An interpreter for `version`; pyenv's shims only run the selected versions, so its
    version directories are looked at directly too."""
    candidates = [shutil.which(f"python{version}") or ""]
    pyenv = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    candidates += sorted(glob.glob(f"{pyenv}/versions/{version}.*/bin/python{version}"))[::-1]
    candidates += [f"/usr/local/bin/python{version}", f"/usr/bin/python{version}"]
    return next((c for c in candidates if c and works(c, version)), None)


def main(wheel: str) -> int:
    failed, passed, skipped = [], [], []
    env = dict(os.environ, MAILPRIMS_SMOKE_INSTALLED="1")
    env.pop("VIRTUAL_ENV", None)
    env.pop("PYTHONPATH", None)
    for version in VERSIONS:
        python = find(version)
        if python is None:
            print(f"smoke: CPython {version} not found, skipped")
            skipped.append(version)
            continue
        started = time.monotonic()
        venv = VENVS / f"py{version}"
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([python, "-m", "venv", str(venv)], check=True, timeout=300)
        py = str(venv / "bin" / "python")
        subprocess.run(
            [py, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", wheel],
            check=True,
            timeout=300,
            env=env,
        )
        run = subprocess.run(
            [py, "-m", "unittest", "discover", "-s", "tests/smoke", "-t", "tests/smoke"],
            cwd=ROOT,
            env=env,
            timeout=300,
            check=False,
        )
        took = time.monotonic() - started
        print(
            f"smoke: CPython {version} ({python}): {'ok' if run.returncode == 0 else 'FAILED'}"
            f" in {took:.1f} s"
        )
        (passed if run.returncode == 0 else failed).append(version)
    print(
        f"smoke: passed on {', '.join(passed) or 'none'}"
        + (f"; FAILED on {', '.join(failed)}" if failed else "")
        + (f"; skipped {', '.join(skipped)}" if skipped else "")
    )
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
