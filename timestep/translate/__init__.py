"""Translate serialized RunStates between the Python and TypeScript Agents SDKs, in both directions.

A run interrupted for approval in one language can be resumed in the other: pure JSON in, JSON out, no
agent objects needed. Anything the target SDK cannot carry faithfully is refused with a
``TranslationError`` naming the offending path; nothing is dropped silently and no partial result is
returned. Only the SDK versions in ``formats`` are accepted (their binding algorithms are private and
change between releases).
"""

from __future__ import annotations

import json
from typing import Any, Literal

import orjson

from ..errors import TranslationError
from ._json import refuse_deep_nesting
from .formats import (
    PYTHON_SCHEMA_VERSION,
    PYTHON_SDK,
    TYPESCRIPT_SCHEMA_VERSION,
    TYPESCRIPT_SDK,
    Format,
    detect_format,
)
from .to_python import to_python
from .to_typescript import to_typescript

__all__ = [
    "PYTHON_SCHEMA_VERSION",
    "PYTHON_SDK",
    "TYPESCRIPT_SCHEMA_VERSION",
    "TYPESCRIPT_SDK",
    "Format",
    "TranslationError",
    "convert",
    "detect_format",
    "to_python",
    "to_typescript",
]


def _reject_constant(constant: str) -> Any:
    raise TranslationError(f"{constant} is not valid JSON")


def _loads(text: str | bytes) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        refused = exc  # orjson refuses integers beyond 64 bits and lone surrogates; the stdlib parser does not.
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError:  # nested deeper than either parser goes: orjson said so first
        raise TranslationError(f"nested too deeply to read ({refused})") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise TranslationError(f"not valid JSON (truncated or corrupted?): {exc}") from exc


def _dumps(value: Any) -> str:
    try:
        return orjson.dumps(value).decode("utf-8")
    except TypeError:  # integers beyond 64 bits, lone surrogates
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@refuse_deep_nesting
def convert(text: str | bytes, to: Literal["python", "typescript"]) -> str:
    """Translate RunState JSON (as ``to_string``/``toString`` write it) into the JSON of SDK ``to``."""
    if to not in ("python", "typescript"):
        raise TranslationError(f"unknown target {to!r}; use 'python' or 'typescript'")
    payload = _loads(text)
    source = detect_format(payload)
    if source == to:
        raise TranslationError(f"this RunState is already in the {to} format")
    return _dumps(to_typescript(payload) if to == "typescript" else to_python(payload))
