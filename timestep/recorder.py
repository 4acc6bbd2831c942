"""Records what a run does, as it happens, through the SDK's run hooks.

Each model response adds its usage and the tool calls it asked for; each finished tool adds its output.
Records are written behind the run by one writer task, all pending records in one pipelined transaction,
so the agent loop never waits on a round trip; ``flush()`` waits for them (it is called before a run is
marked interrupted or finished, so nothing a caller sees as done is missing from the store).

When the run is journaled (``journaled=True``), model responses and tool results reach the store through the
journal instead, which writes the records queued here in the same transaction as each step; the hooks then
only note the current agent and the outcomes of tools the journal does not wrap.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson
from agents import Agent, RunContextWrapper, RunHooks, Tool
from agents.items import ModelResponse
from agents.tool_context import ToolContext
from openai.types.responses import ResponseFunctionToolCall

from timestep import run_records
from timestep.run_records import UsageRecord
from timestep.store import Store

ModelDescriber = Callable[[Agent[Any]], tuple[str | None, str | None]]
ToolCall = tuple[str, str, str | None, str]  # call_id, tool name, agent name, arguments


class RunRecorder(RunHooks[Any]):
    """Run hooks that collect tool calls, tool outputs and usage, and write them behind the run."""

    def __init__(
        self, store: Store, run_id: str, describe_model: ModelDescriber, *, journaled: bool = False
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.journaled = journaled
        self._describe_model = describe_model
        self._agent: Agent[Any] | None = None
        self._calls: list[ToolCall] = []
        self._outputs: list[tuple[str, str, str]] = []
        self._usage: list[UsageRecord] = []
        self._finished_call_ids: set[str] = set()
        self._writer: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None

    async def on_llm_start(
        self, context: RunContextWrapper[Any], agent: Agent[Any], system_prompt: str | None, input_items: Any
    ) -> None:
        self._agent = agent

    async def on_llm_end(self, context: RunContextWrapper[Any], agent: Agent[Any], response: ModelResponse) -> None:
        if not self.journaled:
            self._agent = agent
            self.note_response(response)
            self._start_writer()

    def note_response(self, response: ModelResponse) -> None:
        """Queue the usage of a model response and the tool calls it asks for, for the current agent."""
        agent = self._agent
        provider, model = self._describe_model(agent) if agent is not None else (None, None)
        usage = response.usage
        self._usage.append(UsageRecord(
            agent.name if agent else None, provider, model, usage.requests or 1, usage.input_tokens,
            usage.output_tokens,
            usage.input_tokens_details.cached_tokens or 0, usage.output_tokens_details.reasoning_tokens or 0,
            usage.total_tokens,
        ))
        for item in response.output:
            if isinstance(item, ResponseFunctionToolCall):
                self._calls.append((item.call_id, item.name, agent.name if agent else None, item.arguments))

    async def on_tool_end(
        self, context: RunContextWrapper[Any], agent: Agent[Any], tool: Tool, result: object
    ) -> None:
        if isinstance(context, ToolContext) and context.tool_call_id not in self._finished_call_ids:
            self.finish_call(context.tool_call_id, result, "completed")
            self._start_writer()

    def skip_call(self, call_id: str) -> None:
        """The call's outcome is already stored (it was replayed from the journal): record nothing more."""
        self._finished_call_ids.add(call_id)

    def finish_call(self, call_id: str, output: object, status: str) -> None:
        """Queue the outcome of a call once; later reports of the same call are ignored."""
        if call_id not in self._finished_call_ids:
            self._finished_call_ids.add(call_id)
            self._outputs.append((call_id, output_text(output), status))

    async def flush(self) -> None:
        """Wait until every queued record is committed; raise what the writer failed with."""
        while True:
            if self._failure is not None:
                raise self._failure
            if self._writer is not None:
                await asyncio.shield(self._writer)
            elif self._calls or self._outputs or self._usage:
                self._start_writer()
            else:
                return

    async def write_pending(self, conn: Any) -> None:
        """Write queued records on ``conn`` (inside the caller's transaction)."""
        calls, outputs, usage = self.take_pending()
        await run_records.record_tool_calls(conn, self.run_id, calls)
        await run_records.finish_tool_calls(conn, self.run_id, outputs)
        await run_records.record_usage(conn, self.run_id, usage)

    def take_pending(self) -> tuple[list[ToolCall], list[tuple[str, str, str]], list[UsageRecord]]:
        """Hand over the queued (calls, outputs, usage) to a caller who writes them; the queues are emptied."""
        calls, self._calls = self._calls, []
        outputs, self._outputs = self._outputs, []
        usage, self._usage = self._usage, []
        return calls, outputs, usage

    def _start_writer(self) -> None:
        if self._writer is None and self._failure is None:
            self._writer = asyncio.get_running_loop().create_task(self._write_loop())

    async def _write_loop(self) -> None:
        try:
            while self._calls or self._outputs or self._usage:
                async with self.store.connection() as conn, conn.pipeline(), conn.transaction():
                    await self.write_pending(conn)
        except BaseException as exc:  # kept for flush(), which the run always awaits
            self._failure = exc
        finally:
            self._writer = None


def output_text(output: object) -> str:
    """A tool output as stored: text as is, anything else as JSON."""
    return output if isinstance(output, str) else json_text(output)


def json_text(value: object) -> str:
    """``value`` as JSON text; pydantic models by their dump, anything else unknown by its ``str``."""
    try:
        return orjson.dumps(value, default=_jsonable).decode()
    except TypeError:
        return orjson.dumps(str(value)).decode()


def _jsonable(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json")
    raise TypeError
