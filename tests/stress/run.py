"""``make stress``: run the hostile-load scenarios and print one table of figures.

Usage: ``python tests/stress/run.py [--ci] [--only NAME[,NAME]] [--save FILE]``.

The table puts each figure beside the one recorded in ``baseline.json`` (the same scenarios run
on the code before issue 12's fixes); ``--save`` writes this run's figures in that format.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import platform
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).parent))

from scenarios import Scenario, all_scenarios


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ci", action="store_true", help="small counts (what make test runs)")
    parser.add_argument("--only", default="", help="comma-separated scenario names")
    parser.add_argument("--save", help="write the figures to this JSON file")
    args = parser.parse_args(argv)
    scale = "ci" if args.ci else "full"
    only = {n for n in args.only.split(",") if n}
    here = pathlib.Path(__file__).parent
    baseline_path = here / "baseline.json"
    baseline = json.loads(baseline_path.read_text()) if baseline_path.exists() else {}
    before = baseline.get(scale, {})
    results: list[Scenario] = []
    for name, run in all_scenarios():
        if only and name not in only:
            continue
        start = time.monotonic()
        print(f"  {name} ...", file=sys.stderr, flush=True, end="")
        try:
            scenario = run(scale)
        except Exception as e:  # one broken scenario must not lose the others' figures
            scenario = Scenario(name)
            scenario.add("-", f"{name}: failed", f"{type(e).__name__}: {e}"[:80])
        print(f" {time.monotonic() - start:.0f} s", file=sys.stderr, flush=True)
        results.append(scenario)

    rows = [("item", "measure", "before", "now")]
    for sc in results:
        for f in sc.figures:
            rows.append((f.item, f.what, before.get(f.what, "-"), f.text()))
    widths = [max(len(str(r[i])) for r in rows) for i in range(4)]
    print(f"Python {platform.python_version()}, {platform.machine()}, scale {scale}")
    print(f"before: {baseline.get('note', 'no baseline recorded')}\n")
    for i, row in enumerate(rows):
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if i == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    if args.save:
        figures = {f.what: f.text() for sc in results for f in sc.figures}
        path = pathlib.Path(args.save)
        saved = json.loads(path.read_text()) if path.exists() else {}
        saved.setdefault(scale, {}).update(figures)
        path.write_text(json.dumps(saved, indent=1, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
