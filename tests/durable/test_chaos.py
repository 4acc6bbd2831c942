"""Chaos: a 20-turn run SIGKILLed at random instants and recovered in a new process, again and again.

Each process recovers the previous trial's run, prints ``ready`` and starts the next run, which the test
kills at a random step, by turns inside a model call, inside a tool and between steps (found by watching the
run's log; the model and the tool sleep a little, and again after they are done, so that each place lasts at
least 10 ms), a random few milliseconds into it. Every recovered run must store
the same final output, session items, tool-call records and usage as an uninterrupted run; a model step or
tool result journaled before the kill must not be requested or executed again. Steps are committed behind
the run, but a tool runs only once everything before it is committed: so only the steps after the last
commit may run twice, which is the step in flight at the kill and, at most, the tool result just before it
whose commit was still pending.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tests.durable import chaos_app
from tests.support.queries import fetch
from timestep.session import TimestepSession
from timestep.store import Store

ROOT = Path(__file__).resolve().parents[2]
TRIALS = 24
# Steps take 20 ms, and 10 ms pass between a step being done and its result reaching the run.
DELAYS = {"MODEL_DELAY": "0.02", "TOOL_DELAY": "0.02", "SETTLE_DELAY": "0.01"}
PLACES = ("in a model call", "in a tool", "between steps")


class App:
    """One chaos_app process; its stdout is read line by line."""

    def __init__(self, location: str, logdir: Path, *commands: str, delays: dict[str, str] = DELAYS) -> None:
        self.stderr = logdir / f"stderr-{time.monotonic_ns()}.txt"
        with open(self.stderr, "w") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.durable.chaos_app", location, *commands],
                cwd=ROOT, stdout=subprocess.PIPE, stderr=err, text=True,
                env={**os.environ, **delays, "CHAOS_LOGDIR": str(logdir)},
            )

    def expect(self, prefix: str) -> str:
        assert self.process.stdout is not None
        while True:
            line = self.process.stdout.readline()
            if not line:
                self.process.wait()
                raise AssertionError(f"app ended before {prefix!r}: {self.stderr.read_text()[-3000:]}")
            if line.startswith(prefix):
                return line[len(prefix):].strip()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait()


async def outcome(store: Store, run_id: str) -> dict[str, Any]:
    """Everything a run leaves in the store that must not depend on whether its process died."""
    return {
        "run": await fetch(store, "SELECT status, final_output::text FROM timestep_runs WHERE run_id = %s", run_id),
        "items": await TimestepSession(run_id, store=store).get_items(),
        "tool_calls": await fetch(store, "SELECT call_id, tool_name, agent_name, arguments, output, status,"
                                         " needs_approval FROM timestep_tool_calls WHERE run_id = %s ORDER BY call_id",
                                  run_id),
        "usage": await fetch(store, "SELECT agent_name, provider, model, requests, input_tokens, output_tokens,"
                                    " cached_tokens, reasoning_tokens, total_tokens FROM timestep_usage"
                                    " WHERE run_id = %s ORDER BY id", run_id),
    }


def read_log(logdir: Path, run_id: str) -> list[list[str]]:
    path = logdir / f"{run_id}.log"
    return [line.split() for line in path.read_text().splitlines()] if path.exists() else []


def kill_point(lines: list[list[str]]) -> str:
    if not lines:
        return "before the first step"
    if ["model-done", str(chaos_app.TURNS)] in lines:
        return "after the run finished"
    last = lines[-1][0]
    return {"model-start": "in a model call", "tool-start": "in a tool"}.get(last, "between steps")


def wait_until_in(logdir: Path, run_id: str, place: str, step: int, timeout_s: float = 10.0) -> None:
    """Wait until the run's log shows it ``place`` at ``step`` or a later one."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        lines = read_log(logdir, run_id)
        if lines and int(lines[-1][1]) >= step and kill_point(lines) == place:
            return
        time.sleep(0.0005)
    raise AssertionError(f"run {run_id} was never {place} at step {step} or later: {lines[-3:]}")


def check_exactly_once(run_id: str, lines: list[list[str]], journaled: set[tuple[str, str]]) -> None:
    models = Counter(int(line[1]) for line in lines if line[0] == "model-start")
    tools = Counter(int(line[1]) for line in lines if line[0] == "tool-start")
    done = Counter(int(line[1]) for line in lines if line[0] == "tool-done")
    assert set(models) == set(range(chaos_app.TURNS + 1)), (run_id, models)
    assert set(done) == set(range(chaos_app.TURNS)), (run_id, done)
    for index, count in models.items():
        limit = 1 if ("model_response", f"0.{index}") in journaled else 2
        assert count <= limit, (run_id, "model step requested again", index, count)
    for k, count in tools.items():
        limit = 1 if ("tool_result", f"c{k}") in journaled else 2
        assert count <= limit and done[k] <= limit, (run_id, "tool executed again", k, count)
    repeated = {("model", i) for i, n in models.items() if n > 1} | {("tool", k) for k, n in tools.items() if n > 1}
    assert all(n <= 2 for n in [*models.values(), *tools.values()]), (run_id, "a step ran three times", models, tools)
    tool_then_model = any(repeated == {("tool", k), ("model", k + 1)} for k in range(chaos_app.TURNS))
    assert len(repeated) <= 1 or tool_then_model, (run_id, "steps before the last commit ran twice", models, tools)
    keys = {line[2] for line in lines if line[0] == "tool-start"}
    assert keys == {f"{run_id}:c{k}" for k in range(chaos_app.TURNS)}, keys  # stable across attempts


async def test_killed_at_random_instants_every_run_recovers_as_if_never_killed(
    embedded_dir: Path, embedded_store: Store, tmp_path: Path
) -> None:
    location, store = str(embedded_dir), embedded_store
    baseline = {}
    for stream in (False, True):
        result = await chaos_app.run(store, f"baseline-{stream}", stream)
        assert result.final_output == chaos_app.FINAL
        baseline[stream] = await outcome(store, f"baseline-{stream}")

    rng = random.Random(20261127)
    runs = [(f"r{k}", k % 3 == 2) for k in range(TRIALS)]
    journaled: dict[str, set[tuple[str, str]]] = {}
    points: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    previous: str | None = None
    for trial, (run_id, stream) in enumerate([*runs, (None, False)]):
        commands = [f"recover:{previous}"] if previous else []
        if run_id is not None:
            commands.append(f"run:{run_id}:stream" if stream else f"run:{run_id}")
        app = App(location, tmp_path, *commands)
        if previous:
            recovered = json.loads(app.expect("recovered "))["outcome"]
            assert recovered in ("recovered", "finished", "ran")
            outcomes[recovered] += 1
        if run_id is None:
            app.process.wait()
            break
        app.expect("ready")
        wait_until_in(tmp_path, run_id, PLACES[trial % len(PLACES)], rng.randrange(chaos_app.TURNS))
        time.sleep(rng.uniform(0.0, 0.008))
        app.kill()
        points[kill_point(read_log(tmp_path, run_id))] += 1
        journaled[run_id] = set(await fetch(store, "SELECT kind, step_key FROM timestep_run_steps WHERE run_id = %s",
                                            run_id))
        previous = run_id

    for run_id, stream in runs:
        got = await outcome(store, run_id)
        assert got == baseline[stream], run_id
        check_exactly_once(run_id, read_log(tmp_path, run_id), journaled[run_id])
    print("kill points:", dict(points), "outcomes:", dict(outcomes))
    assert outcomes["recovered"] >= TRIALS // 2, outcomes
    assert all(points[place] >= TRIALS // len(PLACES) - 2 for place in PLACES), points


async def test_two_recoverer_processes_racing_for_one_dead_run_exactly_one_wins(
    embedded_dir: Path, embedded_store: Store, tmp_path: Path
) -> None:
    location, slow = str(embedded_dir), {"MODEL_DELAY": "0.1", "TOOL_DELAY": "0.05"}
    app = App(location, tmp_path, "run:race", delays=slow)
    app.expect("ready")
    time.sleep(0.8)
    app.kill()
    journaled = set(await fetch(embedded_store, "SELECT kind, step_key FROM timestep_run_steps WHERE run_id = 'race'"))
    assert journaled, "killed before the first step was journaled"
    racers = [App(location, tmp_path, "recover:race", delays=slow) for _ in range(2)]
    outcomes = sorted(json.loads(racer.expect("recovered "))["outcome"] for racer in racers)
    for racer in racers:
        racer.process.wait()
    assert outcomes in (["busy", "recovered"], ["finished", "recovered"]), outcomes
    check_exactly_once("race", read_log(tmp_path, "race"), journaled)
    assert await fetch(embedded_store, "SELECT status FROM timestep_runs WHERE run_id = 'race'") == [("completed",)]
