"""Approval decisions: per tool and agent, the approved and rejected call ids and rejection messages.

Both SDKs bind each per-call decision to the call's invocation fingerprint; without the binding in its own
format TypeScript refuses the state and Python silently asks again, so each direction writes it.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import TranslationError
from ._json import arr, empty, known_keys, obj, text
from .completion import flat_records
from .fingerprints import js_fingerprint, js_function_tool_key
from .runitems import History

__all__ = ["approvals_to_python", "approvals_to_typescript"]


def _call_ids(value: Any, path: str) -> list[str]:
    if isinstance(value, bool):
        raise TranslationError("sticky always-approve/always-reject decisions are not supported", path=path)
    return [text(v, f"{path}[{i}]") for i, v in enumerate(arr(value, path))]


def approvals_to_typescript(
    value: Any, history: History, path: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], set[str]]:
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


def approvals_to_python(context: dict[str, Any], history: History) -> list[dict[str, Any]]:
    bound = flat_records(context.get("approvalInvocations"), "$.context.approvalInvocations")
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
