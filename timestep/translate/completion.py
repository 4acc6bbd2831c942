"""Invocation records: which function calls exist, which completed, and the evidence for each.

Python fingerprints every call (SHA-256 over its scope and arguments) and flags it executed and completed;
TypeScript records completed calls per agent with their fingerprint text and the history items proving
completion. Each direction checks the source SDK's records against the history before writing the
target's, so an edited state or an unsupported SDK version is refused rather than mis-bound.
"""

from __future__ import annotations

from typing import Any

from ..errors import TranslationError
from ._json import arr, boolean, obj, text
from .fingerprints import handoff_tool_name, js_fingerprint, js_function_tool_key, python_fingerprint, python_scope
from .runitems import Call, History

__all__ = [
    "check_python_invocations",
    "check_typescript_completion",
    "completion_to_typescript",
    "flat_records",
    "invocations_to_python",
    "js_invocation_key",
]


def js_invocation_key(call: Call) -> str:
    """The name TypeScript binds ``call`` under: its tool's state key, or ``handoff:<tool name>``."""
    return handoff_tool_name(call.name) if call.handoff else js_function_tool_key(call.name)


def check_python_invocations(records: dict[str, Any], history: History, path: str) -> None:
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


def completion_to_typescript(
    history: History, position: dict[int, int], approvals: dict[str, dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Completion records and their evidence: the call (or its decided approval item, which TypeScript
    keeps here instead of in the history) and the output, by their new positions."""
    fingerprints: dict[str, dict[str, str]] = {}
    evidence: dict[str, dict[str, Any]] = {}
    for call in history.completed():
        fp = js_fingerprint(js_invocation_key(call), call.arguments)
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


def flat_records(value: Any, path: str) -> dict[str, dict[str, Any]]:
    """``[{agentIdentity, invocations}]`` as ``{call id: (agent, record)}``-like flat mapping."""
    flat: dict[str, dict[str, Any]] = {}
    for i, raw in enumerate(arr(value or [], path)):
        entry = obj(raw, f"{path}[{i}]")
        agent = text(entry.get("agentIdentity"), f"{path}[{i}].agentIdentity")
        for call_id, record in obj(entry.get("invocations"), f"{path}[{i}].invocations").items():
            flat[call_id] = {"agent": agent, "record": record}
    return flat


def check_typescript_completion(payload: dict[str, Any], history: History) -> dict[str, Any]:
    """TypeScript's completion records must describe exactly the completed calls of the history.

    Returns the decided approval items TypeScript moved from the history into the evidence, by call id.
    """
    recorded = flat_records(payload.get("completedToolInvocations"), "$.completedToolInvocations")
    evidence = flat_records(payload.get("completedToolInvocationEvidence"), "$.completedToolInvocationEvidence")
    completed = {c.call_id: c for c in history.completed()}
    if set(recorded) != set(completed) or set(evidence) != set(completed):
        raise TranslationError(
            "completed tool invocation records do not match the tool outputs in the history "
            f"(records: {sorted(recorded)}, outputs: {sorted(completed)})",
            path="$.completedToolInvocations",
        )
    approvals: dict[str, Any] = {}
    for call_id, call in completed.items():
        fp = js_fingerprint(js_invocation_key(call), call.arguments)
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


def invocations_to_python(history: History) -> dict[str, dict[str, Any]]:
    """Python's record of every call in the history: scope, fingerprint, and whether it ran (rejections count)."""
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
