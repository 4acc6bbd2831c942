"""One-line summaries of the items in a stored RunState (Python or TypeScript format), read as plain JSON."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(frozen=True)
class ItemSummary:
    index: int
    kind: str
    agent: str | None
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "kind": self.kind, "agent": self.agent, "text": self.text}


def summarize_items(state_text: str | None) -> list[ItemSummary]:
    """The run's input items, then the items it generated, as stored in its latest snapshot."""
    if state_text is None:
        return []
    try:
        payload = orjson.loads(state_text)
    except orjson.JSONDecodeError:
        return [ItemSummary(0, "unreadable", None, "the latest snapshot is not valid JSON")]
    if not isinstance(payload, dict):
        return []
    python = "current_agent" in payload
    original = payload.get("original_input" if python else "originalInput")
    generated = payload.get("generated_items" if python else "generatedItems") or []
    summaries: list[ItemSummary] = []
    if isinstance(original, str):
        summaries.append(ItemSummary(0, "input", None, f"user: {original}"))
    elif isinstance(original, list):
        for entry in original:
            summaries.append(ItemSummary(len(summaries), "input", None, item_text(entry)))
    for entry in generated if isinstance(generated, list) else []:
        if not isinstance(entry, dict):
            continue
        raw = entry.get("raw_item", entry.get("rawItem"))
        agent = entry.get("agent")
        name = agent.get("name") if isinstance(agent, dict) else None
        kind = str(entry.get("type", "item")).removesuffix("_item")
        summaries.append(ItemSummary(len(summaries), kind, name, item_text(raw)))
    return summaries


def item_text(raw: Any) -> str:
    if not isinstance(raw, dict):
        return _text(raw)
    kind = raw.get("type")
    if kind in ("function_call", "function_call_result") and "name" in raw and "arguments" in raw:
        return f"{raw['name']}({raw.get('arguments') or ''})"
    if kind in ("function_call_output", "function_call_result") or ("call_id" in raw and "output" in raw):
        return f"{raw.get('call_id') or raw.get('callId') or ''} -> {_text(raw.get('output'))}"
    if "content" in raw:
        role = raw.get("role")
        return f"{role}: {_text(raw['content'])}" if role else _text(raw["content"])
    if kind == "reasoning":
        return _text(raw.get("summary")) or "(reasoning)"
    return _text(raw)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return " ".join(t for t in (_text(v) for v in value) if t)
    if isinstance(value, dict):
        for key in ("text", "output", "refusal"):
            if isinstance(value.get(key), str):
                return str(value[key])
    return orjson.dumps(value).decode()
