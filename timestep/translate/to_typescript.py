"""Python RunState (openai-agents 0.24.0, schema 1.21) to TypeScript RunState (@openai/agents 0.20.0, 1.22).

Beyond renaming, the TypeScript loader needs records Python keeps differently or not at all: per-request
usage details, completed-invocation records with their evidence, approval records bound to invocation
fingerprints, the resumable-turn flags, and an agent span so the resumed run rejoins the original trace.
Not carried: the tool description Python copies into tool call items (TypeScript keeps none; the tool
definition in code is authoritative on both sides).
"""

from __future__ import annotations

import math
from typing import Any

from ..errors import TranslationError
from ._json import arr, empty, integer, known_keys, obj, refuse_deep_nesting, scan, text
from .approvals import approvals_to_typescript
from .completion import check_python_invocations, completion_to_typescript
from .formats import TYPESCRIPT_SCHEMA_VERSION, require_format
from .items import item_to_typescript
from .persisted import persisted_to_typescript
from .processed import processed_to_typescript
from .resolved import resolved_indexes, shift_range
from .runitems import History, index_history, run_item_to_typescript
from .tracing import trace_to_typescript
from .usage import usage_to_typescript

__all__ = ["to_typescript"]

_TOP_KEYS = frozenset(
    {
        "$schemaVersion",
        "current_turn",
        "current_agent",
        "original_input",
        "pending_input",
        "model_responses",
        "context",
        "tool_use_tracker",
        "max_turns",
        "no_active_agent_run",
        "input_guardrail_results",
        "output_guardrail_results",
        "tool_input_guardrail_results",
        "tool_output_guardrail_results",
        "conversation_id",
        "previous_response_id",
        "auto_previous_response_id",
        "generated_prompt_cache_key",
        "reasoning_item_id_policy",
        "nested_history_owned_session_item_refs",
        "generated_session_item_indexes",
        "current_response_generated_item_ownership",
        "generated_items",
        "session_items",
        "current_step",
        "last_model_response",
        "last_processed_response",
        "current_turn_persisted_item_count",
        "trace",
    }
)
_CONTEXT_KEYS = frozenset(
    {"usage", "approvals", "tool_invocations", "context", "context_meta", "function_tool_approvals"}
)
_MAPPING_META = {
    "original_type": "mapping",
    "serialized_via": "mapping",
    "requires_deserializer": False,
    "omitted": False,
}
_NO_CONTEXT_META = {"original_type": "none", "serialized_via": "none", "requires_deserializer": False, "omitted": False}
_MAX_SAFE_INTEGER = 2**53 - 1


def _call_names(payload: dict[str, Any]) -> dict[str, str]:
    """Tool name of every function call anywhere in the state, for TypeScript's named tool results."""
    names: dict[str, str] = {}
    sources: list[Any] = [*scan(payload.get("original_input")), *scan(payload.get("pending_input"))]
    for response in [*scan(payload.get("model_responses")), payload.get("last_model_response")]:
        if isinstance(response, dict):
            sources += scan(response.get("output"))
    sources += [i.get("raw_item") for i in scan(payload.get("generated_items")) if isinstance(i, dict)]
    for raw in sources:
        if isinstance(raw, dict) and raw.get("type") == "function_call" and isinstance(raw.get("call_id"), str):
            names[raw["call_id"]] = str(raw.get("name"))
    return names


def _input(value: Any, names: dict[str, str], path: str) -> str | list[dict[str, Any]]:
    if isinstance(value, str):
        return value
    return [item_to_typescript(item, names, f"{path}[{i}]") for i, item in enumerate(arr(value, path))]


def _model_response(value: Any, names: dict[str, str], path: str) -> dict[str, Any]:
    response = obj(value, path)
    known_keys(response, frozenset({"usage", "output", "response_id", "request_id"}), path)
    out: dict[str, Any] = {
        "usage": usage_to_typescript(response.get("usage"), f"{path}.usage"),
        "output": [
            item_to_typescript(i, names, f"{path}.output[{n}]")
            for n, i in enumerate(arr(response.get("output"), f"{path}.output"))
        ],
    }
    for src, dst in (("response_id", "responseId"), ("request_id", "requestId")):
        if response.get(src) is not None:
            out[dst] = text(response[src], f"{path}.{src}")
    return out


def _awaiting(step_data: dict[str, Any], history: History) -> list[str]:
    """Call ids of the interruptions, each of which must be a tool call in the history."""
    path = "$.current_step.data.interruptions"
    found = []
    for i, raw in enumerate(arr(step_data.get("interruptions"), path)):
        call_id = obj(obj(raw, f"{path}[{i}]").get("raw_item"), f"{path}[{i}].raw_item").get("call_id")
        if not isinstance(call_id, str) or call_id not in history.calls:
            raise TranslationError(f"interruption for call id {call_id!r} matches no call", path=f"{path}[{i}]")
        found.append(call_id)
    return found


def _session_only(payload: dict[str, Any], generated: list[Any]) -> list[tuple[dict[str, Any], str]]:
    """Session items missing from the generated items (with their paths): Python keeps decided approval
    items of earlier responses only there, where TypeScript keeps them in the completion evidence."""
    session = arr(payload.get("session_items", generated), "$.session_items")
    indexes = arr(
        payload.get("generated_session_item_indexes", list(range(len(generated)))), "$.generated_session_item_indexes"
    )
    valid = (
        len(indexes) == len(generated)
        and all(isinstance(j, int) and not isinstance(j, bool) and 0 <= j < len(session) for j in indexes)
        and indexes == sorted(set(indexes))
        and all(session[j] == item for j, item in zip(indexes, generated, strict=True))
    )
    if not valid:
        raise TranslationError(
            "session items that differ from the generated items are not supported",
            path="$.generated_session_item_indexes",
        )
    listed = set(indexes)
    names = _call_names(payload)
    return [
        (run_item_to_typescript(session[j], names, f"$.session_items[{j}]"), f"$.session_items[{j}]")
        for j in range(len(session))
        if j not in listed
    ]


def _ownership(value: Any, kept: list[int], position: dict[int, int]) -> dict[str, Any]:
    """The current response's item range and interruptions, re-pointed after dropping decided approvals."""
    path = "$.current_response_generated_item_ownership"
    ownership = obj(value, path)
    known_keys(ownership, frozenset({"start", "end", "interruptions"}), path)
    start, end = shift_range(
        integer(ownership.get("start"), f"{path}.start"), integer(ownership.get("end"), f"{path}.end"), kept
    )
    interruptions = []
    for n in arr(ownership.get("interruptions"), f"{path}.interruptions"):
        index = integer(n, f"{path}.interruptions")
        if index not in position:
            raise TranslationError(f"interruption index {index} points at a decided approval", path=path)
        interruptions.append(position[index])
    return {
        "generatedItemStartIndex": start,
        "generatedItemEndIndexExclusive": end,
        "interruptionGeneratedItemIndexes": interruptions,
        "toolOutputGuardrailResultStartIndex": 0,
    }


def _persisted(payload: dict[str, Any], generated: list[Any], kept: list[int]) -> int:
    """Python's count of the current turn's saved items as TypeScript's count of saved generated items."""
    ownership = obj(
        payload.get("current_response_generated_item_ownership"), "$.current_response_generated_item_ownership"
    )
    return persisted_to_typescript(
        integer(payload.get("current_turn_persisted_item_count", 0), "$.current_turn_persisted_item_count"),
        [obj(item, f"$.generated_items[{i}]") for i, item in enumerate(generated)],
        kept,
        integer(ownership.get("start"), "$.current_response_generated_item_ownership.start"),
        integer(ownership.get("end"), "$.current_response_generated_item_ownership.end"),
    )


def _context(value: Any, path: str) -> dict[str, Any]:
    """The application context: a JSON object, or none at all, which TypeScript can only express as {}."""
    context = obj(value, path)
    known_keys(context, _CONTEXT_KEYS, path)
    if context.get("context_meta") == _NO_CONTEXT_META and context.get("context") is None:
        empty(context.get("approvals"), f"{path}.approvals", "hosted or legacy tool approvals")
        return {}
    if context.get("context_meta") != _MAPPING_META:
        raise TranslationError(
            "only mapping (JSON object) contexts can be translated; this context was serialized from a "
            f"non-mapping object: {context.get('context_meta')!r}",
            path=f"{path}.context_meta",
        )
    empty(context.get("approvals"), f"{path}.approvals", "hosted or legacy tool approvals")
    app_context = obj(context.get("context"), f"{path}.context")
    _check_js_numbers(app_context, f"{path}.context")
    return app_context


def _check_js_numbers(value: Any, path: str) -> None:
    """JavaScript numbers are doubles: a larger integer or a negative zero would silently change on load."""
    if isinstance(value, dict):
        for k, v in value.items():
            _check_js_numbers(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_js_numbers(v, f"{path}[{i}]")
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > _MAX_SAFE_INTEGER:
        raise TranslationError("integer beyond JavaScript's exact range (2**53 - 1) in the context", path=path)
    elif isinstance(value, float) and value == 0 and math.copysign(1.0, value) < 0:
        raise TranslationError("negative zero in the context would load as 0 in JavaScript", path=path)


def _refuse_unsupported(p: dict[str, Any]) -> None:
    for key, what in (
        ("input_guardrail_results", "input guardrail results"),
        ("output_guardrail_results", "output guardrail results"),
        ("tool_input_guardrail_results", "tool input guardrail results"),
        ("tool_output_guardrail_results", "tool output guardrail results"),
        ("conversation_id", "a server-managed conversation"),
        ("previous_response_id", "a server-managed conversation"),
        ("auto_previous_response_id", "automatic previous-response chaining"),
        ("generated_prompt_cache_key", "a generated prompt cache key"),
        ("nested_history_owned_session_item_refs", "nested agent-as-tool history"),
    ):
        empty(p.get(key), f"$.{key}", what)


@refuse_deep_nesting
def to_typescript(payload: dict[str, Any]) -> dict[str, Any]:
    """Translate a Python RunState (parsed JSON) into a TypeScript RunState that resumes identically."""
    require_format(payload, "python")
    known_keys(payload, _TOP_KEYS, "$")
    _refuse_unsupported(payload)
    generated = arr(payload.get("generated_items"), "$.generated_items")
    names = _call_names(payload)
    items = [run_item_to_typescript(item, names, f"$.generated_items[{i}]") for i, item in enumerate(generated)]
    session_only = _session_only(payload, generated)
    step = obj(payload.get("current_step"), "$.current_step")
    if step.get("type") != "next_step_interruption":
        raise TranslationError(
            "only states saved at an interruption (awaiting approval) can be translated",
            path="$.current_step.type",
        )
    step_data = obj(step.get("data"), "$.current_step.data")
    known_keys(
        step_data,
        frozenset({"interruptions", "response_accepted", "llm_end_hooks_started"}),
        "$.current_step.data",
    )
    if step_data.get("response_accepted") or step_data.get("llm_end_hooks_started") is not True:
        raise TranslationError(
            "the interruption's hook progress cannot be expressed in TypeScript", path="$.current_step.data"
        )
    agent = obj(payload.get("current_agent"), "$.current_agent")
    known_keys(agent, frozenset({"name"}), "$.current_agent")
    agent_name = text(agent.get("name"), "$.current_agent.name")

    history = index_history(generated)
    context = obj(payload.get("context"), "$.context")
    app_context = _context(context, "$.context")
    check_python_invocations(
        obj(context.get("tool_invocations"), "$.context.tool_invocations"),
        history,
        "$.context.tool_invocations",
    )
    awaiting = _awaiting(step_data, history)
    function_approvals, invocations, rejected = approvals_to_typescript(
        context.get("function_tool_approvals", []), history, awaiting, "$.context.function_tool_approvals"
    )
    for call in history.completed():
        if not call.handoff and call.call_id not in rejected:
            items[call.output_index or 0]["executionStatus"] = "executed"
    resolved = resolved_indexes(generated, history)
    kept = [i for i in range(len(items)) if i not in set(resolved.values())]
    position = {old: new for new, old in enumerate(kept)}
    moved = {call_id: items[i] for call_id, i in resolved.items()}
    for item, path in session_only:
        decided = history.calls.get(item["rawItem"]["callId"]) if item["type"] == "tool_approval_item" else None
        if decided is None or decided.output_index is None:
            raise TranslationError("a session item outside the generated items is not a decided approval", path=path)
        moved[decided.call_id] = item
    completed, evidence = completion_to_typescript(history, position, moved)
    trace, span = trace_to_typescript(payload.get("trace"), agent_name, "$.trace")

    ts_context: dict[str, Any] = {
        "usage": usage_to_typescript(context.get("usage"), "$.context.usage"),
        "approvals": {},
    }
    if function_approvals:
        ts_context["functionApprovals"] = function_approvals
    ts_context["approvalInvocations"] = invocations
    ts_context["context"] = app_context
    out: dict[str, Any] = {
        "$schemaVersion": TYPESCRIPT_SCHEMA_VERSION,
        "currentTurn": integer(payload.get("current_turn"), "$.current_turn"),
        "currentAgent": {"name": agent_name},
        "originalInput": _input(payload.get("original_input"), names, "$.original_input"),
    }
    pending = _input(payload.get("pending_input") or [], names, "$.pending_input")
    if pending:
        out["pendingInput"] = pending
    out.update(
        {
            "modelResponses": [
                _model_response(r, names, f"$.model_responses[{i}]")
                for i, r in enumerate(arr(payload.get("model_responses"), "$.model_responses"))
            ],
            "context": ts_context,
            "toolUseTracker": {
                text(k, "$.tool_use_tracker"): [
                    text(t, f"$.tool_use_tracker.{k}") for t in arr(v, f"$.tool_use_tracker.{k}")
                ]
                for k, v in obj(payload.get("tool_use_tracker"), "$.tool_use_tracker").items()
            },
            "maxTurns": integer(payload.get("max_turns"), "$.max_turns"),
        }
    )
    if span is not None:
        out["currentAgentSpan"] = span
    out.update(
        {
            "noActiveAgentRun": False,
            "inputGuardrailResults": [],
            "initialInputGuardrailsCompleted": True,
            "outputGuardrailResults": [],
            "toolInputGuardrailResults": [],
            "toolOutputGuardrailResults": [],
            "currentTurnInProgress": True,
            "currentStep": {
                "type": "next_step_interruption",
                "data": {
                    "interruptions": [
                        run_item_to_typescript(item, names, f"$.current_step.data.interruptions[{i}]")
                        for i, item in enumerate(
                            arr(step_data.get("interruptions"), "$.current_step.data.interruptions")
                        )
                    ]
                },
            },
        }
    )
    if payload.get("last_model_response") is not None:
        out["lastModelResponse"] = _model_response(payload["last_model_response"], names, "$.last_model_response")
    out.update(
        {
            "generatedItems": [items[i] for i in kept],
            "currentResponseGeneratedItemOwnership": _ownership(
                payload.get("current_response_generated_item_ownership"), kept, position
            ),
            "pendingAgentToolRuns": {},
            "pendingAgentToolRunAliases": {},
        }
    )
    if payload.get("last_processed_response") is not None:
        out["lastProcessedResponse"] = processed_to_typescript(
            payload["last_processed_response"], names, "$.last_processed_response"
        )
    out.update(
        {
            "currentTurnPersistedItemCount": _persisted(payload, generated, kept),
            "completedToolInvocations": completed,
            "completedToolInvocationEvidence": evidence,
            "ambiguousToolInvocationCallIds": [],
        }
    )
    if payload.get("reasoning_item_id_policy") is not None:
        out["reasoningItemIdPolicy"] = text(payload["reasoning_item_id_policy"], "$.reasoning_item_id_policy")
    out["trace"] = trace
    return out
