"""Conversation items: Responses-API shapes (Python) to agents-core protocol shapes (TypeScript) and back.

Only the items a function-tool-and-handoff run produces are carried: messages, function calls and their
outputs. Everything else (reasoning, hosted and MCP tools, computer and shell calls, ...) is refused with
the item's path rather than dropped, because losing it would change what the model sees on resume.
"""

from __future__ import annotations

from typing import Any

from ..errors import TranslationError
from ._json import arr, known_keys, obj, text

__all__ = ["item_to_python", "item_to_typescript"]

_PY_CALL_KEYS = frozenset({"type", "id", "call_id", "name", "arguments", "status", "namespace", "caller"})
_PY_OUTPUT_KEYS = frozenset({"type", "id", "call_id", "output", "status"})
_PY_MESSAGE_KEYS = frozenset({"type", "id", "role", "content", "status", "phase"})
_PY_TEXT_PART_KEYS = frozenset({"type", "text", "annotations", "logprobs"})
_JS_CALL_KEYS = frozenset({"type", "id", "callId", "name", "arguments", "status"})
_JS_RESULT_KEYS = frozenset({"type", "id", "callId", "name", "output", "status"})
_JS_MESSAGE_KEYS = frozenset({"type", "id", "role", "content", "status"})
_JS_TEXT_PART_KEYS = frozenset({"type", "text", "annotations", "logprobs"})
_INPUT_PART_KEYS = frozenset({"type", "text"})


def _refuse_item_type(kind: Any, path: str) -> TranslationError:
    """The error for an item type outside the translatable subset."""
    return TranslationError(
        f"item type {kind!r} cannot be translated: only messages, function calls and their outputs are "
        "supported (reasoning, hosted/MCP tool, computer, shell and apply-patch items are refused)",
        path=path,
    )


def _status(value: Any, path: str) -> str:
    status = text(value, path)
    if status not in ("completed", "in_progress", "incomplete"):
        raise TranslationError(f"unknown status {status!r}", path=path)
    return status


def _plain_text_parts(parts: list[Any], path: str, allowed: frozenset[str]) -> list[str]:
    """Texts of output_text parts that carry nothing else (no annotations, no logprobs)."""
    texts = []
    for i, raw in enumerate(parts):
        part = obj(raw, f"{path}[{i}]")
        known_keys(part, allowed, f"{path}[{i}]")
        if part.get("type") != "output_text":
            raise TranslationError(f"content part type {part.get('type')!r} is not supported", path=f"{path}[{i}]")
        if part.get("annotations") or part.get("logprobs"):
            raise TranslationError("annotations and logprobs cannot be translated", path=f"{path}[{i}]")
        texts.append(text(part.get("text"), f"{path}[{i}].text"))
    return texts


def _input_content(value: Any, path: str) -> str | list[dict[str, str]]:
    if isinstance(value, str):
        return value
    parts = []
    for i, raw in enumerate(arr(value, path)):
        part = obj(raw, f"{path}[{i}]")
        known_keys(part, _INPUT_PART_KEYS, f"{path}[{i}]")
        if part.get("type") != "input_text":
            raise TranslationError(
                f"input content type {part.get('type')!r} is not supported (only text)", path=f"{path}[{i}]"
            )
        parts.append({"type": "input_text", "text": text(part.get("text"), f"{path}[{i}].text")})
    return parts


def item_to_typescript(item: Any, names: dict[str, str], path: str) -> dict[str, Any]:
    """One Python Responses item as a TypeScript protocol item; ``names`` maps call ids to tool names."""
    raw = obj(item, path)
    kind = raw.get("type", "message" if "role" in raw else None)
    if kind == "function_call":
        known_keys(raw, _PY_CALL_KEYS, path)
        if raw.get("namespace") is not None or raw.get("caller") not in (None, {"type": "direct"}):
            raise TranslationError("namespaced or program-called function calls are not supported", path=path)
        out: dict[str, Any] = {"type": "function_call"}
        if raw.get("id") is not None:
            out["id"] = text(raw["id"], f"{path}.id")
        out["callId"] = text(raw.get("call_id"), f"{path}.call_id")
        out["name"] = text(raw.get("name"), f"{path}.name")
        if raw.get("status") is not None:
            out["status"] = _status(raw["status"], f"{path}.status")
        out["arguments"] = text(raw.get("arguments"), f"{path}.arguments")
        return out
    if kind == "function_call_output":
        known_keys(raw, _PY_OUTPUT_KEYS, path)
        call_id = text(raw.get("call_id"), f"{path}.call_id")
        if call_id not in names:
            raise TranslationError(f"tool output for call id {call_id!r} has no matching function call", path=path)
        output = raw.get("output")
        if not isinstance(output, str):
            raise TranslationError("structured tool outputs (images, files, lists) are not supported", path=path)
        return {
            "type": "function_call_result",
            "name": names[call_id],
            "callId": call_id,
            "status": _status(raw.get("status") or "completed", f"{path}.status"),
            "output": {"type": "text", "text": output},
        }
    if kind == "message":
        known_keys(raw, _PY_MESSAGE_KEYS, path)
        role = raw.get("role")
        if raw.get("phase") is not None:
            raise TranslationError("message phases cannot be translated", path=f"{path}.phase")
        if role == "assistant":
            content = raw.get("content")
            texts = (
                [content]
                if isinstance(content, str)
                else _plain_text_parts(arr(content, f"{path}.content"), f"{path}.content", _PY_TEXT_PART_KEYS)
            )
            message: dict[str, Any] = {}
            if raw.get("id") is not None:
                message["id"] = text(raw["id"], f"{path}.id")
            message.update(
                type="message",
                role="assistant",
                status=_status(raw.get("status") or "completed", f"{path}.status"),
                content=[{"type": "output_text", "text": t} for t in texts],
            )
            return message
        if role in ("user", "system"):
            if raw.get("id") is not None or raw.get("status") is not None:
                raise TranslationError("input message ids and statuses cannot be translated", path=path)
            content_value = _input_content(raw.get("content"), f"{path}.content")
            if role == "system" and not isinstance(content_value, str):
                raise TranslationError("system messages must have plain text content", path=f"{path}.content")
            return {"type": "message", "role": role, "content": content_value}
        raise TranslationError(f"message role {role!r} is not supported (user, system, assistant)", path=path)
    raise _refuse_item_type(kind, path)


def item_to_python(item: Any, path: str, *, as_input: bool = False) -> dict[str, Any]:
    """One TypeScript protocol item as the Responses item the Python SDK itself would store.

    ``as_input`` marks run input, where Python stores an id-less assistant message without the item type
    and without annotations (the form it normalizes ``{"role": "assistant", "content": "..."}`` into).
    """
    raw = obj(item, path)
    kind = raw.get("type")
    if kind == "function_call":
        known_keys(raw, _JS_CALL_KEYS, path)
        out: dict[str, Any] = {
            "arguments": text(raw.get("arguments"), f"{path}.arguments"),
            "call_id": text(raw.get("callId"), f"{path}.callId"),
            "name": text(raw.get("name"), f"{path}.name"),
            "type": "function_call",
        }
        if raw.get("id") is not None:
            out["id"] = text(raw["id"], f"{path}.id")
        if raw.get("status") is not None:
            out["status"] = _status(raw["status"], f"{path}.status")
        return out
    if kind == "function_call_result":
        known_keys(raw, _JS_RESULT_KEYS, path)
        output = raw.get("output")
        if isinstance(output, dict) and output.get("type") == "text" and set(output) == {"type", "text"}:
            output = output["text"]
        if not isinstance(output, str):
            raise TranslationError("structured tool outputs (images, files, lists) are not supported", path=path)
        if raw.get("id") is not None:
            raise TranslationError("tool result item ids cannot be translated", path=f"{path}.id")
        text(raw.get("name"), f"{path}.name")
        _status(raw.get("status") or "completed", f"{path}.status")
        return {
            "call_id": text(raw.get("callId"), f"{path}.callId"),
            "output": output,
            "type": "function_call_output",
        }
    if kind == "message" or (kind is None and "role" in raw):
        known_keys(raw, _JS_MESSAGE_KEYS, path)
        role = raw.get("role")
        if role == "assistant":
            texts = _plain_text_parts(arr(raw.get("content"), f"{path}.content"), f"{path}.content", _JS_TEXT_PART_KEYS)
            if as_input and raw.get("id") is None:
                return {
                    "content": [{"text": t, "type": "output_text"} for t in texts],
                    "role": "assistant",
                    "status": _status(raw.get("status") or "completed", f"{path}.status"),
                }
            message: dict[str, Any] = {}
            if raw.get("id") is not None:
                message["id"] = text(raw["id"], f"{path}.id")
            message.update(
                content=[{"annotations": [], "text": t, "type": "output_text"} for t in texts],
                role="assistant",
                status=_status(raw.get("status") or "completed", f"{path}.status"),
                type="message",
            )
            return message
        if role in ("user", "system"):
            if raw.get("id") is not None or raw.get("status") is not None:
                raise TranslationError("input message ids and statuses cannot be translated", path=path)
            return {"role": role, "content": _input_content(raw.get("content"), f"{path}.content")}
        raise TranslationError(f"message role {role!r} is not supported (user, system, assistant)", path=path)
    raise _refuse_item_type(kind, path)
