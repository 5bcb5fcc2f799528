"""Import time (issue 14): ``import mailprims`` in a fresh interpreter against
``import email, smtplib, poplib``, the stdlib modules a mail script starts with.

Each side is timed in its own new interpreter, alternately, many times, and the median is
reported: an import happens once per process, so a loop in one process would time a cache.
Two measures: what ``-X importtime`` says the import statement cost (the sum of its top-level
modules' cumulative times, the issue's measure), and the wall time of the whole process minus
that of ``python -c pass`` (what a user waits for). The ratio is the stdlib's time over
mailprims' (above 1: mailprims imports faster). ``python benches/bench_import.py`` runs it
alone.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

RUNS = 41
OURS = "import mailprims"
PEER = "import email, smtplib, poplib"
TARGET_MS = 25.0  # the bound for `import mailprims` on the 2-core development machine
# Bytecode is cached, as for an installed wheel: without it every run would compile the
# package's sources (some environments set PYTHONDONTWRITEBYTECODE).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def cases() -> list[object]:
    return []  # not a throughput case: report() prints its own rows


def _importtime(statement: str, names: list[str]) -> float:
    """Seconds the statement's top-level imports took, from ``-X importtime``."""
    err = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env=ENV,
    ).stderr
    total = 0
    for line in err.splitlines():
        # "import time:       self [us] |  cumulative | imported package"; a top-level module
        # has no indentation before its name.
        fields = line.split("|")
        if len(fields) == 3 and fields[2].rstrip() in {f" {n}" for n in names}:
            total += int(fields[1])
    return total / 1e6


def _wall(statement: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", statement], check=True, timeout=60, env=ENV)
    return time.perf_counter() - t0


def measure(runs: int = RUNS) -> dict[str, float]:
    """Median seconds for each side and measure, the sides interleaved run by run."""
    samples: dict[str, list[float]] = {k: [] for k in ("ours", "peer", "ours_wall", "peer_wall")}
    _wall(OURS)  # writes the bytecode caches
    for _ in range(runs):
        samples["ours"].append(_importtime(OURS, ["mailprims"]))
        samples["peer"].append(_importtime(PEER, ["email", "smtplib", "poplib"]))
        base = _wall("pass")
        samples["ours_wall"].append(_wall(OURS) - base)
        samples["peer_wall"].append(_wall(PEER) - base)
    return {k: statistics.median(v) for k, v in samples.items()}


def modules_loaded() -> int:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; n = len(sys.modules); import mailprims; print(len(sys.modules) - n)",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return int(out)


def report() -> str:
    m = measure()
    ok = "✅" if m["ours"] * 1e3 <= TARGET_MS else "❌"
    return "\n".join(
        [
            f"| import (fresh interpreter, median of {RUNS}) "
            "| mailprims | stdlib | ratio | target |",
            "|---|---|---|---|---|",
            f"| `-X importtime` of the statement | `{OURS}`: {m['ours'] * 1e3:.1f} ms "
            f"({modules_loaded()} modules) | `{PEER}`: {m['peer'] * 1e3:.1f} ms "
            f"| **{m['peer'] / m['ours']:.1f}x** | ≤ {TARGET_MS:g} ms {ok} |",
            f"| process wall time minus `python -c pass` | {m['ours_wall'] * 1e3:.1f} ms "
            f"| {m['peer_wall'] * 1e3:.1f} ms | **{m['peer_wall'] / m['ours_wall']:.1f}x** |  |",
        ]
    )


if __name__ == "__main__":
    print(report())
