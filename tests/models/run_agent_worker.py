"""Second process of the run_agent test: resume a stored, approved run and print its outcome.

Usage: python -m tests.models.run_agent_worker STORE_LOCATION RUN_ID
The Ollama host comes from OLLAMA_HOST: the run goes through run_agent's default model provider.
"""

from __future__ import annotations

import asyncio
import sys

from tests.models.approval_agent import build_agent, outcome_json
from timestep.runs import resume_run
from timestep.store import open_store


async def main(location: str, run_id: str) -> None:
    async with open_store(location) as store:
        result = await resume_run(build_agent(), run_id, store=store)
        print(outcome_json(result))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
