"""The last processed model response: the tool calls a resume must still run, with their tool definitions.

Both loaders rebind tools by name against the live agent; the definitions carried here are descriptive.
"""

from __future__ import annotations

from typing import Any

from ..errors import TranslationError
from ._json import arr, empty, known_keys, obj, scan, text
from .items import item_to_python, item_to_typescript
from .runitems import run_item_to_python, run_item_to_typescript

__all__ = ["descriptions_of", "processed_to_python", "processed_to_typescript"]

_PY_PROCESSED_KEYS = frozenset(
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
_JS_PROCESSED_KEYS = frozenset(
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


def processed_to_typescript(value: Any, names: dict[str, str], path: str) -> dict[str, Any]:
    """Python's ``last_processed_response`` in TypeScript's shape; pending hosted or shell work is refused."""
    processed = obj(value, path)
    known_keys(processed, _PY_PROCESSED_KEYS, path)
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


def processed_to_python(
    value: Any, descriptions: dict[str, str], interruptions: list[dict[str, Any]], path: str
) -> dict[str, Any]:
    """TypeScript's ``lastProcessedResponse`` in Python's shape, with Python's copy of the interruptions."""
    processed = obj(value, path)
    known_keys(processed, _JS_PROCESSED_KEYS, path)
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


def descriptions_of(payload: dict[str, Any]) -> dict[str, str]:
    """Tool descriptions TypeScript still holds (those of the pending response), for Python's call items."""
    processed = payload.get("lastProcessedResponse")
    found: dict[str, str] = {}
    if isinstance(processed, dict):
        for entry in scan(processed.get("functions")):
            tool = entry.get("tool") if isinstance(entry, dict) else None
            if (
                isinstance(tool, dict)
                and isinstance(tool.get("name"), str)
                and isinstance(tool.get("description"), str)
            ):
                found[tool["name"]] = tool["description"]
    return found
