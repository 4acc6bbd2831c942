"""Python RunState (openai-agents 0.24.0, schema 1.21) to TypeScript RunState (@openai/agents 0.20.0, 1.22).

Beyond renaming, the TypeScript loader needs records Python keeps differently or not at all: per-request
usage details, completed-invocation records with their evidence, approval records bound to invocation
fingerprints, the resumable-turn flags, and an agent span so the resumed run rejoins the original trace.
Not carried: the tool description Python copies into tool call items (TypeScript keeps none; the tool
definition in code is authoritative on both sides).
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

from ..errors import TranslationError
from ._json import arr, boolean, empty, integer, known_keys, obj, text
from .fingerprints import (
    handoff_tool_name,
    js_fingerprint,
    js_function_tool_key,
    python_fingerprint,
    python_scope,
)
from .formats import TYPESCRIPT_SCHEMA_VERSION, require_format
from .items import item_to_typescript
from .resolved import resolved_indexes, shift_range
from .runitems import Call, History, index_history, run_item_to_typescript
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
_PROCESSED_KEYS = frozenset(
    {
        "new_items",
        "tools_used",
        "functions",
        "computer_actions",
        "custom_tool_actions",
        "local_shell_actions",
        "shell_actions",
        "apply_patch_actions",
        "handoffs",
        "mcp_approval_requests",
        "interruptions",
        "mcp_tool_bindings",
    }
)
_MAX_SAFE_INTEGER = 2**53 - 1
_TRACE_KEYS = frozenset({"object", "id", "workflow_name", "group_id", "metadata", "tracing_api_key"})


def _call_names(payload: dict[str, Any]) -> dict[str, str]:
    """Tool name of every function call anywhere in the state, for TypeScript's named tool results."""
    names: dict[str, str] = {}
    sources: list[Any] = []
    if isinstance(payload.get("original_input"), list):
        sources += payload["original_input"]
    sources += payload.get("pending_input") or []
    for response in [*(payload.get("model_responses") or []), payload.get("last_model_response") or {}]:
        if isinstance(response, dict):
            sources += response.get("output") or []
    sources += [i.get("raw_item") for i in payload.get("generated_items") or [] if isinstance(i, dict)]
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


def _check_invocations(records: dict[str, Any], history: History, path: str) -> None:
    """Python's own invocation records must describe exactly this history, else we would mis-bind."""
    for call_id, raw in records.items():
        rpath = f"{path}.{call_id}"
        record = obj(raw, rpath)
        call = history.calls.get(call_id)
        if call is None:
            raise TranslationError(f"invocation record for call id {call_id!r} matches no call", path=rpath)
        scope = python_scope(call.name, handoff=call.handoff)
        if record.get("approval_scope") != scope or record.get("fingerprint") != python_fingerprint(
            scope, call.arguments
        ):
            raise TranslationError(
                f"invocation record for call id {call_id!r} does not match its call "
                "(edited state, or a Python SDK version other than the supported one)",
                path=rpath,
            )
        completed = boolean(record.get("completed"), f"{rpath}.completed")
        if completed != (call.output_index is not None):
            raise TranslationError(f"call id {call_id!r} completion disagrees with its output items", path=rpath)
        if boolean(record.get("executed"), f"{rpath}.executed") != completed:
            raise TranslationError(
                f"call id {call_id!r} started but did not complete: resuming it elsewhere could run it twice",
                path=rpath,
            )
    missing = [c for c in history.calls if c not in records]
    if missing:
        raise TranslationError(f"calls without invocation records: {', '.join(missing)}", path=path)


def _js_key(call: Call) -> str:
    return handoff_tool_name(call.name) if call.handoff else js_function_tool_key(call.name)


def _completed_records(
    history: History, position: dict[int, int], approvals: dict[str, dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Completion records and their evidence: the call (or its decided approval item, which TypeScript
    keeps here instead of in the history) and the output, by their new positions."""
    fingerprints: dict[str, dict[str, str]] = {}
    evidence: dict[str, dict[str, Any]] = {}
    for call in history.completed():
        fp = js_fingerprint(_js_key(call), call.arguments)
        fingerprints.setdefault(call.agent, {})[call.call_id] = fp
        first = (
            {"item": approvals[call.call_id]}
            if call.call_id in approvals
            else {"generatedItemIndex": position[call.index]}
        )
        evidence.setdefault(call.agent, {})[call.call_id] = {
            "fingerprint": fp,
            "items": [first, {"generatedItemIndex": position[call.output_index or 0]}],
        }
    return (
        [{"agentIdentity": a, "invocations": inv} for a, inv in fingerprints.items()],
        [{"agentIdentity": a, "invocations": inv} for a, inv in evidence.items()],
    )


def _call_ids(value: Any, path: str) -> list[str]:
    if isinstance(value, bool):
        raise TranslationError("sticky always-approve/always-reject decisions are not supported", path=path)
    return [text(v, f"{path}[{i}]") for i, v in enumerate(arr(value, path))]


def _approvals(value: Any, history: History, path: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]], set[str]]:
    by_agent: dict[str, dict[str, Any]] = {}
    bound: dict[str, dict[str, str]] = {}
    all_rejected: set[str] = set()
    for i, raw in enumerate(arr(value, path)):
        epath = f"{path}[{i}]"
        entry = obj(raw, epath)
        known_keys(entry, frozenset({"agent", "tool_key", "decision"}), epath)
        agent = obj(entry.get("agent"), f"{epath}.agent")
        known_keys(agent, frozenset({"name"}), f"{epath}.agent")
        agent_name = text(agent.get("name"), f"{epath}.agent.name")
        tool = text(entry.get("tool_key"), f"{epath}.tool_key")
        decision = obj(entry.get("decision"), f"{epath}.decision")
        known_keys(decision, frozenset({"approved", "rejected", "rejection_messages"}), f"{epath}.decision")
        approved = _call_ids(decision.get("approved"), f"{epath}.decision.approved")
        rejected = _call_ids(decision.get("rejected"), f"{epath}.decision.rejected")
        all_rejected.update(rejected)
        messages = obj(decision.get("rejection_messages") or {}, f"{epath}.decision.rejection_messages")
        for call_id in approved + rejected:
            call = history.calls.get(call_id)
            if call is None or call.handoff or call.name != tool or call.agent != agent_name:
                raise TranslationError(f"decision for call id {call_id!r} matches no call of {tool!r}", path=epath)
            bound.setdefault(agent_name, {})[call_id] = js_fingerprint(js_function_tool_key(tool), call.arguments)
        record: dict[str, Any] = {"approved": approved, "rejected": rejected}
        if messages:
            record["messages"] = {k: text(v, f"{epath}.decision.rejection_messages.{k}") for k, v in messages.items()}
        by_agent.setdefault(agent_name, {})[js_function_tool_key(tool)] = record
    return (
        [{"agentIdentity": a, "approvals": approvals} for a, approvals in by_agent.items()],
        [{"agentIdentity": a, "invocations": inv, "approvals": {}} for a, inv in bound.items()],
        all_rejected,
    )


def _processed(value: Any, names: dict[str, str], path: str) -> dict[str, Any]:
    processed = obj(value, path)
    known_keys(processed, _PROCESSED_KEYS, path)
    for key in (
        "computer_actions",
        "custom_tool_actions",
        "local_shell_actions",
        "shell_actions",
        "apply_patch_actions",
        "handoffs",
        "mcp_approval_requests",
        "mcp_tool_bindings",
    ):
        empty(processed.get(key), f"{path}.{key}", f"pending {key.replace('_', ' ')}")
    functions = []
    for i, raw in enumerate(arr(processed.get("functions"), f"{path}.functions")):
        fpath = f"{path}.functions[{i}]"
        entry = obj(raw, fpath)
        known_keys(entry, frozenset({"tool_call", "tool"}), fpath)
        tool = obj(entry.get("tool"), f"{fpath}.tool")
        known_keys(tool, frozenset({"name", "lookupKey", "description", "paramsJsonSchema"}), f"{fpath}.tool")
        name = text(tool.get("name"), f"{fpath}.tool.name")
        if tool.get("lookupKey") != {"kind": "bare", "name": name}:
            raise TranslationError("only bare function tools are supported", path=f"{fpath}.tool.lookupKey")
        functions.append(
            {
                "toolCall": item_to_typescript(entry.get("tool_call"), names, f"{fpath}.tool_call"),
                "tool": {
                    "type": "function",
                    "name": name,
                    "description": text(tool.get("description", ""), f"{fpath}.tool.description"),
                    "parameters": obj(tool.get("paramsJsonSchema"), f"{fpath}.tool.paramsJsonSchema"),
                    "strict": False,
                    "deferLoading": False,
                    "timeoutBehavior": "error_as_result",
                    "inputGuardrails": [],
                    "outputGuardrails": [],
                },
                "mcpToolBinding": None,
            }
        )
    return {
        "newItems": [
            run_item_to_typescript(item, names, f"{path}.new_items[{i}]")
            for i, item in enumerate(arr(processed.get("new_items"), f"{path}.new_items"))
        ],
        "toolsUsed": [
            text(t, f"{path}.tools_used[{i}]")
            for i, t in enumerate(arr(processed.get("tools_used"), f"{path}.tools_used"))
        ],
        "handoffs": [],
        "functions": functions,
        "functionToolsNotFound": [],
        "computerActions": [],
        "shellActions": [],
        "applyPatchActions": [],
        "mcpApprovalRequests": [],
    }


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


def _trace(value: Any, agent: str, path: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The trace, plus the agent span TypeScript needs before it will re-attach a resumed run to it."""
    if value is None:
        return None, None
    trace = obj(value, path)
    known_keys(trace, _TRACE_KEYS, path)
    trace_id = text(trace.get("id"), f"{path}.id")
    out: dict[str, Any] = {
        "object": "trace",
        "id": trace_id,
        "workflow_name": text(trace.get("workflow_name"), f"{path}.workflow_name"),
        "group_id": None if trace.get("group_id") is None else text(trace["group_id"], f"{path}.group_id"),
        "metadata": obj(trace.get("metadata") or {}, f"{path}.metadata"),
    }
    if trace.get("tracing_api_key") is not None:
        out["tracing_api_key"] = text(trace["tracing_api_key"], f"{path}.tracing_api_key")
    span_id = hashlib.sha256(f"{trace_id}\0{agent}".encode()).hexdigest()[:24]
    span = {
        "object": "trace.span",
        "id": f"span_{span_id}",
        "trace_id": trace_id,
        "parent_id": None,
        "started_at": None,
        "ended_at": None,
        "error": None,
        "span_data": {"type": "agent", "name": agent, "handoffs": [], "tools": [], "output_type": "text"},
    }
    return out, span


def _context(value: Any, path: str) -> dict[str, Any]:
    context = obj(value, path)
    known_keys(context, _CONTEXT_KEYS, path)
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
    _check_invocations(
        obj(context.get("tool_invocations"), "$.context.tool_invocations"),
        history,
        "$.context.tool_invocations",
    )
    function_approvals, invocations, rejected = _approvals(
        context.get("function_tool_approvals", []), history, "$.context.function_tool_approvals"
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
    completed, evidence = _completed_records(history, position, moved)
    trace, span = _trace(payload.get("trace"), agent_name, "$.trace")

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
        out["lastProcessedResponse"] = _processed(
            payload["last_processed_response"], names, "$.last_processed_response"
        )
    out.update(
        {
            "currentTurnPersistedItemCount": integer(
                payload.get("current_turn_persisted_item_count", 0), "$.current_turn_persisted_item_count"
            ),
            "completedToolInvocations": completed,
            "completedToolInvocationEvidence": evidence,
            "ambiguousToolInvocationCallIds": [],
        }
    )
    if payload.get("reasoning_item_id_policy") is not None:
        out["reasoningItemIdPolicy"] = text(payload["reasoning_item_id_policy"], "$.reasoning_item_id_policy")
    out["trace"] = trace
    return out
