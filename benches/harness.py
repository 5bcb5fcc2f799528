"""Side-by-side benchmark harness: mailprims and its peer timed in one run, reported as ratios.

Each ``bench_*.py`` module defines ``cases()`` returning :class:`Case` objects. Timing is the
best of several repeats of a loop sized to take a measurable time, with both sides measured
alternately in the same process so machine load affects them alike.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Case:
    group: str
    name: str
    ours: Callable[[], object]
    peer: Callable[[], object]
    peer_name: str
    target: float | None = None  # required speed-up, None to only report
    unit_bytes: int | None = None  # bytes processed per call, for MB/s
    unit: str = "call"
    per_call: int = 1  # units processed per call (a batch of messages, say)
    # Time only making the result: each call is timed alone and its result freed outside
    # the timed region (for "parse N messages", where freeing them is a separate cost).
    exclude_free: bool = False
    # Units the peer processes per call when it is timed on a sample (a slow peer on a
    # large archive): times are then compared per unit.
    peer_per_call: int | None = None
    # Called before each timed call of its side, outside the clock, for cases whose two
    # sides are one system in two states (the web inbox open or closed over one store):
    # the sides then alternate call by call, five calls each.
    ours_setup: Callable[[], object] | None = None
    peer_setup: Callable[[], object] | None = None


@dataclass
class Result:
    case: Case
    ours_s: float
    peer_s: float

    @property
    def ratio(self) -> float:
        c = self.case
        return (self.peer_s / (c.peer_per_call or c.per_call)) / (self.ours_s / c.per_call)

    @property
    def met(self) -> bool | None:
        return None if self.case.target is None else self.ratio >= self.case.target


def _time(fn: Callable[[], object], budget: float) -> float:
    """Seconds per call: calibrate the loop count, then the best of 5 runs."""
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t0
        if dt >= budget / 10 or n >= 1 << 20:
            break
        n *= 2
    best = dt / n
    for _ in range(4):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t0) / n)
    return best


def _time_each(fn: Callable[[], object], budget: float) -> float:
    """Seconds per call, the best of calls timed one by one (each at least a millisecond),
    freeing each result after its clock stops."""
    best = float("inf")
    deadline = time.perf_counter() + budget
    calls = 0
    while calls < 5 or (time.perf_counter() < deadline and calls < 1000):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
        del result
        calls += 1
    return best


def _time_prepared(fn: Callable[[], object], setup: Callable[[], object] | None) -> float:
    if setup is not None:
        setup()
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run_case(case: Case, budget: float = 0.5) -> Result:
    gc.collect()
    if case.ours_setup or case.peer_setup:
        ours = peer = float("inf")
        for _ in range(5):
            ours = min(ours, _time_prepared(case.ours, case.ours_setup))
            peer = min(peer, _time_prepared(case.peer, case.peer_setup))
        return Result(case, ours, peer)
    timer = _time_each if case.exclude_free else _time
    ours = peer = float("inf")
    for _ in range(2):  # alternate so drift in machine load hits both sides
        ours = min(ours, timer(case.ours, budget))
        peer = min(peer, timer(case.peer, budget))
    return Result(case, ours, peer)


def _fmt_time(s: float) -> str:
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.1f} µs"


def _fmt_rate(case: Case, s: float, per_call: int | None = None) -> str:
    count = f"{(per_call or case.per_call) / s:,.0f} {case.unit}/s"
    if case.unit_bytes and per_call is None:
        mb = f"{case.unit_bytes / s / 1e6:,.0f} MB/s"
        return mb if case.unit == "call" else f"{count}, {mb}"
    return count


def table(results: list[Result]) -> str:
    lines = [
        "| benchmark | mailprims | peer | ratio | target |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        c = r.case
        target = "" if c.target is None else f"≥ {c.target:g}x " + ("✅" if r.met else "❌")
        lines.append(
            f"| {c.group}: {c.name} | {_fmt_time(r.ours_s)} ({_fmt_rate(c, r.ours_s)}) "
            f"| {c.peer_name}: {_fmt_time(r.peer_s)} ({_fmt_rate(c, r.peer_s, c.peer_per_call)}) "
            f"| **{r.ratio:.1f}x** | {target} |"
        )
    return "\n".join(lines)
