"""Time timestep's RunState translation against each SDK's own RunState loading, on the same run.

The run: one agent calls a tool (no approval) once per turn, then a tool that needs approval, giving
200 generated items (and 800 for the TypeScript load, whose cost grows quadratically with completed calls).
Both SDKs run the scenario natively; the same scripted turns make the states equivalent.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "conformance"))

from agents import RunState  # noqa: E402
from conftest import run_js  # noqa: E402
from pyruntime import build_graph, run_to_interruption  # noqa: E402

from timestep.testing import ScriptedModel  # noqa: E402
from timestep.translate import convert  # noqa: E402

REPEAT = 20


def scenario(items: int) -> dict[str, Any]:
    """A spec whose interruption state holds ``items`` generated items (two per completed tool call)."""
    completed = (items - 2) // 2
    turns = [
        {
            "items": [{"tool_call": "step", "call_id": f"call_{n}", "arguments": f'{{"n":{n},"note":"ü"}}'}],
            "usage": {
                "input_tokens": 100 + n,
                "output_tokens": 10,
                "cached_tokens": 50,
                "reasoning_tokens": 5,
            },
        }
        for n in range(completed)
    ]
    turns.append({"items": [{"tool_call": "ship", "call_id": "call_ship", "arguments": '{"all":true}'}]})
    return {
        "start_agent": "worker",
        "agents": [{"name": "worker", "instructions": "Work.", "tools": ["step", "ship"], "handoffs": []}],
        "tools": [
            {"name": "step", "description": "One step.", "needs_approval": False, "output": "ok"},
            {"name": "ship", "description": "Ship it.", "needs_approval": True, "output": "shipped"},
        ],
        "input": "go",
        "context": {"run": 1},
        "trace": {
            "id": "trace_0000000000000000000000000000bench",
            "workflow_name": "bench",
            "group_id": None,
        },
        "max_turns": completed + 5,
        "turns": turns,
        "decided_before_save": [],
        "decisions": [],
        "resume_turns": [],
    }


def median_ms(fn: Callable[[], Any]) -> float:
    fn()
    samples = []
    for _ in range(REPEAT):
        began = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)


def python_load_ms(spec: dict[str, Any], text: str) -> float:
    graph = build_graph(spec, ScriptedModel([]))
    loop = asyncio.new_event_loop()
    try:
        return median_ms(lambda: loop.run_until_complete(RunState.from_string(graph.start, text)))
    finally:
        loop.close()


def main() -> None:
    spec200, spec800 = scenario(200), scenario(800)
    py_text = asyncio.run(run_to_interruption(spec200))
    natives = {
        r["id"]: r
        for r in run_js(
            [
                {"id": "200", "mode": "interrupt", "spec": spec200},
                {"id": "800", "mode": "interrupt", "spec": spec800},
            ]
        )
    }
    ts200, ts800 = natives["200"]["result"]["state"], natives["800"]["result"]["state"]
    loads = {
        r["id"]: statistics.median(r["result"]["ms"][1:])
        for r in run_js(
            [
                {"id": "200", "mode": "load", "spec": spec200, "state": ts200, "repeat": 6},
                {"id": "800", "mode": "load", "spec": spec800, "state": ts800, "repeat": 4},
            ]
        )
    }
    ours_to_ts = median_ms(lambda: convert(py_text, "typescript"))
    ours_to_py = median_ms(lambda: convert(ts200, "python"))
    rows = [
        ("timestep Python -> TypeScript (200 items)", ours_to_ts),
        ("timestep TypeScript -> Python (200 items)", ours_to_py),
        ("Python RunState.from_string (200 items)", python_load_ms(spec200, py_text)),
        ("TypeScript RunState.fromString (200 items)", loads["200"]),
        ("TypeScript RunState.fromString (800 items)", loads["800"]),
    ]
    print(
        f"state sizes: Python {len(py_text) / 1024:.0f} KB, TypeScript {len(ts200) / 1024:.0f} KB (200 items)"
    )
    print(f"{'operation':<46}{'median ms':>11}{'x timestep P->TS':>18}")
    for label, ms in rows:
        print(f"{label:<46}{ms:>11.2f}{ms / ours_to_ts:>18.1f}")


if __name__ == "__main__":
    main()
