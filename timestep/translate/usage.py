"""Token usage: Python keeps one aggregate details entry, TypeScript one details entry per request.

Python's loader reads only element 0 of ``input_tokens_details``/``output_tokens_details``, so TypeScript's
per-request entries must be summed on the way in, or cached and reasoning tokens are under-counted. The
way out splits the aggregate back into the per-request entries Python also keeps, when they add up.
"""

from __future__ import annotations

from typing import Any

from ..errors import TranslationError
from ._json import arr, integer, known_keys, obj

__all__ = ["usage_to_python", "usage_to_typescript"]

_INPUT_DETAIL_KEYS = ("cached_tokens", "cache_write_tokens")
_OUTPUT_DETAIL_KEYS = ("reasoning_tokens",)
_PY_USAGE_KEYS = frozenset(
    {
        "requests",
        "input_tokens",
        "input_tokens_details",
        "output_tokens",
        "output_tokens_details",
        "total_tokens",
        "request_usage_entries",
    }
)
_PY_ENTRY_KEYS = frozenset(
    {"input_tokens", "output_tokens", "total_tokens", "input_tokens_details", "output_tokens_details"}
)
_JS_USAGE_KEYS = frozenset(
    {
        "requests",
        "inputTokens",
        "outputTokens",
        "totalTokens",
        "inputTokensDetails",
        "outputTokensDetails",
        "requestUsageEntries",
    }
)
_JS_ENTRY_KEYS = frozenset({"inputTokens", "outputTokens", "totalTokens", "inputTokensDetails", "outputTokensDetails"})


def _details_to_typescript(value: Any, keys: tuple[str, ...], path: str) -> dict[str, int]:
    details = obj(value, path)
    extra = {"cache_write_tokens_details"} if "cache_write_tokens" in keys else set()
    known_keys(details, frozenset(keys) | extra, path)
    if details.get("cache_write_tokens_details") is not None:
        raise TranslationError("cache write token details cannot be translated", path=path)
    out = {k: integer(details[k], f"{path}.{k}") for k in keys if k in details}
    if out.get("cache_write_tokens") == 0:
        del out["cache_write_tokens"]
    return out


def _details_to_python(value: Any, keys: tuple[str, ...], path: str) -> dict[str, Any]:
    details = obj(value, path)
    known_keys(details, frozenset(keys), path)
    counts = {k: integer(details.get(k, 0), f"{path}.{k}") for k in keys}
    if "cache_write_tokens" in keys:
        return {
            "cache_write_tokens": counts["cache_write_tokens"],
            "cached_tokens": counts["cached_tokens"],
            "cache_write_tokens_details": None,
        }
    return counts


def _sum(entries: list[dict[str, int]], keys: tuple[str, ...]) -> dict[str, int]:
    return {k: sum(e.get(k, 0) for e in entries) for k in keys}


def usage_to_typescript(value: Any, path: str) -> dict[str, Any]:
    """A Python usage record in TypeScript's shape, per-request details restored from the entries."""
    usage = obj(value, path)
    known_keys(usage, _PY_USAGE_KEYS, path)
    aggregate: dict[str, list[dict[str, int]]] = {}
    for field, keys in (
        ("input_tokens_details", _INPUT_DETAIL_KEYS),
        ("output_tokens_details", _OUTPUT_DETAIL_KEYS),
    ):
        entries = arr(usage.get(field, []), f"{path}.{field}")
        if len(entries) > 1:
            raise TranslationError("Python keeps one aggregate details entry; found several", path=f"{path}.{field}")
        aggregate[field] = [_details_to_typescript(e, keys, f"{path}.{field}[0]") for e in entries]
    js_entries: list[dict[str, Any]] = []
    for i, raw in enumerate(arr(usage.get("request_usage_entries", []), f"{path}.request_usage_entries")):
        epath = f"{path}.request_usage_entries[{i}]"
        entry = obj(raw, epath)
        known_keys(entry, _PY_ENTRY_KEYS, epath)
        js_entries.append(
            {
                "inputTokens": integer(entry.get("input_tokens"), f"{epath}.input_tokens"),
                "outputTokens": integer(entry.get("output_tokens"), f"{epath}.output_tokens"),
                "totalTokens": integer(entry.get("total_tokens"), f"{epath}.total_tokens"),
                "inputTokensDetails": _details_to_typescript(
                    entry.get("input_tokens_details", {}), _INPUT_DETAIL_KEYS, f"{epath}.input_tokens_details"
                ),
                "outputTokensDetails": _details_to_typescript(
                    entry.get("output_tokens_details", {}),
                    _OUTPUT_DETAIL_KEYS,
                    f"{epath}.output_tokens_details",
                ),
            }
        )
    input_details = aggregate["input_tokens_details"]
    output_details = aggregate["output_tokens_details"]
    per_request_in: list[dict[str, int]] = [e["inputTokensDetails"] for e in js_entries]
    per_request_out: list[dict[str, int]] = [e["outputTokensDetails"] for e in js_entries]
    if (
        js_entries
        and _sum(per_request_in, _INPUT_DETAIL_KEYS) == _sum(input_details, _INPUT_DETAIL_KEYS)
        and (_sum(per_request_out, _OUTPUT_DETAIL_KEYS) == _sum(output_details, _OUTPUT_DETAIL_KEYS))
    ):
        input_details, output_details = per_request_in, per_request_out
    out: dict[str, Any] = {
        "requests": integer(usage.get("requests"), f"{path}.requests"),
        "inputTokens": integer(usage.get("input_tokens"), f"{path}.input_tokens"),
        "outputTokens": integer(usage.get("output_tokens"), f"{path}.output_tokens"),
        "totalTokens": integer(usage.get("total_tokens"), f"{path}.total_tokens"),
        "inputTokensDetails": input_details,
        "outputTokensDetails": output_details,
    }
    if js_entries:
        out["requestUsageEntries"] = js_entries
    return out


def usage_to_python(value: Any, path: str) -> dict[str, Any]:
    """A TypeScript usage record in Python's shape: details summed into Python's single aggregate entry."""
    usage = obj(value, path)
    known_keys(usage, _JS_USAGE_KEYS, path)
    sums: dict[str, dict[str, int]] = {}
    for field, keys in (
        ("inputTokensDetails", _INPUT_DETAIL_KEYS),
        ("outputTokensDetails", _OUTPUT_DETAIL_KEYS),
    ):
        entries = [
            _details_to_python(e, keys, f"{path}.{field}[{i}]")
            for i, e in enumerate(arr(usage.get(field, []), f"{path}.{field}"))
        ]
        sums[field] = _sum(entries, keys)
    entries_out = []
    for i, raw in enumerate(arr(usage.get("requestUsageEntries", []), f"{path}.requestUsageEntries")):
        epath = f"{path}.requestUsageEntries[{i}]"
        entry = obj(raw, epath)
        known_keys(entry, _JS_ENTRY_KEYS, epath)
        entries_out.append(
            {
                "input_tokens": integer(entry.get("inputTokens"), f"{epath}.inputTokens"),
                "output_tokens": integer(entry.get("outputTokens"), f"{epath}.outputTokens"),
                "total_tokens": integer(entry.get("totalTokens"), f"{epath}.totalTokens"),
                "input_tokens_details": _details_to_python(
                    entry.get("inputTokensDetails", {}), _INPUT_DETAIL_KEYS, f"{epath}.inputTokensDetails"
                ),
                "output_tokens_details": _details_to_python(
                    entry.get("outputTokensDetails", {}), _OUTPUT_DETAIL_KEYS, f"{epath}.outputTokensDetails"
                ),
            }
        )
    cached = sums["inputTokensDetails"]
    return {
        "requests": integer(usage.get("requests"), f"{path}.requests"),
        "input_tokens": integer(usage.get("inputTokens"), f"{path}.inputTokens"),
        "input_tokens_details": [
            {
                "cache_write_tokens": cached["cache_write_tokens"],
                "cached_tokens": cached["cached_tokens"],
                "cache_write_tokens_details": None,
            }
        ],
        "output_tokens": integer(usage.get("outputTokens"), f"{path}.outputTokens"),
        "output_tokens_details": [sums["outputTokensDetails"]],
        "total_tokens": integer(usage.get("totalTokens"), f"{path}.totalTokens"),
        "request_usage_entries": entries_out,
    }
