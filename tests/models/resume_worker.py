"""Second process of the resume test: load a paused run, approve it, finish it, print the outcome.

Reads the serialized RunState from the file named by argv[1]; the Ollama host comes from
OLLAMA_HOST, so the run goes through MultiModelProvider's default ``ollama/`` route.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from agents import RunConfig, Runner, RunState

from tests.models.approval_agent import build_agent, outcome_json
from timestep.models import MultiModelProvider


async def main(state_path: Path) -> None:
    agent = build_agent()
    state = await RunState.from_string(agent, state_path.read_text())
    [pending] = state.get_interruptions()
    state.approve(pending)
    provider = MultiModelProvider()
    try:
        result = await Runner.run(agent, state, run_config=RunConfig(model_provider=provider, tracing_disabled=True))
    finally:
        await provider.aclose()
    print(outcome_json(result))


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
