"""The trace a run belongs to, so the resumed run reports into the same trace.

TypeScript re-attaches a resumed run to its trace only through the saved current agent span, which Python
never writes: Python to TypeScript adds one (per-process ids and times left empty); the other way drops it.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ._json import known_keys, obj, text

__all__ = ["trace_to_python", "trace_to_typescript"]

_TRACE_KEYS = frozenset({"object", "id", "workflow_name", "group_id", "metadata", "tracing_api_key"})


def trace_to_typescript(value: Any, agent: str, path: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
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


def trace_to_python(value: Any) -> dict[str, Any] | None:
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
