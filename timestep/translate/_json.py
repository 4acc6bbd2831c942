"""Typed reads from untrusted JSON that fail with the JSON path of the offending value."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from ..errors import TranslationError

P = ParamSpec("P")
R = TypeVar("R")


def obj(value: Any, path: str) -> dict[str, Any]:
    """``value`` as a JSON object."""
    if not isinstance(value, dict):
        raise TranslationError(f"expected an object, got {_kind(value)}", path=path)
    return value


def arr(value: Any, path: str) -> list[Any]:
    """``value`` as a JSON array."""
    if not isinstance(value, list):
        raise TranslationError(f"expected an array, got {_kind(value)}", path=path)
    return value


def text(value: Any, path: str) -> str:
    """``value`` as a JSON string."""
    if not isinstance(value, str):
        raise TranslationError(f"expected a string, got {_kind(value)}", path=path)
    return value


def integer(value: Any, path: str) -> int:
    """``value`` as a non-negative JSON integer."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TranslationError(f"expected a non-negative integer, got {_kind(value)}", path=path)
    return value


def boolean(value: Any, path: str) -> bool:
    """``value`` as a JSON boolean."""
    if not isinstance(value, bool):
        raise TranslationError(f"expected a boolean, got {_kind(value)}", path=path)
    return value


def scan(value: Any) -> list[Any]:
    """``value`` if it is an array, else nothing: for look-ahead scans that run before the strict pass."""
    return value if isinstance(value, list) else []


def known_keys(value: dict[str, Any], allowed: frozenset[str], path: str) -> None:
    """Refuse fields the translator does not know how to carry, instead of dropping them."""
    if value.keys() <= allowed:
        return
    unknown = sorted(value.keys() - allowed)
    if unknown:
        raise TranslationError(
            f"unsupported field(s) {', '.join(unknown)}: the translator cannot carry them faithfully",
            path=path,
        )


def empty(value: Any, path: str, what: str) -> None:
    """Refuse a feature the translator does not support when it is actually in use."""
    if value not in (None, [], {}, False):
        raise TranslationError(f"{what} cannot be translated faithfully and is refused", path=path)


def refuse_deep_nesting(translate: Callable[P, R]) -> Callable[P, R]:
    """Refuse, as a ``TranslationError``, JSON nested deeper than Python's recursion limit lets it be walked.

    Parsing accepts about a thousand levels and every step that reads, copies or writes a nested value
    recurses; a state that runs out of stack is refused whole rather than ending the process in a traceback.
    """

    @functools.wraps(translate)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return translate(*args, **kwargs)
        except RecursionError:
            raise TranslationError("nested too deeply to translate (beyond Python's recursion limit)") from None

    return guarded


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )
