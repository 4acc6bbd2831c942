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
from .fingerprints import js_fingerprint, js_function_tool_key, python_scope
from .runitems import Call, History

__all__ = ["approvals_to_python", "approvals_to_typescript"]

_PY_DECISION_KEYS = frozenset(
    {"approved", "rejected", "rejection_messages", "sticky_rejection_message", "sticky_scope"}
)


def _decision_ids(value: Any, path: str) -> list[str] | bool:
    """A per-call list of call ids, or a sticky (always / never) flag."""
    if isinstance(value, bool):
        return value
    return [text(v, f"{path}[{i}]") for i, v in enumerate(arr(value, path))]


def _listed(value: list[str] | bool) -> list[str]:
    return [] if isinstance(value, bool) else value


def _tool_call(history: History, call_id: str, tool: str, agent: str, path: str) -> Call:
    call = history.calls.get(call_id)
    if call is None or call.handoff or call.name != tool or call.agent != agent:
        raise TranslationError(f"decision for call id {call_id!r} matches no call of {tool!r} by {agent!r}", path=path)
    return call


def approvals_to_typescript(
    value: Any, history: History, pending: list[str], path: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], set[str]]:
    """Python ``function_tool_approvals`` as TypeScript ``functionApprovals`` plus invocation bindings,
    and the call ids whose outputs are rejections. A sticky approval binds the pending calls it covers
    (Python does not record which call it was given on)."""
    by_agent: dict[str, dict[str, Any]] = {}
    bound: dict[str, dict[str, str]] = {}
    rejected_ids: set[str] = set()
    for i, raw in enumerate(arr(value, path)):
        epath = f"{path}[{i}]"
        entry = obj(raw, epath)
        known_keys(entry, frozenset({"agent", "tool_key", "decision"}), epath)
        agent = obj(entry.get("agent"), f"{epath}.agent")
        known_keys(agent, frozenset({"name"}), f"{epath}.agent")
        agent_name = text(agent.get("name"), f"{epath}.agent.name")
        tool = text(entry.get("tool_key"), f"{epath}.tool_key")
        dpath = f"{epath}.decision"
        decision = obj(entry.get("decision"), dpath)
        known_keys(decision, _PY_DECISION_KEYS, dpath)
        approved = _decision_ids(decision.get("approved"), f"{dpath}.approved")
        rejected = _decision_ids(decision.get("rejected"), f"{dpath}.rejected")
        messages = {
            k: text(v, f"{dpath}.rejection_messages.{k}")
            for k, v in obj(decision.get("rejection_messages") or {}, f"{dpath}.rejection_messages").items()
        }
        calls = [_tool_call(history, c, tool, agent_name, dpath) for c in _listed(approved) + _listed(rejected)]
        calls += [_tool_call(history, c, tool, agent_name, dpath) for c in messages if c not in _listed(rejected)]
        record: dict[str, Any] = {"approved": approved, "rejected": rejected}
        if messages:
            record["messages"] = messages
        sticky = isinstance(approved, bool) or isinstance(rejected, bool)
        if sticky:
            if decision.get("sticky_scope") != python_scope(tool, handoff=False):
                raise TranslationError("sticky decision scope does not match its tool", path=f"{dpath}.sticky_scope")
            if decision.get("sticky_rejection_message") is not None:
                record["stickyRejectMessage"] = text(
                    decision["sticky_rejection_message"], f"{dpath}.sticky_rejection_message"
                )
            calls += [
                history.calls[c]
                for c in pending
                if history.calls[c].name == tool and history.calls[c].agent == agent_name
            ]
        elif decision.get("sticky_scope") is not None or decision.get("sticky_rejection_message") is not None:
            raise TranslationError("a per-call decision carries sticky fields", path=dpath)
        for call in calls:
            bound.setdefault(agent_name, {})[call.call_id] = js_fingerprint(js_function_tool_key(tool), call.arguments)
        rejected_ids.update(_listed(rejected))
        if rejected is True:
            rejected_ids.update(
                c.call_id
                for c in history.calls.values()
                if c.name == tool and c.agent == agent_name and c.call_id not in _listed(approved)
            )
        by_agent.setdefault(agent_name, {})[js_function_tool_key(tool)] = record
    return (
        [{"agentIdentity": a, "approvals": approvals} for a, approvals in by_agent.items()],
        [{"agentIdentity": a, "invocations": inv, "approvals": {}} for a, inv in bound.items()],
        rejected_ids,
    )


def approvals_to_python(context: dict[str, Any], history: History) -> list[dict[str, Any]]:
    """TypeScript ``functionApprovals`` as Python ``function_tool_approvals``, after checking that every
    per-call decision is bound to its call's invocation fingerprint."""
    bound = flat_records(context.get("approvalInvocations"), "$.context.approvalInvocations")
    for i, raw in enumerate(arr(context.get("approvalInvocations") or [], "$.context.approvalInvocations")):
        empty(
            obj(raw, f"$.context.approvalInvocations[{i}]").get("approvals"),
            f"$.context.approvalInvocations[{i}].approvals",
            "invocation-scoped hosted approvals",
        )
    out: list[dict[str, Any]] = []
    covered: set[str] = set()
    for i, raw in enumerate(arr(context.get("functionApprovals") or [], "$.context.functionApprovals")):
        epath = f"$.context.functionApprovals[{i}]"
        entry = obj(raw, epath)
        known_keys(entry, frozenset({"agentIdentity", "approvals"}), epath)
        agent = text(entry.get("agentIdentity"), f"{epath}.agentIdentity")
        for key, raw_record in obj(entry.get("approvals"), f"{epath}.approvals").items():
            rpath = f"{epath}.approvals.{key}"
            tool = _bare_name(key, rpath)
            record = obj(raw_record, rpath)
            known_keys(record, frozenset({"approved", "rejected", "messages", "stickyRejectMessage"}), rpath)
            approved = _decision_ids(record.get("approved"), f"{rpath}.approved")
            rejected = _decision_ids(record.get("rejected"), f"{rpath}.rejected")
            messages = {
                k: text(v, f"{rpath}.messages.{k}")
                for k, v in obj(record.get("messages") or {}, f"{rpath}.messages").items()
            }
            for call_id in _listed(approved) + _listed(rejected):
                call = _tool_call(history, call_id, tool, agent, rpath)
                if bound.get(call_id) != {"agent": agent, "record": js_fingerprint(key, call.arguments)}:
                    raise TranslationError(
                        f"decision for call id {call_id!r} has no matching invocation binding",
                        path="$.context.approvalInvocations",
                    )
            decision: dict[str, Any] = {"approved": approved, "rejected": rejected}
            if messages:
                decision["rejection_messages"] = messages
            sticky = isinstance(approved, bool) or isinstance(rejected, bool)
            if sticky:
                if record.get("stickyRejectMessage") is not None:
                    decision["sticky_rejection_message"] = text(
                        record["stickyRejectMessage"], f"{rpath}.stickyRejectMessage"
                    )
                decision["sticky_scope"] = python_scope(tool, handoff=False)
            elif record.get("stickyRejectMessage") is not None:
                raise TranslationError("a per-call decision carries a sticky rejection message", path=rpath)
            covered.update(
                c
                for c, rec in bound.items()
                if rec["agent"] == agent
                and (
                    c in _listed(approved) + _listed(rejected) + list(messages)
                    or (sticky and history.calls.get(c) is not None and history.calls[c].name == tool)
                )
            )
            out.append({"agent": {"name": agent}, "tool_key": tool, "decision": decision})
    if set(bound) - covered:
        raise TranslationError(
            f"invocation bindings without decisions: {sorted(set(bound) - covered)}",
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
