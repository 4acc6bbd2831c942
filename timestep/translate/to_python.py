"""TypeScript RunState (@openai/agents 0.20.0, schema 1.22) to Python RunState (openai-agents 0.24.0, 1.21).

Python silently mis-resumes a state that merely looks right: it ignores approvals without its own
invocation records, re-runs tools it has no completion record for, and reads only the first usage
details entry. So the translator rebuilds those records from the history, after checking that the
TypeScript records it replaces agree with that same history.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import TranslationError
from ._json import arr, empty, integer, known_keys, obj, text
from .fingerprints import (
    handoff_tool_name,
    js_fingerprint,
    js_function_tool_key,
    python_fingerprint,
    python_scope,
)
from .formats import PYTHON_SCHEMA_VERSION, require_format
from .items import item_to_python
from .resolved import Placement, place_resolved
from .runitems import Call, History, index_history, run_item_to_python
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
_PROCESSED_KEYS = frozenset(
    {
        "newItems",
        "toolsUsed",
        "handoffs",
        "functions",
        "functionToolsNotFound",
        "computerActions",
        "shellActions",
        "applyPatchActions",
        "mcpApprovalRequests",
    }
)
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


def _js_key(call: Call) -> str:
    return handoff_tool_name(call.name) if call.handoff else js_function_tool_key(call.name)


def _records(value: Any, path: str) -> dict[str, dict[str, Any]]:
    """``[{agentIdentity, invocations}]`` as ``{call id: (agent, record)}``-like flat mapping."""
    flat: dict[str, dict[str, Any]] = {}
    for i, raw in enumerate(arr(value or [], path)):
        entry = obj(raw, f"{path}[{i}]")
        agent = text(entry.get("agentIdentity"), f"{path}[{i}].agentIdentity")
        for call_id, record in obj(entry.get("invocations"), f"{path}[{i}].invocations").items():
            flat[call_id] = {"agent": agent, "record": record}
    return flat


def _check_completed(payload: dict[str, Any], history: History) -> dict[str, Any]:
    """TypeScript's completion records must describe exactly the completed calls of the history.

    Returns the decided approval items TypeScript moved from the history into the evidence, by call id.
    """
    recorded = _records(payload.get("completedToolInvocations"), "$.completedToolInvocations")
    evidence = _records(payload.get("completedToolInvocationEvidence"), "$.completedToolInvocationEvidence")
    completed = {c.call_id: c for c in history.completed()}
    if set(recorded) != set(completed) or set(evidence) != set(completed):
        raise TranslationError(
            "completed tool invocation records do not match the tool outputs in the history "
            f"(records: {sorted(recorded)}, outputs: {sorted(completed)})",
            path="$.completedToolInvocations",
        )
    approvals: dict[str, Any] = {}
    for call_id, call in completed.items():
        fp = js_fingerprint(_js_key(call), call.arguments)
        epath = f"$.completedToolInvocationEvidence.{call_id}"
        ev = obj(evidence[call_id]["record"], epath)
        if recorded[call_id] != {"agent": call.agent, "record": fp} or ev.get("fingerprint") != fp:
            raise TranslationError(
                f"completion record of call id {call_id!r} does not match its call (edited state, or a "
                "TypeScript SDK version other than the supported one)",
                path=f"$.completedToolInvocations.{call_id}",
            )
        first, *rest = arr(ev.get("items"), f"{epath}.items") or [None]
        moved = first.get("item") if isinstance(first, dict) and set(first) == {"item"} else None
        if rest != [{"generatedItemIndex": call.output_index}] or not (
            first == {"generatedItemIndex": call.index}
            or (
                isinstance(moved, dict)
                and moved.get("type") == "tool_approval_item"
                and isinstance(moved.get("rawItem"), dict)
                and moved["rawItem"].get("callId") == call_id
            )
        ):
            raise TranslationError(f"completion evidence of call id {call_id!r} does not match the history", path=epath)
        if moved is not None:
            approvals[call_id] = moved
    return approvals


def _approvals(context: dict[str, Any], history: History) -> list[dict[str, Any]]:
    bound = _records(context.get("approvalInvocations"), "$.context.approvalInvocations")
    for i, raw in enumerate(arr(context.get("approvalInvocations") or [], "$.context.approvalInvocations")):
        empty(
            obj(raw, f"$.context.approvalInvocations[{i}]").get("approvals"),
            f"$.context.approvalInvocations[{i}].approvals",
            "invocation-scoped hosted approvals",
        )
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, raw in enumerate(arr(context.get("functionApprovals") or [], "$.context.functionApprovals")):
        epath = f"$.context.functionApprovals[{i}]"
        entry = obj(raw, epath)
        known_keys(entry, frozenset({"agentIdentity", "approvals"}), epath)
        agent = text(entry.get("agentIdentity"), f"{epath}.agentIdentity")
        for key, raw_record in obj(entry.get("approvals"), f"{epath}.approvals").items():
            rpath = f"{epath}.approvals.{key}"
            record = obj(raw_record, rpath)
            known_keys(record, frozenset({"approved", "rejected", "messages"}), rpath)
            decision: dict[str, Any] = {}
            for field in ("approved", "rejected"):
                ids = record.get(field)
                if isinstance(ids, bool):
                    raise TranslationError(
                        "sticky always-approve/always-reject decisions are not supported", path=rpath
                    )
                decision[field] = [text(c, f"{rpath}.{field}") for c in arr(ids, f"{rpath}.{field}")]
            messages = obj(record.get("messages") or {}, f"{rpath}.messages")
            for call_id in decision["approved"] + decision["rejected"]:
                call = history.calls.get(call_id)
                if call is None or call.handoff or js_function_tool_key(call.name) != key or call.agent != agent:
                    raise TranslationError(f"decision for call id {call_id!r} matches no call of {key}", path=rpath)
                if bound.get(call_id) != {"agent": agent, "record": js_fingerprint(key, call.arguments)}:
                    raise TranslationError(
                        f"decision for call id {call_id!r} has no matching invocation binding",
                        path="$.context.approvalInvocations",
                    )
                seen.add(call_id)
            if messages:
                decision["rejection_messages"] = {k: text(v, f"{rpath}.messages.{k}") for k, v in messages.items()}
            out.append({"agent": {"name": agent}, "tool_key": _bare_name(key, rpath), "decision": decision})
    if set(bound) - seen:
        raise TranslationError(
            f"invocation bindings without decisions: {sorted(set(bound) - seen)}",
            path="$.context.approvalInvocations",
        )
    return out


def _bare_name(key: str, path: str) -> str:
    prefix, suffix = '["bare",', "]"
    if not (key.startswith(prefix) and key.endswith(suffix)):
        raise TranslationError(f"only bare function tool approvals are supported, got {key}", path=path)
    try:
        name = json.loads(key[len(prefix) : -1])
    except ValueError:
        name = None
    if not isinstance(name, str) or js_function_tool_key(name) != key:
        raise TranslationError(f"malformed tool key {key}", path=path)
    return name


def _responses_of(payload: dict[str, Any]) -> dict[str, int]:
    """Which model response produced each call (by call id) and message (by item id)."""
    found: dict[str, int] = {}
    for n, response in enumerate(payload.get("modelResponses") or []):
        for item in response.get("output") or [] if isinstance(response, dict) else []:
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


def _trace(value: Any) -> dict[str, Any] | None:
    """The trace; TypeScript's current agent span is per process and Python keeps none."""
    if value is None:
        return None
    trace = obj(value, "$.trace")
    known_keys(
        trace, frozenset({"object", "id", "workflow_name", "group_id", "metadata", "tracing_api_key"}), "$.trace"
    )
    out: dict[str, Any] = {
        "object": "trace",
        "id": text(trace.get("id"), "$.trace.id"),
        "workflow_name": text(trace.get("workflow_name"), "$.trace.workflow_name"),
    }
    if trace.get("group_id") is not None:
        out["group_id"] = text(trace["group_id"], "$.trace.group_id")
    if obj(trace.get("metadata") or {}, "$.trace.metadata"):
        out["metadata"] = trace["metadata"]
    if trace.get("tracing_api_key") is not None:
        out["tracing_api_key"] = text(trace["tracing_api_key"], "$.trace.tracing_api_key")
    return out


def _invocations(history: History) -> dict[str, dict[str, Any]]:
    records = {}
    for call in history.calls.values():
        scope = python_scope(call.name, handoff=call.handoff)
        done = call.output_index is not None
        records[call.call_id] = {
            "type": "function_call",
            "approval_scope": scope,
            "fingerprint": python_fingerprint(scope, call.arguments),
            "executed": done,
            "completed": done,
        }
    return records


def _processed(
    value: Any, descriptions: dict[str, str], interruptions: list[dict[str, Any]], path: str
) -> dict[str, Any]:
    processed = obj(value, path)
    known_keys(processed, _PROCESSED_KEYS, path)
    for key in (
        "handoffs",
        "functionToolsNotFound",
        "computerActions",
        "shellActions",
        "applyPatchActions",
        "mcpApprovalRequests",
    ):
        empty(processed.get(key), f"{path}.{key}", f"pending {key}")
    functions = []
    for i, raw in enumerate(arr(processed.get("functions"), f"{path}.functions")):
        fpath = f"{path}.functions[{i}]"
        entry = obj(raw, fpath)
        known_keys(entry, frozenset({"toolCall", "tool", "mcpToolBinding"}), fpath)
        empty(entry.get("mcpToolBinding"), f"{fpath}.mcpToolBinding", "an MCP tool binding")
        tool = obj(entry.get("tool"), f"{fpath}.tool")
        if tool.get("type") != "function":
            raise TranslationError("only function tools are supported", path=f"{fpath}.tool.type")
        name = text(tool.get("name"), f"{fpath}.tool.name")
        functions.append(
            {
                "tool_call": item_to_python(entry.get("toolCall"), f"{fpath}.toolCall"),
                "tool": {
                    "name": name,
                    "lookupKey": {"kind": "bare", "name": name},
                    "description": text(tool.get("description", ""), f"{fpath}.tool.description"),
                    "paramsJsonSchema": obj(tool.get("parameters"), f"{fpath}.tool.parameters"),
                },
            }
        )
    return {
        "new_items": [
            run_item_to_python(item, descriptions, f"{path}.newItems[{i}]")
            for i, item in enumerate(arr(processed.get("newItems"), f"{path}.newItems"))
        ],
        "tools_used": [
            text(t, f"{path}.toolsUsed[{i}]")
            for i, t in enumerate(arr(processed.get("toolsUsed"), f"{path}.toolsUsed"))
        ],
        "functions": functions,
        "computer_actions": [],
        "custom_tool_actions": [],
        "local_shell_actions": [],
        "shell_actions": [],
        "apply_patch_actions": [],
        "handoffs": [],
        "mcp_approval_requests": [],
        "interruptions": interruptions,
        "mcp_tool_bindings": {},
    }


def _descriptions(payload: dict[str, Any]) -> dict[str, str]:
    processed = payload.get("lastProcessedResponse")
    found: dict[str, str] = {}
    if isinstance(processed, dict):
        for entry in processed.get("functions") or []:
            tool = entry.get("tool") if isinstance(entry, dict) else None
            if (
                isinstance(tool, dict)
                and isinstance(tool.get("name"), str)
                and isinstance(tool.get("description"), str)
            ):
                found[tool["name"]] = tool["description"]
    return found


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

    descriptions = _descriptions(payload)
    items = [
        run_item_to_python(item, descriptions, f"$.generatedItems[{i}]")
        for i, item in enumerate(arr(payload.get("generatedItems"), "$.generatedItems"))
    ]
    history = index_history(items)
    moved = {
        call_id: run_item_to_python(item, descriptions, f"$.completedToolInvocationEvidence.{call_id}.items[0]")
        for call_id, item in _check_completed(payload, history).items()
    }
    ownership = _ownership_fields(payload.get("currentResponseGeneratedItemOwnership"))
    placement = place_resolved(items, moved, history, _responses_of(payload), range(ownership[0], ownership[1]))
    approvals = _approvals(context, history)
    interruptions = [
        run_item_to_python(item, descriptions, f"$.currentStep.data.interruptions[{i}]")
        for i, item in enumerate(arr(step_data.get("interruptions"), "$.currentStep.data.interruptions"))
    ]
    for item in interruptions:
        item.pop("description", None)
    py_context: dict[str, Any] = {
        "usage": usage_to_python(context.get("usage"), "$.context.usage"),
        "approvals": {},
        "tool_invocations": _invocations(history),
        "context": obj(context.get("context"), "$.context.context"),
        "context_meta": dict(_MAPPING_META),
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
        else _processed(payload["lastProcessedResponse"], descriptions, interruptions, "$.lastProcessedResponse"),
        "current_turn_persisted_item_count": integer(
            payload.get("currentTurnPersistedItemCount", 0), "$.currentTurnPersistedItemCount"
        ),
        "trace": _trace(payload.get("trace")),
    }
