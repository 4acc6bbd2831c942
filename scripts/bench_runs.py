"""Measure durable runs against what a user would otherwise run, side by side in one process.

1. A 20-turn run, one tool call per turn, zero-latency scripted model: ``run_agent`` recording everything
   on the embedded store (without a session, and with a ``TimestepSession``), against ``Runner.run`` with
   the SDK's ``SQLiteSession``, against ``Runner.run`` with no session. Targets: ``run_agent`` <= 1.3x no
   session; ``run_agent`` + ``TimestepSession`` <= ``Runner.run`` + ``SQLiteSession``, the alternative of a
   user who keeps a conversation.
2. ``RunStateStore.save`` + ``load`` of a 200-item state (database snapshots on the embedded store) against
   the SDK's own ``to_string`` + ``from_string`` alone. Target: <= 1.2x.

Usage: python scripts/bench_runs.py [--quick] [--markdown]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENAI_AGENTS_DISABLE_TRACING", "1")

from agents import Agent, Runner, RunState, SQLiteSession, function_tool

from timestep import RunStateStore, TimestepSession, open_store, run_agent
from timestep.store import Store
from timestep.testing import ScriptedModel

TURNS = 20


@function_tool
def step(n: int) -> str:
    """One step of work."""
    return f"step {n} done"


def agent_for(turns: int) -> Agent[Any]:
    script = [[ScriptedModel.tool_call("step", {"n": i}, call_id=f"c{i}")] for i in range(turns)]
    return Agent(name="worker", model=ScriptedModel([*script, [ScriptedModel.text("all done")]]), tools=[step])


Action = tuple[str, Callable[[], Awaitable[object]]]


async def medians_ms(actions: list[Action], repeats: int) -> list[tuple[str, float]]:
    """Median time of each action; rounds alternate between them so that machine noise hits all alike."""
    for _ in range(3):  # warm-up: imports, pools, the embedded engine's compiled code
        for _, action in actions:
            await action()
    times: dict[str, list[float]] = {name: [] for name, _ in actions}
    for _ in range(repeats):
        for name, action in actions:
            start = time.perf_counter()
            await action()
            times[name].append(time.perf_counter() - start)
    return [(name, statistics.median(times[name]) * 1000) for name, _ in actions]


async def twenty_turns(store: Store, workdir: Path, repeats: int) -> list[tuple[str, float]]:
    async def plain() -> None:
        await Runner.run(agent_for(TURNS), "go", max_turns=TURNS + 2)

    async def sqlite_session() -> None:
        session = SQLiteSession(uuid.uuid4().hex, str(workdir / "sessions.db"))
        await Runner.run(agent_for(TURNS), "go", session=session, max_turns=TURNS + 2)

    async def timestep_run() -> None:
        await run_agent(agent_for(TURNS), "go", store=store, max_turns=TURNS + 2)

    async def timestep_run_with_session() -> None:
        session = TimestepSession(uuid.uuid4().hex, store=store)
        await run_agent(agent_for(TURNS), "go", session=session, store=store, max_turns=TURNS + 2)

    return await medians_ms([
        ("Runner.run, no session", plain),
        ("Runner.run + SQLiteSession", sqlite_session),
        ("run_agent, everything recorded (embedded)", timestep_run),
        ("run_agent + TimestepSession (embedded)", timestep_run_with_session),
    ], repeats)


async def state_round_trip(store: Store, repeats: int) -> list[tuple[str, float]]:
    agent = agent_for(100)  # 100 tool calls and their outputs: 200 generated items
    result = await Runner.run(agent, "go", max_turns=110)
    state = result.to_state()
    assert len(state.to_json()["generated_items"]) >= 200
    states = RunStateStore(agent, run_id=uuid.uuid4().hex, store=store)

    async def sdk_only() -> None:
        await RunState.from_string(agent, state.to_string())

    async def with_store() -> None:
        await states.save(state)
        await states.load()

    return await medians_ms([
        ("to_string + from_string (SDK alone)", sdk_only), ("RunStateStore.save + load (embedded)", with_store),
    ], repeats)


Target = tuple[str, float | str]
"""A row held to a bound: at most this ratio to the first row, or at most the time of the row so named."""


def table(title: str, rows: list[tuple[str, float]], targets: Sequence[Target], markdown: bool) -> str:
    """The rows with their ratio to the first, and whether each target is met."""
    base = rows[0][1]
    times = dict(rows)
    lines = [f"### {title}" if markdown else title, ""]
    if markdown:
        lines += ["| | median ms | ratio |", "|---|---:|---:|"]
    for name, ms in rows:
        ratio = ms / base
        lines.append(f"| {name} | {ms:.2f} | {ratio:.2f}x |" if markdown else f"  {name:45} {ms:8.2f} ms {ratio:5.2f}x")
    lines.append("")
    for name, bound in targets:
        ratio = times[name] / base
        limit = times[bound] / base if isinstance(bound, str) else bound
        against = f"<= {bound} ({limit:.2f}x)" if isinstance(bound, str) else f"<= {bound}x"
        verdict = "met" if ratio <= limit else "NOT met"
        lines.append(f"target {name} {against}: {verdict} ({ratio:.2f}x)")
    lines.append("")
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--markdown", action="store_true", help="print tables for the README")
    args = parser.parse_args()
    repeats = 5 if args.quick else 60
    with tempfile.TemporaryDirectory(prefix="timestep-bench-") as tmp:
        async with open_store(Path(tmp) / "store") as store:
            runs = await twenty_turns(store, Path(tmp), repeats)
            states = await state_round_trip(store, repeats)
        assert store.server is not None
        store.server.stop()
    print(table(f"{TURNS}-turn run, one tool call per turn, zero-latency model", runs, [
        ("run_agent, everything recorded (embedded)", 1.3),
        ("run_agent + TimestepSession (embedded)", "Runner.run + SQLiteSession"),
    ], args.markdown))
    state_target = ("RunStateStore.save + load (embedded)", 1.2)
    print(table("RunState of 200 items: save + load", states, [state_target], args.markdown))


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
