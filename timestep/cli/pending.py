"""What a RunState file given to ``timestep state import`` is and waits on, each field checked before use.

The file comes from anywhere: a field of the wrong type is a ``TranslationError`` naming its JSON path, never
an ``AttributeError`` or ``TypeError`` from reading past it.
"""

from __future__ import annotations

from typing import Any

from timestep.translate._json import arr, obj, text


def agent_name(payload: dict[str, Any]) -> str:
    """The name of the agent a Python-format state is at."""
    return optional_text(obj(payload.get("current_agent"), "$.current_agent"), "name", "$.current_agent") or "unknown"


def interruptions(payload: dict[str, Any]) -> list[tuple[str, str, str | None, str]]:
    """(call_id, tool name, agent name, arguments) of the approvals a Python-format state waits on."""
    path = "$.current_step"
    step = payload.get("current_step")
    if step is None or obj(step, path).get("type") != "next_step_interruption":
        return []
    data = obj(step.get("data"), f"{path}.data")
    found = []
    for n, entry in enumerate(arr(data.get("interruptions", []), f"{path}.data.interruptions")):
        where = f"{path}.data.interruptions[{n}]"
        item = obj(entry, where)
        raw = obj(item.get("raw_item"), f"{where}.raw_item")
        agent = optional_text(obj(item.get("agent", {}), f"{where}.agent"), "name", f"{where}.agent")
        call_id = optional_text(raw, "call_id", f"{where}.raw_item") or optional_text(raw, "id", f"{where}.raw_item")
        tool = optional_text(item, "tool_name", where) or optional_text(raw, "name", f"{where}.raw_item")
        arguments = optional_text(raw, "arguments", f"{where}.raw_item")
        if call_id:
            found.append((call_id, tool or "", agent, arguments or ""))
    return found


def optional_text(value: dict[str, Any], key: str, path: str) -> str | None:
    """``value[key]`` as a string, or None when it is missing or null."""
    found = value.get(key)
    return None if found is None else text(found, f"{path}.{key}")
