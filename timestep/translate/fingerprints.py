"""Each SDK's private invocation-binding algorithm, re-implemented so a translated state binds its approvals.

Both SDKs refuse (TypeScript) or silently ignore (Python) an approval or a completed tool call whose binding
record is not in their own format, so the translator must compute the target SDK's records itself:

* Python (``agents/_tool_invocation.py``): SHA-256 hex digests of canonical JSON, an *approval scope* over
  ``{type, tool_lookup_key[, invocation_role]}`` and a *fingerprint* over
  ``{approval_scope, type, arguments}`` with the arguments parsed by ``json.loads``.
* TypeScript (``agents-core/dist/toolInvocation.js``): the canonical JSON text itself, with every number in
  the arguments replaced by an exact decimal token ``"\\u0000openai-agents-json:number:<digits>e<exp>"``.

Both are tied to the exact SDK versions declared in ``formats.py`` and are checked against the real SDKs by
``tests/conformance``.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import lru_cache
from typing import Any

from ..errors import TranslationError

__all__ = [
    "handoff_tool_name",
    "js_fingerprint",
    "js_function_tool_key",
    "python_fingerprint",
    "python_scope",
]

_JS_TOKEN_PREFIX = "\u0000openai-agents-json:"
_JS_TOKENS = re.compile(
    r'(?P<string>"(?:[^"\\]|\\[\s\S])*"?)'
    r"|(?P<number>-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)"
    r"|(?P<bad>-)"
    r'|(?P<other>[^"\-0-9]+)'
)
_ARRAY_INDEX = re.compile(r"0|[1-9]\d*")
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
_MAX_ARRAY_INDEX = 2**32 - 2
_DIRECT_CALLER = {"type": "direct"}


def _reject_constant(constant: str) -> Any:
    raise ValueError(f"invalid JSON constant {constant}")


def _sha256_canonical(payload: Any) -> str:
    encoded = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    try:
        return hashlib.sha256(encoded.encode("utf-8")).hexdigest()
    except UnicodeEncodeError as exc:
        raise TranslationError(
            "tool arguments contain a lone surrogate (an invalid \\uD800-\\uDFFF escape), "
            "which the Python SDK cannot fingerprint"
        ) from exc


@lru_cache(maxsize=1024)
def python_scope(tool_name: str, *, handoff: bool) -> str:
    """Python's approval scope of a bare function tool call (or a handoff call, which has a role)."""
    payload: dict[str, Any] = {"type": "function_call"}
    if handoff:
        payload["invocation_role"] = "handoff"
    payload["tool_lookup_key"] = ["bare", tool_name]
    return _sha256_canonical(payload)


def python_fingerprint(scope: str, arguments: str) -> str:
    """Python's invocation fingerprint: the scope, the type and the arguments as ``json.loads`` reads them."""
    try:
        # The SDK also sorts keys before hashing; after json.loads that is exactly what sort_keys does.
        parsed: Any = json.loads(arguments, parse_constant=_reject_constant)
    except ValueError:
        parsed = arguments
    return _sha256_canonical({"approval_scope": scope, "type": "function_call", "arguments": parsed})


def handoff_tool_name(call_name: str) -> str:
    """The name TypeScript binds a handoff invocation under."""
    return f"handoff:{call_name}"


@lru_cache(maxsize=1024)
def js_function_tool_key(tool_name: str) -> str:
    """TypeScript's state key of a bare function tool, e.g. ``["bare","book"]``."""
    return _js_json(["bare", tool_name])


def js_fingerprint(tool_key: str, arguments: str) -> str:
    """TypeScript's invocation fingerprint of a direct function call (``getToolInvocationFingerprint``)."""
    # Top-level keys already in stableStringify order: caller, payload (format, value), toolName, type.
    fingerprint = {
        "caller": _DIRECT_CALLER,
        "payload": _js_payload(arguments),
        "toolName": tool_key,
        "type": "function_call",
    }
    return _js_json(fingerprint)


def _js_payload(arguments: str) -> dict[str, Any]:
    try:
        value = json.loads(_js_encode_numbers(arguments), parse_constant=_reject_constant)
    except ValueError:
        return {"format": "raw", "value": arguments}
    return {"format": "json", "value": _js_ordered(value)}


def _js_encode_numbers(text: str) -> str:
    """Port of ``encodeJsonNumbers``: numbers outside strings become exact decimal string tokens."""
    out: list[str] = []
    for match in _JS_TOKENS.finditer(text):
        kind = match.lastgroup
        token = match.group()
        if kind == "string":
            # Only an escaped NUL can open a decoded string with the prefix (a raw one is invalid JSON,
            # which the final parse rejects just as JSON.parse would).
            if token.startswith('"\\u0000'):
                decoded = json.loads(token)
                if decoded.startswith(_JS_TOKEN_PREFIX):
                    token = json.dumps(f"{_JS_TOKEN_PREFIX}string:{decoded}", ensure_ascii=False)
        elif kind == "number":
            token = f'"\\u0000openai-agents-json:number:{_js_canonical_number(token)}"'
        elif kind == "bad":
            raise ValueError("invalid JSON number")
        out.append(token)
    return "".join(out)


def _js_canonical_number(value: str) -> str:
    """Port of ``canonicalizeJsonNumber``: ``<sign><significant digits>e<exponent>``, exact, no rounding."""
    mantissa, _, exponent_text = value.lower().partition("e")
    negative = mantissa.startswith("-")
    integer, _, fraction = mantissa.lstrip("-").partition(".")
    digits = (integer + fraction).lstrip("0")
    if not digits:
        return "-0" if negative else "0"
    exponent = int(exponent_text or "0") - len(fraction)
    stripped = digits.rstrip("0")
    exponent += len(digits) - len(stripped)
    return f"{'-' if negative else ''}{stripped}e{exponent}"


def _utf16_order(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")


def _js_ordered(value: Any) -> Any:
    """Objects re-built in the key order ``Object.fromEntries`` gives sorted entries: array-index keys first,
    numerically, then the rest by UTF-16 code units (Python's code-point order differs only above U+FFFF)."""
    if isinstance(value, dict):
        keys = sorted(value)
        if any(k[:1].isdigit() or (k and max(k) > "\uffff") for k in keys):
            indexes = sorted((k for k in keys if _ARRAY_INDEX.fullmatch(k) and int(k) <= _MAX_ARRAY_INDEX), key=int)
            rest = set(keys) - set(indexes)
            keys = indexes + sorted(rest, key=_utf16_order)
        return {k: _js_ordered(value[k]) for k in keys}
    if isinstance(value, list):
        return [_js_ordered(v) for v in value]
    return value


def _js_json(value: Any) -> str:
    """``JSON.stringify`` of an already ordered value that holds no numbers.

    ``json.dumps`` escapes exactly what ``JSON.stringify`` escapes, except lone surrogates, which
    JavaScript writes as ``\\udXXX`` escapes.
    """
    encoded = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", encoded)
