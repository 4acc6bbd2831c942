"""TypeScript RunState (@openai/agents 0.20.0, schema 1.22) to Python RunState (openai-agents 0.24.0, 1.21).

Python silently mis-resumes a state that merely looks right: it ignores approvals without its own
invocation records, re-runs tools it has no completion record for, and reads only the first usage
details entry. So the translator rebuilds those records from the history, after checking that the
TypeScript records it replaces agree with that same history.
"""

from __future__ import annotations

from typing import Any

from ..errors import TranslationError
from ._json import arr, empty, integer, known_keys, obj, refuse_deep_nesting, scan, text
from .approvals import approvals_to_python
from .completion import check_typescript_completion, invocations_to_python
from .formats import PYTHON_SCHEMA_VERSION, require_format
from .items import item_to_python
from .persisted import persisted_to_python
from .processed import descriptions_of, processed_to_python
from .resolved import Placement, place_resolved
from .runitems import index_history, run_item_to_python
from .tracing import trace_to_python
from .usage import usage_to_python

__all__ = ["to_python"]

_TOP_KEYS = frozenset(
    {
        "$schemaVersion",
        "currentTurn",
        "currentAgent",
        "originalInput",
        "pendingInput",
        "modelResponses",
        "context",
        "toolUseTracker",
        "maxTurns",
        "currentAgentSpan",
        "noActiveAgentRun",
        "inputGuardrailResults",
        "initialInputGuardrailsCompleted",
        "outputGuardrailResults",
        "toolInputGuardrailResults",
        "toolOutputGuardrailResults",
        "currentTurnInProgress",
        "currentStep",
        "lastModelResponse",
        "generatedItems",
        "currentResponseGeneratedItemOwnership",
        "pendingAgentToolRuns",
        "pendingAgentToolRunAliases",
        "lastProcessedResponse",
        "currentTurnPersistedItemCount",
        "currentTurnSessionInputItems",
        "completedToolInvocations",
        "completedToolInvocationEvidence",
        "ambiguousToolInvocationCallIds",
        "reasoningItemIdPolicy",
        "trace",
    }
)
_CONTEXT_KEYS = frozenset({"usage", "approvals", "functionApprovals", "approvalInvocations", "context"})
_NO_CONTEXT_META = {"original_type": "none", "serialized_via": "none", "requires_deserializer": False, "omitted": False}
_MAPPING_META = {
    "original_type": "mapping",
    "serialized_via": "mapping",
    "requires_deserializer": False,
    "omitted": False,
}


def _input(value: Any, path: str) -> str | list[dict[str, Any]]:
    if isinstance(value, str):
        return value
    return [item_to_python(item, f"{path}[{i}]", as_input=True) for i, item in enumerate(arr(value, path))]


def _model_response(value: Any, path: str) -> dict[str, Any]:
    response = obj(value, path)
    known_keys(response, frozenset({"usage", "output", "responseId", "requestId"}), path)
    return {
        "usage": usage_to_python(response.get("usage"), f"{path}.usage"),
        "output": [
            item_to_python(i, f"{path}.output[{n}]")
            for n, i in enumerate(arr(response.get("output"), f"{path}.output"))
        ],
        "response_id": None
        if response.get("responseId") is None
        else text(response["responseId"], f"{path}.responseId"),
        "request_id": None if response.get("requestId") is None else text(response["requestId"], f"{path}.requestId"),
    }


def _responses_of(payload: dict[str, Any]) -> dict[str, int]:
    """Which model response produced each call (by call id) and message (by item id)."""
    found: dict[str, int] = {}
    for n, response in enumerate(scan(payload.get("modelResponses"))):
        for item in scan(response.get("output")) if isinstance(response, dict) else []:
            key = item.get("callId", item.get("id")) if isinstance(item, dict) else None
            if isinstance(key, str):
                found[key] = n
    return found


def _ownership_fields(value: Any) -> tuple[int, int, list[int]]:
    """Start, exclusive end and interruption indexes of the current response in ``generatedItems``."""
    path = "$.currentResponseGeneratedItemOwnership"
    ownership = obj(value, path)
    known_keys(
        ownership,
        frozenset(
            {
                "generatedItemStartIndex",
                "generatedItemEndIndexExclusive",
                "interruptionGeneratedItemIndexes",
                "toolOutputGuardrailResultStartIndex",
            }
        ),
        path,
    )
    if ownership.get("toolOutputGuardrailResultStartIndex", 0) != 0:
        raise TranslationError("tool output guardrail results are not supported", path=path)
    return (
        integer(ownership.get("generatedItemStartIndex"), f"{path}.generatedItemStartIndex"),
        integer(ownership.get("generatedItemEndIndexExclusive"), f"{path}.generatedItemEndIndexExclusive"),
        [
            integer(n, f"{path}.interruptionGeneratedItemIndexes")
            for n in arr(ownership.get("interruptionGeneratedItemIndexes"), f"{path}.interruptionGeneratedItemIndexes")
        ],
    )


def _ownership(fields: tuple[int, int, list[int]], placement: Placement) -> dict[str, Any]:
    """The current response's range and interruptions, re-pointed after restoring decided approvals."""
    start, end, indexes = fields
    for index in indexes:
        if index not in placement.moved:
            raise TranslationError(
                f"interruption index {index} is outside the history", path="$.currentResponseGeneratedItemOwnership"
            )
    new_start, new_end = placement.generated_range(start, end)
    return {"start": new_start, "end": new_end, "interruptions": [placement.moved[i] for i in indexes]}


def _refuse_unsupported(p: dict[str, Any], context: dict[str, Any]) -> None:
    for key, what in (
        ("inputGuardrailResults", "input guardrail results"),
        ("outputGuardrailResults", "output guardrail results"),
        ("toolInputGuardrailResults", "tool input guardrail results"),
        ("toolOutputGuardrailResults", "tool output guardrail results"),
        ("pendingAgentToolRuns", "pending nested agent-as-tool runs"),
        ("pendingAgentToolRunAliases", "pending nested agent-as-tool runs"),
        ("ambiguousToolInvocationCallIds", "ambiguous tool invocations"),
    ):
        empty(p.get(key), f"$.{key}", what)
    for key, what in (("approvals", "hosted or legacy tool approvals"),):
        empty(context.get(key), f"$.context.{key}", what)
    if (
        p.get("noActiveAgentRun") is not False
        or p.get("currentTurnInProgress") is not True
        or (p.get("initialInputGuardrailsCompleted") is not True)
    ):
        raise TranslationError("only states saved at an interruption inside a running turn can be translated", path="$")


@refuse_deep_nesting
def to_python(payload: dict[str, Any]) -> dict[str, Any]:
    """Translate a TypeScript RunState (parsed JSON) into a Python RunState that resumes identically."""
    require_format(payload, "typescript")
    known_keys(payload, _TOP_KEYS, "$")
    context = obj(payload.get("context"), "$.context")
    known_keys(context, _CONTEXT_KEYS, "$.context")
    _refuse_unsupported(payload, context)
    step = obj(payload.get("currentStep"), "$.currentStep")
    if step.get("type") != "next_step_interruption":
        raise TranslationError(
            "only states saved at an interruption (awaiting approval) can be translated",
            path="$.currentStep.type",
        )
    step_data = obj(step.get("data"), "$.currentStep.data")
    known_keys(step_data, frozenset({"interruptions"}), "$.currentStep.data")
    agent = obj(payload.get("currentAgent"), "$.currentAgent")
    known_keys(agent, frozenset({"name"}), "$.currentAgent")
    agent_name = text(agent.get("name"), "$.currentAgent.name")
    original = _input(payload.get("originalInput"), "$.originalInput")
    session_input = payload.get("currentTurnSessionInputItems")
    run_input = payload.get("originalInput")
    as_items = [{"type": "message", "role": "user", "content": run_input}] if isinstance(run_input, str) else None
    if session_input is not None and session_input not in (run_input, as_items):
        raise TranslationError(
            "pending session input other than the run input is not supported",
            path="$.currentTurnSessionInputItems",
        )

    descriptions = descriptions_of(payload)
    items = [
        run_item_to_python(item, descriptions, f"$.generatedItems[{i}]")
        for i, item in enumerate(arr(payload.get("generatedItems"), "$.generatedItems"))
    ]
    history = index_history(items)
    moved = {
        call_id: run_item_to_python(item, descriptions, f"$.completedToolInvocationEvidence.{call_id}.items[0]")
        for call_id, item in check_typescript_completion(payload, history).items()
    }
    ownership = _ownership_fields(payload.get("currentResponseGeneratedItemOwnership"))
    placement = place_resolved(items, moved, history, _responses_of(payload), range(ownership[0], ownership[1]))
    approvals = approvals_to_python(context, history)
    interruptions = [
        run_item_to_python(item, descriptions, f"$.currentStep.data.interruptions[{i}]")
        for i, item in enumerate(arr(step_data.get("interruptions"), "$.currentStep.data.interruptions"))
    ]
    for item in interruptions:
        item.pop("description", None)
    app_context = obj(context.get("context"), "$.context.context")
    py_context: dict[str, Any] = {
        "usage": usage_to_python(context.get("usage"), "$.context.usage"),
        "approvals": {},
        "tool_invocations": invocations_to_python(history),
        # TypeScript always has a context object; an empty one is what a run without context saves.
        "context": app_context or None,
        "context_meta": dict(_MAPPING_META if app_context else _NO_CONTEXT_META),
    }
    if approvals:
        py_context["function_tool_approvals"] = approvals
    last_response = payload.get("lastModelResponse")
    return {
        "$schemaVersion": PYTHON_SCHEMA_VERSION,
        "current_turn": integer(payload.get("currentTurn"), "$.currentTurn"),
        "current_agent": {"name": agent_name},
        "original_input": original,
        "pending_input": _input(payload.get("pendingInput") or [], "$.pendingInput"),
        "model_responses": [
            _model_response(r, f"$.modelResponses[{i}]")
            for i, r in enumerate(arr(payload.get("modelResponses"), "$.modelResponses"))
        ],
        "context": py_context,
        "tool_use_tracker": {
            k: [text(t, f"$.toolUseTracker.{k}") for t in arr(v, f"$.toolUseTracker.{k}")]
            for k, v in obj(payload.get("toolUseTracker"), "$.toolUseTracker").items()
        },
        "max_turns": integer(payload.get("maxTurns"), "$.maxTurns"),
        "no_active_agent_run": True,
        "input_guardrail_results": [],
        "output_guardrail_results": [],
        "tool_input_guardrail_results": [],
        "tool_output_guardrail_results": [],
        "conversation_id": None,
        "previous_response_id": None,
        "auto_previous_response_id": False,
        "generated_prompt_cache_key": None,
        "reasoning_item_id_policy": payload.get("reasoningItemIdPolicy"),
        "nested_history_owned_session_item_refs": [],
        "generated_session_item_indexes": placement.generated,
        "current_response_generated_item_ownership": _ownership(ownership, placement),
        "generated_items": [placement.session[n] for n in placement.generated],
        "session_items": [dict(i) for i in placement.session],
        "current_step": {
            "type": "next_step_interruption",
            "data": {
                "interruptions": interruptions,
                "response_accepted": False,
                "llm_end_hooks_started": True,
            },
        },
        "last_model_response": None if last_response is None else _model_response(last_response, "$.lastModelResponse"),
        "last_processed_response": None
        if payload.get("lastProcessedResponse") is None
        else processed_to_python(
            payload["lastProcessedResponse"], descriptions, interruptions, "$.lastProcessedResponse"
        ),
        "current_turn_persisted_item_count": persisted_to_python(
            integer(payload.get("currentTurnPersistedItemCount", 0), "$.currentTurnPersistedItemCount"),
            [
                obj(item, f"$.generatedItems[{i}]")
                for i, item in enumerate(arr(payload.get("generatedItems"), "$.generatedItems"))
            ],
            ownership[0],
            ownership[1],
        ),
        "trace": trace_to_python(payload.get("trace")),
    }
