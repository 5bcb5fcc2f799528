"""Shared test settings."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

# CI machines are small and shared: no deadline flakiness, a fixed example budget.
settings.register_profile(
    "ci",
    max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ci")


# The interpreter-exit loops (a short async script run many times, each run a few percent
# likely to crash before the fix): a small count by default, the full 200 where
# MAILPRIMS_EXIT_RUNS says so (.ci/run and `make stress` set it).
EXIT_RUNS_DEFAULT = 40


@pytest.fixture
def exit_runs() -> int:
    """How many times an interpreter-exit test runs its script."""
    return int(os.environ.get("MAILPRIMS_EXIT_RUNS", EXIT_RUNS_DEFAULT))
