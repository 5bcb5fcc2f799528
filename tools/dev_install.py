"""Install a built mailprims wheel into the development venv as an editable install.

`make build` compiles the extension once, as the release wheel (`maturin build`), and this
script installs that same wheel for development, laid out as `maturin develop` would: the
wheel's metadata, console script and entry points (the pytest plugin) go into site-packages,
the compiled extension is copied next to the sources in python/mailprims, and a .pth file puts
python/ on sys.path. So the tests, doctests (pytest imports python/mailprims itself) and
stubtest import the checkout's Python files with the wheel's binary, and a second release
build (`maturin develop --release`) is not needed.

Usage: python tools/dev_install.py target/wheels/mailprims-*.whl
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "python"
PACKAGE = "mailprims"


def record_line(path: Path, name: str) -> str:
    digest = hashlib.sha256(path.read_bytes()).digest()
    b64 = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return f"{name},sha256={b64},{path.stat().st_size}"


def main(wheel: str) -> None:
    with zipfile.ZipFile(wheel) as zf:
        extensions = [
            n
            for n in zf.namelist()
            if n.startswith(f"{PACKAGE}/_mailprims.") and n.endswith((".so", ".pyd"))
        ]
    if len(extensions) != 1:
        sys.exit(f"{wheel}: expected one compiled extension, found {extensions}")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--force-reinstall",
            "--no-compile",
            wheel,
        ],
        check=True,
    )
    site = Path(sysconfig.get_paths()["purelib"])
    installed = site / PACKAGE
    # Replace, never overwrite in place: a running process may have the old library mapped.
    target = SOURCE / extensions[0]
    partial = target.with_name(target.name + ".partial")
    shutil.copyfile(installed / Path(extensions[0]).name, partial)
    os.replace(partial, target)
    # An extension of another name (an older non-abi3 build) would be imported before it.
    for stale in target.parent.glob("_mailprims.*"):
        if stale != target and stale.suffix in (".so", ".pyd"):
            stale.unlink()
    shutil.rmtree(installed)
    pth = site / f"{PACKAGE}.pth"
    pth.write_text(f"{SOURCE}\n")
    # Keep RECORD true to what is on disk, so a later `pip uninstall` removes exactly this.
    (dist_info,) = site.glob(f"{PACKAGE}-*.dist-info")
    record = dist_info / "RECORD"
    lines = [
        line
        for line in record.read_text().splitlines()
        if line and not line.startswith(f"{PACKAGE}/")
    ]
    lines.append(record_line(pth, pth.name))
    record.write_text("\n".join(lines) + "\n")
    print(f"installed {Path(wheel).name} (editable: {SOURCE}, extension {target.name})")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
