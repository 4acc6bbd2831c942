"""What the store can hold, checked before any SQL runs, so that a bad value is refused rather than altered.

- Ids (of sessions, runs, tool calls and operations) and agent names: 1 to ``MAX_ID_LENGTH`` characters, no
  NUL (U+0000), no lone surrogates. libpq's escaping stops at a NUL (``"alice\\x00evil"`` went into a simple
  query as ``'alice'``), psycopg refuses one as a bound parameter, and UTF-8 cannot encode a lone surrogate.
- Text columns (tool arguments and outputs, tool and model names, decisions): no NUL, which PostgreSQL's
  ``text`` cannot hold, and no lone surrogates.
- JSON documents (session items, inputs, final outputs, journal steps, snapshots) keep a NUL as the escape
  ``\\u0000``, which the ``json`` type stores as given (``jsonb``, and any json function that turns strings
  into text, refuse it); a lone surrogate cannot be written as JSON here and is refused.
- Any single value: at most ``TIMESTEP_MAX_SNAPSHOT_BYTES`` of UTF-8. Every value a run records is part of
  its state, whose snapshot may not be larger, so a larger one is refused before it is sent anywhere.
"""

from __future__ import annotations

import re

import orjson

from timestep.config import max_snapshot_bytes
from timestep.errors import InvalidIdError, UnstorableValueError

__all__ = ["MAX_ID_LENGTH", "check_id", "check_text", "checked_json", "dumps", "printable"]

MAX_ID_LENGTH = 255
"""The longest id, in characters (code points)."""

_ID_RULE = f"ids are 1 to {MAX_ID_LENGTH} characters, without NUL (U+0000) or lone surrogates"
_SURROGATE = re.compile("[\ud800-\udfff]")
_SHOWN_CHARS = 60  # of a refused id, in messages


def check_id(value: object, what: str) -> str:
    """``value`` if it can be stored as the ``what`` (a session id, say); else an ``InvalidIdError``."""
    if not isinstance(value, str):
        raise InvalidIdError(f"the {what} must be a string, not {type(value).__name__}; {_ID_RULE}")
    if not value:
        problem = "is empty"
    elif len(value) > MAX_ID_LENGTH:
        problem = f"is {len(value):,} characters long"
    else:
        problem = _character_problem(value) or ""
    if problem:
        raise InvalidIdError(f"the {what} {_shown(value)} {problem}; {_ID_RULE}")
    return value


def check_text(value: str, what: str) -> str:
    """``value`` if a text column can hold it; else an ``UnstorableValueError`` naming ``what`` it is."""
    problem = _character_problem(value)
    if problem is not None:
        raise UnstorableValueError(
            f"the {what} {problem}, which a PostgreSQL text column cannot hold: remove it, or return the data "
            "as JSON (a mapping or list, where a NUL is kept as \\u0000)"
        )
    _check_size(_utf8_size(value), what)
    return value


def dumps(value: object, what: str) -> str:
    """``value`` as JSON text, which the store keeps as given (NUL included); an ``UnstorableValueError``
    when it cannot be written as JSON (a lone surrogate, a type JSON has not) or is over the size limit."""
    try:
        encoded = orjson.dumps(value)
    except TypeError as exc:
        raise UnstorableValueError(f"the {what} cannot be stored as JSON: {exc}") from exc
    return checked_json(encoded, what)


def checked_json(encoded: bytes, what: str) -> str:
    """JSON text encoded by the caller, as text, if it is not over the size limit."""
    _check_size(len(encoded), what)
    return encoded.decode()


def printable(text: str, limit: int = 10_000) -> str:
    """``text`` as a text column can hold it, for messages only: NUL and lone surrogates escaped (``\\x00``,
    ``\\udc80``), and cut after ``limit`` characters with a note of how many were left out."""
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    if not text.isascii() and _SURROGATE.search(text):
        text = text.encode("utf-8", "backslashreplace").decode()
    if len(text) > limit:
        text = f"{text[:limit]}... ({len(text) - limit:,} more characters)"
    return text


def _character_problem(value: str) -> str | None:
    at = value.find("\x00")
    if at >= 0:
        return f"contains a NUL character (U+0000) at position {at}"
    if not value.isascii():
        found = _SURROGATE.search(value)
        if found is not None:
            return f"contains a lone surrogate (U+{ord(found.group()):04X}) at position {found.start()}"
    return None


def _utf8_size(value: str) -> int:
    """Bytes of UTF-8 (of a value known to have no lone surrogate), counted only when it could matter."""
    if value.isascii() or len(value) * 4 <= max_snapshot_bytes():
        return len(value)
    return len(value.encode())


def _check_size(size: int, what: str) -> None:
    limit = max_snapshot_bytes()
    if size > limit:
        raise UnstorableValueError(
            f"the {what} is {size:,} bytes, over the limit of {limit:,} bytes (TIMESTEP_MAX_SNAPSHOT_BYTES): "
            "the run's state holds it, and could never be stored; return less (a summary, or a reference to "
            "where the data is), or raise TIMESTEP_MAX_SNAPSHOT_BYTES"
        )


def _shown(value: str) -> str:
    """An id as messages show it: quoted with escapes, and shortened when long."""
    shown = repr(value[:_SHOWN_CHARS])
    return f"{shown}..." if len(value) > _SHOWN_CHARS else shown
