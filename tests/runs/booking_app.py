"""The booking agent as a separate program, so tests can stop, approve and resume it across processes.

Usage: python -m tests.runs.booking_app start|approve|reject|resume LOCATION [RUN_ID]
Prints ``ready`` once imports are done, then one JSON line with the outcome. ``TOOL_DELAY`` (seconds)
slows the tools down so that a kill can land inside them.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time

from tests.runs.scenario import EXECUTED, book, booking_turns, host
from timestep import approve, reject, resume_run, run_agent
from timestep.session import TimestepSession
from timestep.store import open_store

DELAY = float(os.environ.get("TOOL_DELAY", "0"))


def slowed(tool):  # type: ignore[no-untyped-def]
    """The same tool, taking ``TOOL_DELAY`` seconds longer."""
    inner = tool.on_invoke_tool

    async def invoke(context, arguments):  # type: ignore[no-untyped-def]
        time.sleep(DELAY)
        return await inner(context, arguments)

    tool.on_invoke_tool = invoke
    return tool


async def main(command: str, location: str, run_id: str | None) -> dict[str, object]:
    print("ready", flush=True)
    async with open_store(location) as store:
        if command == "start":
            agent = host(booking_turns()[:2])
            for tool in agent.tools:
                slowed(tool)
            result = await run_agent(agent, "Book a table for two", session=TimestepSession("app", store=store),
                                     store=store)
            return {"run_id": result.run_id, "interruptions": [i.name for i in result.interruptions]}
        assert run_id is not None
        if command == "approve":
            return {"approved": await approve(run_id, store=store)}
        if command == "reject":
            await reject(run_id, "b1", message="fully booked", store=store)
            return {"rejected": "b1"}
        agent = host(booking_turns()[2:])
        slowed(book)
        result = await resume_run(agent, run_id, store=store)
        return {"final_output": result.final_output, "executed": EXECUTED}


if __name__ == "__main__":
    outcome = asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None))
    print(json.dumps(outcome), flush=True)
