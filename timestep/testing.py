"""A scripted, offline implementation of the Agents SDK ``Model`` interface.

Durable-execution tests need model turns that are identical on every run: the same items, the same ids,
the same token counts. ``ScriptedModel`` replays a fixed list of turns through the SDK's real runner (both
``Runner.run`` and ``Runner.run_streamed``), records what the runner sent it, and fails loudly when the
runner asks for more turns than were scripted.
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agents.agent_output import AgentOutputSchemaBase
from agents.handoffs import Handoff
from agents.items import ModelResponse, TResponseInputItem, TResponseOutputItem, TResponseStreamEvent
from agents.model_settings import ModelSettings
from agents.models.interface import Model, ModelProvider, ModelTracing
from agents.tool import Tool
from agents.usage import Usage
from agents.util._transforms import transform_string_function_style
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseContentPartAddedEvent,
    ResponseContentPartDoneEvent,
    ResponseCreatedEvent,
    ResponseFunctionCallArgumentsDeltaEvent,
    ResponseFunctionCallArgumentsDoneEvent,
    ResponseFunctionToolCall,
    ResponseInProgressEvent,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseTextDeltaEvent,
    ResponseTextDoneEvent,
    ResponseUsage,
)
from openai.types.responses.response_prompt_param import ResponsePromptParam
from openai.types.responses.response_usage import InputTokensDetails, OutputTokensDetails

from .errors import ScriptExhaustedError

__all__ = [
    "ScriptExhaustedError",
    "ScriptedCall",
    "ScriptedModel",
    "ScriptedModelProvider",
    "ScriptedTurn",
    "TurnUsage",
]


@dataclass(frozen=True)
class TurnUsage:
    """Token counts one scripted turn reports, including the cached and reasoning details."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0

    def to_usage(self) -> Usage:
        """The SDK ``Usage`` of a single request with these counts."""
        return Usage(
            requests=1,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            total_tokens=self.input_tokens + self.output_tokens,
            input_tokens_details=_input_details(self.cached_tokens),
            output_tokens_details=OutputTokensDetails(reasoning_tokens=self.reasoning_tokens),
        )

    def to_response_usage(self) -> ResponseUsage:
        """The same counts as the Responses API reports them at the end of a stream."""
        return ResponseUsage(
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            total_tokens=self.input_tokens + self.output_tokens,
            input_tokens_details=_input_details(self.cached_tokens),
            output_tokens_details=OutputTokensDetails(reasoning_tokens=self.reasoning_tokens),
        )


@dataclass(frozen=True)
class ScriptedTurn:
    """The output items of one model response and the usage it reports."""

    items: tuple[TResponseOutputItem, ...]
    usage: TurnUsage = field(default_factory=TurnUsage)


@dataclass(frozen=True)
class ScriptedCall:
    """What the runner sent on one model call, copied so later mutation by the runner cannot alter it."""

    system_instructions: str | None
    input: str | list[TResponseInputItem]
    tool_names: tuple[str, ...]
    handoff_names: tuple[str, ...]
    previous_response_id: str | None
    conversation_id: str | None
    streamed: bool


class ScriptedModel(Model):
    """Replays scripted turns in order; ids are derived from ``id_prefix`` and positions, never random."""

    def __init__(
        self,
        turns: Sequence[ScriptedTurn | Sequence[TResponseOutputItem]],
        *,
        id_prefix: str = "scripted",
    ) -> None:
        self._turns = [t if isinstance(t, ScriptedTurn) else ScriptedTurn(tuple(t)) for t in turns]
        self._id_prefix = id_prefix
        self._next = 0
        self.calls: list[ScriptedCall] = []

    @property
    def remaining_turns(self) -> int:
        """How many scripted turns have not been served yet."""
        return len(self._turns) - self._next

    @staticmethod
    def turn(*items: TResponseOutputItem, usage: TurnUsage | None = None) -> ScriptedTurn:
        """One turn made of ``items`` reporting ``usage`` (zero tokens when omitted)."""
        return ScriptedTurn(tuple(items), usage or TurnUsage())

    @staticmethod
    def text(text: str, *, item_id: str = "") -> ResponseOutputMessage:
        """An assistant message; an empty ``item_id`` is replaced by a positional id when served."""
        return ResponseOutputMessage(
            id=item_id,
            type="message",
            role="assistant",
            status="completed",
            content=[ResponseOutputText(type="output_text", text=text, annotations=[])],
        )

    @staticmethod
    def tool_call(
        name: str,
        arguments: Mapping[str, Any] | str = "{}",
        *,
        call_id: str = "",
        item_id: str = "",
    ) -> ResponseFunctionToolCall:
        """A function tool call; mappings are encoded as compact JSON keeping non-ASCII text as is."""
        encoded = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
        return ResponseFunctionToolCall(
            type="function_call",
            name=name,
            arguments=encoded,
            call_id=call_id,
            id=item_id or None,
            status="completed",
        )

    @staticmethod
    def handoff(
        agent_name: str,
        arguments: Mapping[str, Any] | str = "{}",
        *,
        call_id: str = "",
        item_id: str = "",
    ) -> ResponseFunctionToolCall:
        """A call of the SDK's default handoff tool (``transfer_to_<agent name>``) for ``agent_name``."""
        tool_name = transform_string_function_style(f"transfer_to_{agent_name}", warn_on_whitespace=False)
        return ScriptedModel.tool_call(tool_name, arguments, call_id=call_id, item_id=item_id)

    async def get_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None,
        conversation_id: str | None,
        prompt: ResponsePromptParam | None,
    ) -> ModelResponse:
        """Serve the next scripted turn as a complete response."""
        self._record(
            system_instructions, input, tools, handoffs, previous_response_id, conversation_id, streamed=False
        )
        index, turn, items = self._serve()
        return ModelResponse(
            output=list(items), usage=turn.usage.to_usage(), response_id=self._response_id(index)
        )

    async def stream_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None,
        conversation_id: str | None,
        prompt: ResponsePromptParam | None,
    ) -> AsyncIterator[TResponseStreamEvent]:
        """Serve the next scripted turn as the Responses stream events, ending with ``response.completed``."""
        self._record(
            system_instructions, input, tools, handoffs, previous_response_id, conversation_id, streamed=True
        )
        index, turn, items = self._serve()
        for event in _stream_events(self._response_id(index), items, turn.usage):
            yield event

    def _record(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        tools: list[Tool],
        handoffs: list[Handoff],
        previous_response_id: str | None,
        conversation_id: str | None,
        *,
        streamed: bool,
    ) -> None:
        self.calls.append(
            ScriptedCall(
                system_instructions=system_instructions,
                input=copy.deepcopy(input),
                tool_names=tuple(tool.name for tool in tools),
                handoff_names=tuple(h.tool_name for h in handoffs),
                previous_response_id=previous_response_id,
                conversation_id=conversation_id,
                streamed=streamed,
            )
        )

    def _serve(self) -> tuple[int, ScriptedTurn, list[TResponseOutputItem]]:
        if self._next >= len(self._turns):
            raise ScriptExhaustedError(
                f"ScriptedModel({self._id_prefix!r}) was called {self._next + 1} times but only "
                f"{len(self._turns)} turns were scripted; add a turn or check why the run did not end.",
                model=self._id_prefix,
            )
        index = self._next
        self._next += 1
        turn = self._turns[index]
        return index, turn, [self._with_ids(item, index, pos) for pos, item in enumerate(turn.items)]

    def _with_ids(self, item: TResponseOutputItem, turn: int, pos: int) -> TResponseOutputItem:
        update: dict[str, str] = {}
        if not getattr(item, "id", None):
            update["id"] = f"{'msg' if item.type == 'message' else 'fc'}_{self._id_prefix}_{turn}_{pos}"
        if isinstance(item, ResponseFunctionToolCall) and not item.call_id:
            update["call_id"] = f"call_{self._id_prefix}_{turn}_{pos}"
        return item.model_copy(update=update, deep=True) if update else item.model_copy(deep=True)

    def _response_id(self, turn: int) -> str:
        return f"resp_{self._id_prefix}_{turn}"


class ScriptedModelProvider(ModelProvider):
    """Hands the same ``ScriptedModel`` to every agent, whatever model name it asks for."""

    def __init__(self, model: ScriptedModel) -> None:
        self.model = model

    def get_model(self, model_name: str | None) -> Model:
        """Return the scripted model; the name is ignored on purpose."""
        return self.model


def _input_details(cached_tokens: int) -> InputTokensDetails:
    return InputTokensDetails.model_validate({"cached_tokens": cached_tokens, "cache_write_tokens": 0})


def _stream_events(
    response_id: str, items: list[TResponseOutputItem], usage: TurnUsage
) -> list[TResponseStreamEvent]:
    """The event sequence the Responses API emits for ``items``, with consecutive sequence numbers."""
    raw: list[dict[str, Any]] = [
        {"type": "response.created", "response": _response(response_id, [], None, "in_progress")},
        {"type": "response.in_progress", "response": _response(response_id, [], None, "in_progress")},
    ]
    for index, item in enumerate(items):
        raw.extend(_item_events(index, item))
    raw.append(
        {
            "type": "response.completed",
            "response": _response(response_id, items, usage.to_response_usage(), "completed"),
        }
    )
    return [
        _EVENT_TYPES[event["type"]].model_validate({**event, "sequence_number": n})
        for n, event in enumerate(raw)
    ]


def _item_events(index: int, item: TResponseOutputItem) -> list[dict[str, Any]]:
    item_id = getattr(item, "id", None) or ""
    events: list[dict[str, Any]] = []
    if isinstance(item, ResponseOutputMessage):
        empty = item.model_copy(update={"content": [], "status": "in_progress"})
        events.append({"type": "response.output_item.added", "output_index": index, "item": empty})
        for content_index, part in enumerate(item.content):
            where = {"item_id": item_id, "output_index": index, "content_index": content_index}
            events.append(
                {
                    "type": "response.content_part.added",
                    **where,
                    "part": part.model_copy(update={"text": ""}) if part.type == "output_text" else part,
                }
            )
            if isinstance(part, ResponseOutputText):
                events.append(
                    {"type": "response.output_text.delta", **where, "delta": part.text, "logprobs": []}
                )
                events.append(
                    {"type": "response.output_text.done", **where, "text": part.text, "logprobs": []}
                )
            events.append({"type": "response.content_part.done", **where, "part": part})
    elif isinstance(item, ResponseFunctionToolCall):
        events.append(
            {
                "type": "response.output_item.added",
                "output_index": index,
                "item": item.model_copy(update={"arguments": ""}),
            }
        )
        where = {"item_id": item_id, "output_index": index}
        events.append({"type": "response.function_call_arguments.delta", **where, "delta": item.arguments})
        events.append(
            {
                "type": "response.function_call_arguments.done",
                **where,
                "arguments": item.arguments,
                "name": item.name,
            }
        )
    else:
        events.append({"type": "response.output_item.added", "output_index": index, "item": item})
    events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    return events


def _response(
    response_id: str, items: list[TResponseOutputItem], usage: ResponseUsage | None, status: str
) -> Response:
    return Response(
        id=response_id,
        object="response",
        created_at=0,
        model="scripted",
        output=list(items),
        parallel_tool_calls=True,
        tool_choice="auto",
        tools=[],
        usage=usage,
        status=status,  # type: ignore[arg-type]
    )


_EVENT_TYPES: dict[str, Any] = {
    "response.created": ResponseCreatedEvent,
    "response.in_progress": ResponseInProgressEvent,
    "response.output_item.added": ResponseOutputItemAddedEvent,
    "response.content_part.added": ResponseContentPartAddedEvent,
    "response.output_text.delta": ResponseTextDeltaEvent,
    "response.output_text.done": ResponseTextDoneEvent,
    "response.content_part.done": ResponseContentPartDoneEvent,
    "response.function_call_arguments.delta": ResponseFunctionCallArgumentsDeltaEvent,
    "response.function_call_arguments.done": ResponseFunctionCallArgumentsDoneEvent,
    "response.output_item.done": ResponseOutputItemDoneEvent,
    "response.completed": ResponseCompletedEvent,
}
