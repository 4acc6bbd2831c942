"""A run interrupted in one process, approved in a second, resumed in a third; and killed at random."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.runs.scenario import host
from tests.support.queries import fetch
from timestep import approve, resume_run
from timestep.errors import RunNotResumableError
from timestep.session import TimestepSession
from timestep.store import Store

ROOT = Path(__file__).resolve().parents[2]


def app(command: str, location: str, *args: str, delay: float = 0.0) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "tests.runs.booking_app", command, location, *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env={**os.environ, "TOOL_DELAY": str(delay)},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout.splitlines()[-1]))


def kill_after(command: str, location: str, *args: str, seconds: float, delay: float) -> None:
    """Start the app, wait until it is ready, then SIGKILL it ``seconds`` later (if still running)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.runs.booking_app", command, location, *args],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "TOOL_DELAY": str(delay)},
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    time.sleep(seconds)
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait()


async def test_interrupt_approve_resume_in_three_processes(store_location: str, store: Store) -> None:
    started = app("start", store_location)
    assert started["interruptions"] == ["book"]
    assert app("approve", store_location, started["run_id"]) == {"approved": ["b1"]}
    resumed = app("resume", store_location, started["run_id"])
    assert resumed["final_output"] == "Booked for two at 19:00."
    assert resumed["executed"] == [["book", {"party": 2, "when": "19:00"}]]
    assert await fetch(store, "SELECT status FROM timestep_runs") == [("completed",)]
    items = await TimestepSession("app", store=store).get_items()
    assert [i.get("call_id") for i in items if i.get("type") == "function_call_output"] == ["w1", "b1"]


async def assert_consistent(store: Store) -> None:
    """Whatever the moment of death, the store holds no contradiction."""
    for status, owner in await fetch(store, "SELECT status, owner FROM timestep_runs"):
        assert status in ("running", "interrupted", "completed")
        if status == "interrupted":
            assert owner is None
    finished_without_output = "SELECT run_id FROM timestep_tool_calls WHERE status = 'completed' AND output IS NULL"
    assert await fetch(store, finished_without_output) == []
    interrupted_without_snapshot = await fetch(
        store, "SELECT r.run_id FROM timestep_runs r WHERE r.status = 'interrupted' AND NOT EXISTS"
               " (SELECT 1 FROM timestep_run_snapshots s WHERE s.run_id = r.run_id AND s.kind = 'interrupted')")
    assert interrupted_without_snapshot == []


async def test_killed_at_random_points_the_store_stays_consistent_and_resumable(
    embedded_dir: Path, embedded_store: Store
) -> None:
    rng = random.Random(20261127)
    location = str(embedded_dir)
    for trial in range(6):
        async with embedded_store.connection() as conn:
            await conn.execute("TRUNCATE timestep_runs, timestep_sessions CASCADE")
        kill_after("start", location, seconds=rng.uniform(0.0, 0.6), delay=0.15)
        await assert_consistent(embedded_store)
        found = await fetch(embedded_store, "SELECT run_id, status FROM timestep_runs")
        if not found:
            continue  # killed before the run was stored
        run_id, status = found[0]
        if status == "running":  # killed mid-run: no snapshot to resume from, and it says so
            try:
                await resume_run(host([]), run_id, store=embedded_store)
            except RunNotResumableError as exc:
                assert "no snapshot" in str(exc)
            else:
                raise AssertionError("a run without a snapshot was resumed")
            continue
        assert status == "interrupted", trial
        await approve(run_id, store=embedded_store)
        kill_after("resume", location, run_id, seconds=rng.uniform(0.0, 0.5), delay=0.15)
        await assert_consistent(embedded_store)
        if (await fetch(embedded_store, "SELECT status FROM timestep_runs"))[0][0] != "completed":
            resumed = app("resume", location, run_id)  # a dead resumer's claim is taken over
            assert resumed["final_output"] == "Booked for two at 19:00."
        assert await fetch(embedded_store, "SELECT status FROM timestep_runs") == [("completed",)]
