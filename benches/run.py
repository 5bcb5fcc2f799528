"""Run every benchmark of the project and print one table (``make bench``).

Usage: ``python benches/run.py [name-filter]``. Writes the table to ``benches/results.md`` too.
"""

from __future__ import annotations

import importlib
import pathlib
import platform
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parent))

from harness import Result, run_case, table


def main(argv: list[str]) -> int:
    here = pathlib.Path(__file__).parent
    pattern = argv[1] if len(argv) > 1 else ""
    results: list[Result] = []
    reports: list[str] = []
    for path in sorted(here.glob("bench_*.py")):
        module = importlib.import_module(path.stem)
        # Modules may add a report of their own (latency percentiles, say) after the table.
        if hasattr(module, "report") and (not pattern or pattern in path.stem):
            reports.append(module.report())
        for case in module.cases():
            if pattern and pattern not in f"{case.group}: {case.name}":
                continue
            r = run_case(case)
            print(f"  {case.group}: {case.name}: {r.ratio:.2f}x", file=sys.stderr, flush=True)
            results.append(r)
    text = table(results)
    if reports:
        text += "\n\n" + "\n\n".join(reports)
    header = f"Python {platform.python_version()}, {platform.machine()}, {platform.system()}\n\n"
    print(header + text)
    (here / "results.md").write_text(header + text + "\n")
    missed = [r for r in results if r.met is False]
    return 1 if missed and "--strict" in argv else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
