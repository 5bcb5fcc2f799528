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
    notes: list[str] = []
    reports: list[str] = []
    for path in sorted(here.glob("bench_*.py")):
        module = importlib.import_module(path.stem)
        selected = False
        for case in module.cases():
            # The filter names a case ("IMAP server: SELECT") or a module ("imap_server").
            if pattern and pattern not in f"{case.group}: {case.name}" and pattern not in path.stem:
                continue
            selected = True
            r = run_case(case)
            print(f"  {case.group}: {case.name}: {r.ratio:.2f}x", file=sys.stderr, flush=True)
            results.append(r)
        # Measurements that are not ratios (peak memory, say), printed under the table.
        if selected and hasattr(module, "notes"):
            notes += module.notes()
        # Rows a module measures itself (no peer to divide by): its ``report()``.
        if hasattr(module, "report") and (not pattern or pattern in path.stem):
            reports.append(module.report())
            print(reports[-1], file=sys.stderr, flush=True)
    text = "\n".join([table(results), *reports]) + "".join(f"\n\n{n}" for n in notes)
    header = f"Python {platform.python_version()}, {platform.machine()}, {platform.system()}\n\n"
    print(header + text)
    (here / "results.md").write_text(header + text + "\n")
    missed = [r for r in results if r.met is False]
    return 1 if missed and "--strict" in argv else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
