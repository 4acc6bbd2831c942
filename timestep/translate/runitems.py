"""Run items (the SDK wrappers around conversation items) and the call history they describe.

The history index is what both directions bind approvals and completed invocations against: every
function call with the agent that made it, whether it is a handoff, and where its output sits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import TranslationError
from ._json import known_keys, obj, text
from .fingerprints import js_function_tool_key
from .items import item_to_python, item_to_typescript

__all__ = ["Call", "History", "index_history", "run_item_to_python", "run_item_to_typescript"]

_CALL_ITEMS = ("tool_call_item", "handoff_call_item")
_OUTPUT_ITEMS = ("tool_call_output_item", "handoff_output_item")
_SUPPORTED = ("message_output_item", *_CALL_ITEMS, *_OUTPUT_ITEMS, "tool_approval_item")
_FUNCTION_ORIGIN = {"type": "function"}


@dataclass
class Call:
    """One function call in the generated history."""

    call_id: str
    name: str
    arguments: str
    agent: str
    handoff: bool
    index: int
    output_index: int | None = None


@dataclass
class History:
    """Function calls by call id, in the order they were made."""

    calls: dict[str, Call] = field(default_factory=dict)

    def completed(self) -> list[Call]:
        """Calls with an output, in the order their outputs were produced."""
        done = [c for c in self.calls.values() if c.output_index is not None]
        return sorted(done, key=lambda c: c.output_index or 0)


def _agent(value: Any, path: str) -> str:
    ref = obj(value, path)
    known_keys(ref, frozenset({"name"}), path)
    return text(ref.get("name"), f"{path}.name")


def _refuse(kind: Any, path: str) -> TranslationError:
    return TranslationError(
        f"run item type {kind!r} cannot be translated (supported: {', '.join(_SUPPORTED)}); reasoning, "
        "hosted/MCP tool, computer, shell and nested agent-as-tool items are refused",
        path=path,
    )


def index_history(items: list[dict[str, Any]]) -> History:
    """Index calls and outputs of Python-shaped run ``items`` (validated by conversion beforehand)."""
    history = History()
    for i, item in enumerate(items):
        kind = item["type"]
        body = item["raw_item"]
        path = f"generated_items[{i}]"
        if kind in _CALL_ITEMS:
            cid = body["call_id"]
            if cid in history.calls:
                raise TranslationError(f"call id {cid!r} is used by two calls", path=path)
            history.calls[cid] = Call(
                cid, body["name"], body["arguments"], item["agent"]["name"], kind == "handoff_call_item", i
            )
        elif kind in _OUTPUT_ITEMS:
            cid = body["call_id"]
            call = history.calls.get(cid)
            if call is None or call.handoff != (kind == "handoff_output_item"):
                raise TranslationError(f"output for call id {cid!r} has no matching earlier call", path=path)
            if call.output_index is not None:
                raise TranslationError(f"call id {cid!r} has two outputs", path=path)
            call.output_index = i
        elif kind == "tool_approval_item":
            cid = body["call_id"]
            if cid not in history.calls or history.calls[cid].handoff:
                raise TranslationError(f"approval for call id {cid!r} has no matching tool call", path=path)
    return history


def run_item_to_typescript(item: Any, names: dict[str, str], path: str) -> dict[str, Any]:
    """A Python run item in TypeScript's shape."""
    src = obj(item, path)
    kind = src.get("type")
    raw = item_to_typescript(src.get("raw_item"), names, f"{path}.raw_item")
    if kind == "message_output_item" and raw["type"] == "message" and raw["role"] == "assistant":
        known_keys(src, frozenset({"type", "raw_item", "agent"}), path)
        return {"type": kind, "rawItem": raw, "agent": {"name": _agent(src.get("agent"), f"{path}.agent")}}
    if kind in _CALL_ITEMS and raw["type"] == "function_call":
        known_keys(src, frozenset({"type", "raw_item", "agent", "tool_name", "description", "tool_origin"}), path)
        if src.get("tool_origin", _FUNCTION_ORIGIN) != _FUNCTION_ORIGIN:
            raise TranslationError("only plain function tools are supported (not agent-as-tool or MCP)", path=path)
        return {"type": kind, "rawItem": raw, "agent": {"name": _agent(src.get("agent"), f"{path}.agent")}}
    if kind == "tool_call_output_item" and raw["type"] == "function_call_result":
        known_keys(src, frozenset({"type", "raw_item", "agent", "output", "tool_origin"}), path)
        if src.get("tool_origin", _FUNCTION_ORIGIN) != _FUNCTION_ORIGIN:
            raise TranslationError("only plain function tools are supported (not agent-as-tool or MCP)", path=path)
        output = text(src.get("output"), f"{path}.output")
        return {
            "type": kind,
            "rawItem": raw,
            "agent": {"name": _agent(src.get("agent"), f"{path}.agent")},
            "output": output,
        }
    if kind == "handoff_output_item" and raw["type"] == "function_call_result":
        known_keys(src, frozenset({"type", "raw_item", "agent", "source_agent", "target_agent"}), path)
        source = _agent(src.get("source_agent"), f"{path}.source_agent")
        if _agent(src.get("agent"), f"{path}.agent") != source:
            raise TranslationError(
                "a handoff output owned by an agent other than its source is not supported", path=path
            )
        return {
            "type": kind,
            "rawItem": raw,
            "sourceAgent": {"name": source},
            "targetAgent": {"name": _agent(src.get("target_agent"), f"{path}.target_agent")},
        }
    if kind == "tool_approval_item" and raw["type"] == "function_call":
        known_keys(src, frozenset({"type", "raw_item", "agent", "tool_name", "tool_lookup_key", "tool_origin"}), path)
        if src.get("tool_origin", _FUNCTION_ORIGIN) != _FUNCTION_ORIGIN:
            raise TranslationError("only plain function tools are supported (not agent-as-tool or MCP)", path=path)
        name = text(src.get("tool_name"), f"{path}.tool_name")
        if src.get("tool_lookup_key") != {"kind": "bare", "name": name} or name != raw["name"]:
            raise TranslationError("only bare (not namespaced or deferred) function tools are supported", path=path)
        return {
            "type": kind,
            "rawItem": raw,
            "agent": {"name": _agent(src.get("agent"), f"{path}.agent")},
            "toolName": name,
            "functionToolStateKey": js_function_tool_key(name),
        }
    raise _refuse(kind, path)


def run_item_to_python(item: Any, descriptions: dict[str, str], path: str) -> dict[str, Any]:
    """A TypeScript run item in Python's shape; ``descriptions`` restores tool descriptions Python keeps."""
    src = obj(item, path)
    kind = src.get("type")
    raw = item_to_python(src.get("rawItem"), f"{path}.rawItem")
    if kind == "message_output_item" and raw.get("role") == "assistant":
        known_keys(src, frozenset({"type", "rawItem", "agent"}), path)
        return {"type": kind, "raw_item": raw, "agent": {"name": _agent(src.get("agent"), f"{path}.agent")}}
    if kind in _CALL_ITEMS and raw.get("type") == "function_call":
        known_keys(src, frozenset({"type", "rawItem", "agent"}), path)
        out = {"type": kind, "raw_item": raw, "agent": {"name": _agent(src.get("agent"), f"{path}.agent")}}
        if kind == "tool_call_item":
            out["tool_name"] = raw["name"]
            if raw["name"] in descriptions:
                out["description"] = descriptions[raw["name"]]
            out["tool_origin"] = dict(_FUNCTION_ORIGIN)
        return out
    if kind == "tool_call_output_item" and raw.get("type") == "function_call_output":
        known_keys(src, frozenset({"type", "rawItem", "agent", "output", "executionStatus"}), path)
        status = src.get("executionStatus")
        if status not in (None, "executed"):
            raise TranslationError(f"unknown execution status {status!r}", path=f"{path}.executionStatus")
        return {
            "type": kind,
            "raw_item": raw,
            "agent": {"name": _agent(src.get("agent"), f"{path}.agent")},
            "output": text(src.get("output"), f"{path}.output"),
            "tool_origin": dict(_FUNCTION_ORIGIN),
        }
    if kind == "handoff_output_item" and raw.get("type") == "function_call_output":
        known_keys(src, frozenset({"type", "rawItem", "sourceAgent", "targetAgent"}), path)
        source = {"name": _agent(src.get("sourceAgent"), f"{path}.sourceAgent")}
        return {
            "type": kind,
            "raw_item": raw,
            "agent": dict(source),
            "source_agent": source,
            "target_agent": {"name": _agent(src.get("targetAgent"), f"{path}.targetAgent")},
        }
    if kind == "tool_approval_item" and raw.get("type") == "function_call":
        known_keys(src, frozenset({"type", "rawItem", "agent", "toolName", "functionToolStateKey"}), path)
        name = text(src.get("toolName"), f"{path}.toolName")
        if src.get("functionToolStateKey") != js_function_tool_key(name) or name != raw["name"]:
            raise TranslationError("only bare (not namespaced or deferred) function tools are supported", path=path)
        out = {
            "type": kind,
            "raw_item": raw,
            "agent": {"name": _agent(src.get("agent"), f"{path}.agent")},
            "tool_name": name,
        }
        out.update(tool_lookup_key={"kind": "bare", "name": name}, tool_origin=dict(_FUNCTION_ORIGIN))
        return out
    raise _refuse(kind, path)
