"""A separate Python process for the store path tests: decides and resumes a stored run of a scenario.

Usage: python -m tests.conformance.store_path_app LOCATION RUN_ID SCENARIO DECISIONS_JSON
DECISIONS_JSON is a list of {"call_id", "approve", "message"?} applied with ``timestep.approve``/``reject``;
the run is then resumed with ``timestep.resume_run`` on the scenario's agent graph (its ``resume_turns``).
Prints one JSON line: the run's status, final output and the tools executed in this process.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # pyruntime, as pytest finds it

from pyruntime import _turns, build_graph, load_scenarios

import timestep
from timestep.store import open_store
from timestep.testing import ScriptedModel


async def main(location: str, run_id: str, scenario: str, decisions: list[dict[str, Any]]) -> dict[str, Any]:
    spec = load_scenarios()[scenario]
    async with open_store(location) as store:
        for d in decisions:
            if d["approve"]:
                await timestep.approve(run_id, d["call_id"], store=store)
            else:
                await timestep.reject(run_id, d["call_id"], message=d.get("message"), store=store)
        graph = build_graph(spec, ScriptedModel(_turns(spec["resume_turns"]), id_prefix="resume"))
        result = await timestep.resume_run(graph.start, run_id, store=store, max_turns=spec["max_turns"])
        return {
            "run_id": run_id,
            "final_output": None if result.interruptions else result.final_output,
            "interruptions": [i.raw_item.call_id for i in result.interruptions],
            "executed": graph.executed,
        }


if __name__ == "__main__":
    outcome = asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])))
    print(json.dumps(outcome), flush=True)
