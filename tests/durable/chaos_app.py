"""A 20-turn run with one tool call per turn, as a program that tests kill and recover in new processes.

Usage: python -m tests.durable.chaos_app LOCATION [recover:RUN_ID[:stream]] [run:RUN_ID[:stream]] ...
Each command is carried out in order. ``recover`` recovers a dead run if it is not finished (or runs it from
scratch if it was never stored) and prints ``recovered <json>``; ``run`` prints ``ready`` and then runs. So
one process both recovers the previous trial's run and is killed during the next one.

Every model request and tool execution is appended to ``$CHAOS_LOGDIR/<run id>.log`` (``model-start N``,
``model-done N``, ``tool-start K <idempotency key>``, ``tool-done K``), so that tests can count them
across processes. ``MODEL_DELAY`` and ``TOOL_DELAY`` (seconds) widen the model call and the tool;
``SETTLE_DELAY`` widens the time between a step logging that it is done and handing its result back (a
step done but not yet recorded); the model call numbered ``HANG_AT`` never returns.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from typing import Any

from agents import Agent, RunContextWrapper, function_tool
from agents.items import ModelResponse, TResponseStreamEvent
from agents.models.interface import Model

from timestep import consume_result, idempotency_key, recover, run_agent
from timestep.errors import AlreadyResumingError, RunNotResumableError
from timestep.session import TimestepSession
from timestep.store import Store, open_store
from timestep.testing import ScriptedModel, ScriptedTurn, TurnUsage

TURNS = 20
FINAL = f"all {TURNS} steps done"
MODEL_DELAY = float(os.environ.get("MODEL_DELAY", "0"))
TOOL_DELAY = float(os.environ.get("TOOL_DELAY", "0"))
SETTLE_DELAY = float(os.environ.get("SETTLE_DELAY", "0"))
LOGDIR = os.environ.get("CHAOS_LOGDIR", "")
HANG_AT = int(os.environ.get("HANG_AT", "-1"))  # a model call that never returns, to be killed in


def log(run_id: str | None, line: str) -> None:
    if LOGDIR and run_id:
        fd = os.open(os.path.join(LOGDIR, f"{run_id}.log"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, f"{line}\n".encode())
        finally:
            os.close(fd)


def turns() -> list[ScriptedTurn]:
    def usage(t: int) -> TurnUsage:
        return TurnUsage(input_tokens=100 + t, output_tokens=5, cached_tokens=t, reasoning_tokens=1)

    return [
        *(ScriptedModel.turn(ScriptedModel.tool_call("step", {"k": t}, call_id=f"c{t}"), usage=usage(t))
          for t in range(TURNS)),
        ScriptedModel.turn(ScriptedModel.text(FINAL), usage=TurnUsage(input_tokens=200, output_tokens=9)),
    ]


class StepModel(Model):
    """A scripted model that answers from what it is sent (how many tool outputs), as a real model would.

    A process that recovers a run starts with a fresh model; answering by the input, not by a counter,
    keeps the answers right whichever steps the journal already holds.
    """

    def __init__(self) -> None:
        self.scripted = ScriptedModel(turns(), id_prefix="chaos")

    def _index(self, input: Any) -> int:
        return sum(1 for i in input if isinstance(i, dict) and i.get("type") == "function_call_output")

    async def _enter(self, input: Any) -> int:
        from timestep.session import current_run_id

        index = self._index(input)
        log(current_run_id.get(), f"model-start {index}")
        if MODEL_DELAY:
            await asyncio.sleep(MODEL_DELAY)
        if index == HANG_AT:
            await asyncio.sleep(3600)
        self.scripted._next = index  # serve the turn the input asks for
        return index

    async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
        from timestep.session import current_run_id

        index = await self._enter(kwargs['input'] if 'input' in kwargs else args[1])
        response = await self.scripted.get_response(*args, **kwargs)
        log(current_run_id.get(), f"model-done {index}")
        if SETTLE_DELAY:
            await asyncio.sleep(SETTLE_DELAY)
        return response

    async def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[TResponseStreamEvent]:
        from timestep.session import current_run_id

        index = await self._enter(kwargs['input'] if 'input' in kwargs else args[1])
        async for event in self.scripted.stream_response(*args, **kwargs):
            if event.type == "response.completed":
                log(current_run_id.get(), f"model-done {index}")
                if SETTLE_DELAY:
                    await asyncio.sleep(SETTLE_DELAY)
            yield event


@function_tool
async def step(ctx: RunContextWrapper[Any], k: int) -> str:
    """Carry out step k."""
    from timestep.session import current_run_id

    run_id = current_run_id.get()
    log(run_id, f"tool-start {k} {idempotency_key(ctx)}")  # type: ignore[arg-type]
    if TOOL_DELAY:
        await asyncio.sleep(TOOL_DELAY)
    log(run_id, f"tool-done {k}")
    if SETTLE_DELAY:
        await asyncio.sleep(SETTLE_DELAY)
    return f"step {k} done"


def agent() -> Agent[Any]:
    return Agent(name="worker", instructions="Do the steps.", model=StepModel(), tools=[step])


async def run(store: Store, run_id: str, stream: bool) -> Any:
    result = await run_agent(agent(), "Do all the steps.", session=TimestepSession(run_id, store=store),
                             stream=stream, store=store, run_id=run_id, max_turns=TURNS + 5)
    return await consume_result(result)


async def recover_or_run(store: Store, run_id: str, stream: bool) -> dict[str, Any]:
    try:
        result = await consume_result(await recover(agent(), run_id, store=store, stream=stream,
                                                    max_turns=TURNS + 5))
    except AlreadyResumingError as exc:  # another process recovers it
        return {"outcome": "busy", "detail": str(exc)}
    except RunNotResumableError as exc:  # finished before it was killed
        return {"outcome": "finished", "detail": str(exc)}
    except Exception as exc:
        if "no run" not in str(exc):
            raise
        await run(store, run_id, stream)  # killed before the run was stored
        return {"outcome": "ran"}
    return {"outcome": "recovered", "final_output": result.final_output}


async def main(location: str, commands: list[str]) -> None:
    async with open_store(location) as store:
        for command in commands:
            verb, run_id, *flags = command.split(":")
            stream = "stream" in flags
            if verb == "recover":
                print("recovered " + json.dumps(await recover_or_run(store, run_id, stream)), flush=True)
            else:
                print("ready", flush=True)
                result = await run(store, run_id, stream)
                print("finished " + json.dumps({"final_output": result.final_output}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2:]))
