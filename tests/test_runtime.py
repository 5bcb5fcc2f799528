"""The bridge between Python and the tokio runtime: awaitables, cancellation, Ctrl-C, and exit.

Guards the known pyo3-async-runtimes crash (its issue 40): runtime threads calling into Python
while the interpreter finalizes after async calls (exit codes 134/139).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mailprims import _mailprims


def test_awaitables_run_concurrently() -> None:
    async def main() -> list[float]:
        return await asyncio.gather(*(_mailprims._runtime_sleep(0.05) for _ in range(50)))

    started = time.monotonic()
    results = asyncio.run(main())
    assert results == [0.05] * 50
    # 50 sleeps of 50 ms in parallel, not in series (a generous bound, not a benchmark)
    assert time.monotonic() - started < 2.0


def test_cancellation_raises_cancelled_error() -> None:
    async def main() -> None:
        task = asyncio.ensure_future(_mailprims._runtime_sleep(30))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(_mailprims._runtime_sleep(30), 0.05)

    asyncio.run(main())


def test_awaitable_needs_a_running_loop() -> None:
    with pytest.raises(RuntimeError):
        _mailprims._runtime_sleep(0.01)


def test_blocking_call_returns_value() -> None:
    assert _mailprims._runtime_sleep_blocking(0.01) == 0.01


EXIT_SCRIPT = """
import asyncio
from mailprims import _mailprims as m

async def main():
    await asyncio.gather(*(m._runtime_sleep(0.001) for _ in range(20)))
    # Never awaited: these complete while asyncio.run and the interpreter shut down.
    for i in range(20):
        m._runtime_sleep(0.0005 * i)
    asyncio.ensure_future(m._runtime_sleep(0.002))

asyncio.run(main())
"""


def _run_exit_script(_: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", EXIT_SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.slow
def test_no_crash_at_exit_after_async_calls(exit_runs: int) -> None:
    runs = exit_runs
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(_run_exit_script, range(runs)))
    crashes = [r for r in results if r.returncode != 0]
    assert not crashes, (
        f"{len(crashes)}/{runs} runs failed; first: rc={crashes[0].returncode} {crashes[0].stderr}"
    )
    assert all(r.stderr == "" for r in results)


def _wait_until_blocked(pid: int) -> None:
    """Return once the main thread of `pid` sleeps (in the blocking call, after `ready`).

    Between `ready` and the call the thread runs (state R); in the call it waits (S). Where
    /proc is missing the signal may come early, which the script also reports as interrupted.
    """
    stat = Path(f"/proc/{pid}/stat")
    if not stat.exists():
        return
    deadline = time.monotonic() + 10
    while stat.read_text().rsplit(")", 1)[1].split()[0] != "S":
        assert time.monotonic() < deadline, "the child never blocked"
        time.sleep(0.01)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_interrupts_a_blocking_call() -> None:
    script = (
        "import sys; from mailprims import _mailprims as m\n"
        "try:\n"
        "    print('ready', flush=True)\n"
        "    m._runtime_sleep_blocking(60)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted', flush=True); sys.exit(3)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    _wait_until_blocked(proc.pid)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 3
    assert "interrupted" in out
