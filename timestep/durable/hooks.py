"""Records what a run does, as it happens, through the SDK's run hooks.

Each model response adds its usage and the tool calls it asked for; each finished tool adds its output. The
records are queued on the run's ``RunWriter``, which commits them behind the run; the run waits for them
before it is marked interrupted or finished, so nothing a caller sees as done is missing from the store.

When the run is journaled (``journaled=True``), model responses and tool results reach the writer through
the journal, which queues the records noted here together with each step; the hooks then only note the
current agent and the outcomes of tools the journal does not wrap.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from agents import Agent, RunContextWrapper, RunHooks, Tool
from agents.items import ModelResponse
from agents.tool_context import ToolContext
from openai.types.responses import ResponseFunctionToolCall

from timestep.durable.run_records import UsageRecord
from timestep.durable.writer import RunWriter
from timestep.storable import checked_json, dumps

ModelDescriber = Callable[[Agent[Any]], tuple[str | None, str | None]]


class RunRecorder(RunHooks[Any]):
    """Run hooks that queue tool calls, tool outputs and usage on the run's writer."""

    def __init__(self, writer: RunWriter, describe_model: ModelDescriber, *, journaled: bool = False) -> None:
        self.writer = writer
        self.journaled = journaled
        self._describe_model = describe_model
        self._agent: Agent[Any] | None = None
        self._finished_call_ids: set[str] = set()

    async def on_llm_start(
        self, context: RunContextWrapper[Any], agent: Agent[Any], system_prompt: str | None, input_items: Any
    ) -> None:
        self._agent = agent

    async def on_llm_end(self, context: RunContextWrapper[Any], agent: Agent[Any], response: ModelResponse) -> None:
        if not self.journaled:
            self._agent = agent
            self.note_response(response)
            self.writer.commit_soon()

    def note_response(self, response: ModelResponse) -> None:
        """Queue the usage of a model response and the tool calls it asks for, for the current agent."""
        agent = self._agent
        agent_name = agent.name if agent is not None else None
        provider, model = self._describe_model(agent) if agent is not None else (None, None)
        usage = response.usage
        self.writer.add_usage(UsageRecord(
            agent_name, provider, model, usage.requests or 1, usage.input_tokens, usage.output_tokens,
            usage.input_tokens_details.cached_tokens or 0, usage.output_tokens_details.reasoning_tokens or 0,
            usage.total_tokens,
        ))
        for item in response.output:
            if isinstance(item, ResponseFunctionToolCall):
                self.writer.add_call(item.call_id, item.name, agent_name, item.arguments)

    async def on_tool_end(
        self, context: RunContextWrapper[Any], agent: Agent[Any], tool: Tool, result: object
    ) -> None:
        if isinstance(context, ToolContext) and context.tool_call_id not in self._finished_call_ids:
            self.finish_call(context.tool_call_id, result, "completed", tool_name=tool.name)
            self.writer.commit_soon()

    def skip_call(self, call_id: str) -> None:
        """The call's outcome is already stored (it was replayed from the journal): record nothing more."""
        self._finished_call_ids.add(call_id)

    def finish_call(self, call_id: str, output: object, status: str, *, tool_name: str | None = None) -> None:
        """Queue the outcome of a call once; later reports of the same call are ignored. An outcome the store
        cannot hold is refused (``UnstorableValueError``) and leaves the call unfinished."""
        if call_id not in self._finished_call_ids:
            self.writer.add_output(call_id, output_text(output, f"output of tool call {call_id!r}"), status,
                                   tool_name=tool_name)
            self._finished_call_ids.add(call_id)


def output_text(output: object, what: str) -> str:
    """A tool output as stored: text as is, anything else as JSON."""
    return output if isinstance(output, str) else json_text(output, what)


def json_text(value: object, what: str) -> str:
    """``value`` as JSON text; pydantic models by their dump, anything else unknown by its ``str``. What
    cannot be stored (``storable.dumps``) is refused with an ``UnstorableValueError`` naming ``what`` it is."""
    try:
        encoded = orjson.dumps(value, default=_jsonable)
    except TypeError:
        return dumps(str(value), what)
    return checked_json(encoded, what)


def _jsonable(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json")
    raise TypeError
