"""The hostile-load scenarios of ``make stress`` at CI size (issue 12), with what must hold.

Each scenario runs a server in its own process and measures it from outside (see
``tests/stress/scenarios.py``); ``make stress`` runs the same scenarios at full size and prints
the figures beside those of the code before the fixes (``tests/stress/baseline.json``).
Nothing here asserts a speed: only bounds on memory and threads, counts, and replies.
"""

from __future__ import annotations

import os
import pathlib
import shutil

import pytest

from stress import scenarios as sc

pytestmark = pytest.mark.stress


@pytest.mark.parametrize("kind", ["smtp", "pop3"])
def test_wrong_passwords_at_once_are_a_queue_not_memory(kind: str) -> None:
    # Before: 60 at once took 0.85-1.2 GB and 63 threads (19 MiB of Argon2 memory each).
    s = sc.auth_memory("ci", kind)
    assert s.facts["refused"] == s.facts["attempts"]
    peak, threads = s.figures[0].value, s.figures[1].value
    assert isinstance(peak, float) and isinstance(threads, int)
    assert peak < 300, s.figures
    assert threads < 40, s.figures


@pytest.mark.parametrize("kind", ["smtp", "pop3"])
def test_reconnecting_does_not_reset_the_failure_budget(kind: str) -> None:
    # Before: 27 (SMTP) and 40 (POP3) wrong passwords checked in 4 s from one address.
    s = sc.auth_budget("ci", kind)
    assert 1 <= s.facts["checked"] <= 10


def test_a_trickle_of_data_cannot_hold_a_connection() -> None:
    # Before: one byte a second in DATA held the connection for as long as it went on.
    s = sc.slow_data("ci")
    assert s.facts["closed"], s.figures
    assert s.facts["reply"].startswith("421 4.4.2"), s.facts


def test_one_address_cannot_take_every_slot() -> None:
    s = sc.per_address("ci")
    assert s.facts["greeted"] == 50
    assert s.facts["refused"] == 30


def test_endless_noops_end_the_connection() -> None:
    s = sc.noop_flood("ci")
    # 100 junk commands, then 20 more counted as errors, then 421.
    assert s.facts["answered"] == 120
    assert s.facts["last"] == 421


def test_listen_backlog_follows_max_connections() -> None:
    s = sc.burst("ci")
    somaxconn = int(pathlib.Path("/proc/sys/net/core/somaxconn").read_text())
    assert s.facts["backlog"] == min(1000, somaxconn)
    assert s.facts["worst"] == 0


@pytest.mark.skipif(sc.smtp_source() is None, reason="postfix's smtp-source is not installed")
def test_durable_delivery_with_bounded_threads() -> None:
    # Before: one thread per delivery waiting on its fsync (120 threads at 100 connections).
    s = sc.durable_load("ci")
    assert all(v for k, v in s.facts.items() if k.startswith("ok_")), s.figures
    threads = [f.value for f in s.figures if f.what.endswith("peak threads")]
    assert threads and all(isinstance(t, int) and t < 45 for t in threads), s.figures


def test_kill_9_loses_no_acknowledged_message() -> None:
    s = sc.kill9("ci")
    assert s.facts["acked"] > 0
    assert s.facts["missing"] == 0
    assert s.facts["damaged"] == 0


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("mount") is None, reason="needs root to mount a tmpfs"
)
def test_full_disk_is_452_and_nothing_partial() -> None:
    s = sc.disk_full("ci")
    for label in ("space", "inodes"):
        facts = s.facts[label]
        assert facts["acked"] > 0
        assert facts["codes"] == [452], facts
        assert facts["missing"] == facts["damaged"] == facts["tmp"] == 0, facts


def test_pop3_client_stops_a_retr_that_never_ends() -> None:
    # Before: the client buffered until it was killed (400 MiB in 3 s here).
    s = sc.hostile_client("ci", "pop3")
    assert s.facts["outcome"].startswith("ProtocolError"), s.facts
    assert s.facts["peak_mib"] < 150, s.facts


def test_smtp_client_stops_a_reply_that_never_ends() -> None:
    s = sc.hostile_client("ci", "smtp")
    assert s.facts["outcome"].startswith("ProtocolError"), s.facts
    assert s.facts["peak_mib"] < 150, s.facts
