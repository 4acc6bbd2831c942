"""Wrappers that put a run's model calls and tool calls through its journal, without patching the SDK.

``instrument`` copies the agent graph of one run (the caller's agents and tools are shared across runs and
never changed): every agent is cloned, a ``Model`` instance on an agent or in the run config is wrapped in a
``JournalingModel``, model names go through a ``JournalingModelProvider``, and every ``FunctionTool`` is a
copy whose ``on_invoke_tool`` answers from the journal when the call's result is recorded.

Rules of replay, which recovery documents to its callers:

- A model step whose response is journaled is answered from the journal (streamed runs get the recorded
  response as stream events); the model is not asked again.
- A tool call whose result is journaled is answered from the journal and does not run again. A tool that was
  still running when the process died has no result in the journal and runs again: tools see at-least-once
  execution for in-flight calls and can use ``idempotency_key(context)`` (the run id and call id, stable
  across attempts) to make their effects happen once.
- What the journal cannot replay faithfully (local tools other than function tools, MCP servers) is listed in
  ``Instrumented.unjournaled``; recovery refuses such a run instead of running them again silently. Handoff
  callbacks (``on_handoff``) and guardrails run again on replay.
"""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import agents.tool as sdk_tool
from agents import Agent, RunConfig
from agents.handoffs import Handoff
from agents.items import ModelResponse, TResponseStreamEvent
from agents.models.interface import Model, ModelProvider
from agents.tool import (
    CodeInterpreterTool,
    FileSearchTool,
    FunctionTool,
    HostedMCPTool,
    ImageGenerationTool,
    WebSearchTool,
)
from agents.tool_context import ToolContext
from agents.usage import _response_usage_to_usage
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseCreatedEvent,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
    ResponseUsage,
)

from timestep.durable.journal import Journal, decode_tool_output
from timestep.session import current_run_id

__all__ = ["Instrumented", "JournalingModel", "JournalingModelProvider", "idempotency_key", "instrument"]

_HOSTED_TOOLS = (WebSearchTool, FileSearchTool, CodeInterpreterTool, ImageGenerationTool, HostedMCPTool)
_SDK_ERROR_ATTR = getattr(sdk_tool, "_DEFAULT_FAILURE_HANDLED_ATTR", "_agents_default_failure_handled")


TContext = TypeVar("TContext")

def idempotency_key(context: ToolContext[TContext]) -> str:
    """``run_id:call_id`` of the tool call being run: the same in every attempt at the call.

    A tool whose process dies while it runs is run again on recovery (at-least-once); a tool with external
    effects can pass this key to the system it calls so that the effect happens once.
    """
    run_id = current_run_id.get()
    return f"{run_id}:{context.tool_call_id}" if run_id else context.tool_call_id


class JournalingModel(Model):
    """A model whose responses go to the journal (their commit started) before the runner sees them, and replayed."""

    def __init__(self, wrapped_model: Model, journal: Journal) -> None:
        self.wrapped_model = wrapped_model
        self.journal = journal

    async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
        journal = self.journal
        key = journal.step_key()
        response = journal.recorded_response(key)
        if response is None:
            response = await self.wrapped_model.get_response(*args, **kwargs)
            await journal.record_model_response(key, response)
        journal.next_step += 1
        return response

    async def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[TResponseStreamEvent]:
        journal = self.journal
        key = journal.step_key()
        response = journal.recorded_response(key)
        if response is not None:
            journal.next_step += 1
            for event in _replayed_events(response):
                yield event
            return
        done_items: list[Any] = []
        async for event in self.wrapped_model.stream_response(*args, **kwargs):
            if isinstance(event, ResponseOutputItemDoneEvent):
                done_items.append(event.item)
            elif isinstance(event, ResponseCompletedEvent):
                await journal.record_model_response(key, _completed_response(event.response, done_items))
                journal.next_step += 1
            yield event

    def get_retry_advice(self, request: Any) -> Any:
        return self.wrapped_model.get_retry_advice(request)

    async def close(self) -> None:
        await self.wrapped_model.close()

    async def _cleanup_on_run_end(self, owner: object) -> None:
        await self.wrapped_model._cleanup_on_run_end(owner)


class JournalingModelProvider(ModelProvider):
    """Resolves model names through the caller's provider and journals the models it returns."""

    def __init__(self, wrapped_provider: ModelProvider, journal: Journal) -> None:
        self.wrapped_provider = wrapped_provider
        self.journal = journal
        self._models: dict[str | None, Model] = {}

    def get_model(self, model_name: str | None) -> Model:
        if model_name not in self._models:
            self._models[model_name] = JournalingModel(self.wrapped_provider.get_model(model_name), self.journal)
        return self._models[model_name]

    def __getattr__(self, name: str) -> Any:  # resolve(), aclose() and the like of the wrapped provider
        return getattr(self.wrapped_provider, name)


@dataclasses.dataclass
class Instrumented:
    """A run's copy of the agent graph and run config, wired to its journal."""

    agent: Agent[Any]
    run_config: RunConfig
    unjournaled: list[str]


def instrument(agent: Agent[Any], run_config: RunConfig, journal: Journal) -> Instrumented:
    """Copy ``agent``'s graph (handoffs followed, cycles kept) with models and function tools journaled."""
    clones: dict[int, Agent[Any]] = {}
    unjournaled: list[str] = []

    def clone(original: Agent[Any]) -> Agent[Any]:
        found = clones.get(id(original))
        if found is not None:
            return found
        copy = original.clone()
        clones[id(original)] = copy
        if isinstance(original.model, Model):
            copy.model = JournalingModel(original.model, journal)
        copy.tools = [_tool(tool, journal, original.name, unjournaled) for tool in original.tools]
        copy.handoffs = [clone(h) if isinstance(h, Agent) else _handoff(h, clone) for h in original.handoffs]
        if original.mcp_servers:
            unjournaled.append(f"MCP servers of agent {original.name!r}")
        return copy

    model = run_config.model
    config = dataclasses.replace(
        run_config,
        model=JournalingModel(model, journal) if isinstance(model, Model) else model,
        model_provider=JournalingModelProvider(run_config.model_provider, journal),
    )
    return Instrumented(clone(agent), config, unjournaled)


def _tool(tool: Any, journal: Journal, agent_name: str, unjournaled: list[str]) -> Any:
    if isinstance(tool, FunctionTool):
        return dataclasses.replace(tool, on_invoke_tool=_journaled_invoke(tool.on_invoke_tool, journal, tool.name))
    if not isinstance(tool, _HOSTED_TOOLS):  # hosted tools run inside the model call, which is journaled
        unjournaled.append(f"tool {getattr(tool, 'name', type(tool).__name__)!r} of agent {agent_name!r}")
    return tool


def _journaled_invoke(
    invoke: Callable[[ToolContext[Any], str], Any], journal: Journal, tool_name: str
) -> Callable[[ToolContext[Any], str], Any]:
    async def on_invoke_tool(context: ToolContext[Any], arguments: str) -> Any:
        recorded = journal.recorded_tool_result(context.tool_call_id)
        if recorded is not None:
            if recorded.get("sdk_error"):
                setattr(context, _SDK_ERROR_ATTR, True)
            return decode_tool_output(recorded)
        await journal.before_tool()
        try:
            output = await invoke(context, arguments)
            await journal.record_tool_result(
                context.tool_call_id, output, bool(getattr(context, _SDK_ERROR_ATTR, False)), tool_name
            )
        except Exception as exc:  # the tool failed past the SDK, or its result was refused: the run fails
            journal.record_tool_failure(context.tool_call_id, exc)
            raise
        return output

    # Objects rather than the strings this module's annotations are: the SDK resolves them (get_type_hints)
    # on every tool call to choose the context it passes, and evaluating strings costs more than the call.
    on_invoke_tool.__annotations__ = {"context": ToolContext, "arguments": str, "return": Any}
    return on_invoke_tool


def _handoff(handoff: Handoff[Any, Any], clone: Callable[[Agent[Any]], Agent[Any]]) -> Handoff[Any, Any]:
    """The handoff, switching to the run's copy of the agent it returns."""
    invoke = handoff.on_invoke_handoff

    async def on_invoke_handoff(context: Any, input_json: str) -> Any:
        target = await invoke(context, input_json)
        return clone(target) if isinstance(target, Agent) else target

    copy = dataclasses.replace(handoff, on_invoke_handoff=on_invoke_handoff)
    target = handoff._agent_ref() if handoff._agent_ref is not None else None
    if isinstance(target, Agent):
        copy._agent_ref = weakref.ref(clone(target))
    return copy


def _completed_response(response: Response, done_items: list[Any]) -> ModelResponse:
    """The ``ModelResponse`` the runner builds from a stream's ``response.completed`` event."""
    usage = _response_usage_to_usage(response.usage) if response.usage else None
    from agents.usage import Usage

    return ModelResponse(
        output=list(response.output or done_items),
        usage=usage if usage is not None else Usage(requests=1),
        response_id=response.id,
        request_id=getattr(response, "_request_id", None),
    )


def _replayed_events(response: ModelResponse) -> list[TResponseStreamEvent]:
    """A recorded response as a short stream: created, each item added and done, completed."""
    usage = response.usage
    response_usage = ResponseUsage(
        input_tokens=usage.input_tokens, output_tokens=usage.output_tokens, total_tokens=usage.total_tokens,
        input_tokens_details=usage.input_tokens_details, output_tokens_details=usage.output_tokens_details,
    )
    object.__setattr__(response_usage, "_agents_sdk_normalized_usage", usage)  # exact usage, requests included

    def build(items: list[Any], status: str, with_usage: bool) -> Response:
        return Response(
            id=response.response_id or "", object="response", created_at=0, model="journal", output=items,
            parallel_tool_calls=True, tool_choice="auto", tools=[], status=status,  # type: ignore[arg-type]
            usage=response_usage if with_usage else None,
        )

    events: list[TResponseStreamEvent] = [
        ResponseCreatedEvent(type="response.created", sequence_number=0, response=build([], "in_progress", False))
    ]
    for index, item in enumerate(response.output):
        events.append(ResponseOutputItemAddedEvent(
            type="response.output_item.added", output_index=index, item=item, sequence_number=len(events)))
        events.append(ResponseOutputItemDoneEvent(
            type="response.output_item.done", output_index=index, item=item, sequence_number=len(events)))
    events.append(ResponseCompletedEvent(
        type="response.completed", sequence_number=len(events),
        response=build(list(response.output), "completed", True)))
    return events
