"""Journaling overhead and recovery time of durable runs, side by side in one process.

Overhead: a 20-turn run (one tool call per turn, zero-latency ``ScriptedModel``) as
  1. ``Runner.run`` without a session (the reference),
  2. ``Runner.run`` with the SDK's ``SQLiteSession`` (a file),
  3. ``run_agent(durable=False)`` on the embedded store without a session (run row, tool calls, usage and
     snapshot recorded behind the run, no journal),
  4. ``run_agent`` on the embedded store without a session (the same, plus every model response and tool
     result journaled, each tool run only once what came before it is committed),
  5. ``run_agent`` on the embedded store with a ``TimestepSession`` (all of the above plus the items).
Variants are interleaved; medians and ratios to (1) are printed. The durable runs target is <= 1.3x.

Recovery: the same run in a child process, SIGKILLed while its model call of turn 19 is in flight, then
``recover`` here, against running it again from scratch with the same scripted model; with a zero-latency
model and with a simulated model latency.

With ``--server`` the overhead is also measured on a throwaway PostgreSQL server (the machine's binaries).

Usage: python scripts/bench_durable.py [--repeat N] [--store DIR] [--server]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OPENAI_AGENTS_DISABLE_TRACING", "1")

from agents import Agent, Runner, SQLiteSession, function_tool  # noqa: E402

from tests.durable import chaos_app  # noqa: E402
from timestep import recover, run_agent  # noqa: E402
from timestep.session import TimestepSession  # noqa: E402
from timestep.store import Store, open_store  # noqa: E402
from timestep.testing import ScriptedModel  # noqa: E402

TURNS = 20


@function_tool
def step(k: int) -> str:
    """Carry out step k."""
    return f"step {k} done"


def agent() -> Agent[Any]:
    turns = [ScriptedModel.turn(ScriptedModel.tool_call("step", {"k": t})) for t in range(TURNS)]
    return Agent(name="bench", model=ScriptedModel([*turns, ScriptedModel.turn(ScriptedModel.text("done"))]),
                 tools=[step])


async def overhead(store: Store, repeat: int, tmp: Path) -> dict[str, float]:
    async def plain() -> None:
        await Runner.run(agent(), "go", max_turns=TURNS + 5)

    async def sqlite() -> None:
        session = SQLiteSession(uuid.uuid4().hex, str(tmp / "sessions.db"))
        await Runner.run(agent(), "go", session=session, max_turns=TURNS + 5)
        session.close()

    async def durable() -> None:
        await run_agent(agent(), "go", store=store, max_turns=TURNS + 5)

    async def recorded() -> None:
        await run_agent(agent(), "go", store=store, max_turns=TURNS + 5, durable=False)

    async def durable_session() -> None:
        session = TimestepSession(uuid.uuid4().hex, store=store)
        await run_agent(agent(), "go", session=session, store=store, max_turns=TURNS + 5)

    variants = {
        "Runner.run, no session": plain,
        "Runner.run + SQLiteSession": sqlite,
        "run_agent durable=False, no session": recorded,
        "run_agent (durable), no session": durable,
        "run_agent (durable) + TimestepSession": durable_session,
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    for round_ in range(repeat + 3):
        for name, variant in variants.items():
            start = time.perf_counter()
            await variant()
            if round_ >= 3:  # warm-up rounds
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def kill_at_turn(location: str, logdir: Path, run_id: str, turn: int) -> None:
    """Run the chaos app's 20-turn run in a child and SIGKILL it while model call ``turn`` is in flight."""
    env = {**os.environ, "CHAOS_LOGDIR": str(logdir), "HANG_AT": str(turn)}
    child = subprocess.Popen([sys.executable, "-m", "tests.durable.chaos_app", location, f"run:{run_id}"],
                             cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = logdir / f"{run_id}.log"
    deadline = time.monotonic() + 60
    while f"model-start {turn}" not in (log.read_text() if log.exists() else ""):
        if time.monotonic() > deadline or child.poll() is not None:
            child.kill()
            raise RuntimeError("the child did not reach the turn")
        time.sleep(0.01)
    child.send_signal(signal.SIGKILL)
    child.wait()


async def recovery(store: Store, location: str, repeat: int, tmp: Path, latency: float) -> tuple[float, float]:
    chaos_app.MODEL_DELAY = latency
    recovered, scratch = [], []
    for _ in range(repeat):
        run_id = uuid.uuid4().hex
        kill_at_turn(location, tmp, run_id, 19)
        start = time.perf_counter()
        result = await recover(chaos_app.agent(), run_id, store=store, max_turns=TURNS + 5)
        recovered.append(time.perf_counter() - start)
        assert result.final_output == chaos_app.FINAL
        start = time.perf_counter()
        await chaos_app.run(store, uuid.uuid4().hex, False)
        scratch.append(time.perf_counter() - start)
    return statistics.median(recovered), statistics.median(scratch)


def print_overhead(title: str, medians: dict[str, float]) -> None:
    reference = medians["Runner.run, no session"]
    print(f"\n{title:48} {'median ms':>10} {'ratio':>7}")
    for name, value in medians.items():
        print(f"{name:48} {value * 1000:10.1f} {value / reference:6.2f}x")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--store", help="an embedded data directory (a new temporary one by default)")
    parser.add_argument("--server", action="store_true", help="also measure on a throwaway PostgreSQL server")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-durable-") as tmp_dir:
        tmp = Path(tmp_dir)
        location = args.store or str(tmp / "store")
        async with open_store(location) as store:
            print(f"20-turn run, one tool call per turn, zero-latency model; load average {os.getloadavg()[0]:.2f}")
            print_overhead("embedded store (PGLite)", await overhead(store, args.repeat, tmp))
            if args.server:
                from tests.support.postgres_server import start_postgres

                server = start_postgres()
                if server is None:
                    raise SystemExit("PostgreSQL's binaries are not installed")
                try:
                    server.psql("CREATE DATABASE bench")
                    async with open_store(server.url("bench")) as server_store:
                        print_overhead("PostgreSQL server", await overhead(server_store, args.repeat, tmp))
                finally:
                    server.stop()
            print(f"\n{'recovery of a run killed in turn 19':48} {'recover ms':>10} {'re-run ms':>10}")
            for latency in (0.0, 0.05):
                rec, scratch = await recovery(store, location, max(3, args.repeat // 6), tmp, latency)
                label = f"model latency {latency * 1000:.0f} ms"
                print(f"{label:48} {rec * 1000:10.1f} {scratch * 1000:10.1f}")


if __name__ == "__main__":
    asyncio.run(main())
