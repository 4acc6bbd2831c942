"""Which serialized RunState formats the translator understands, and how to tell them apart.

The bindings the translator computes are private to each SDK release, so it accepts exactly the SDK
versions (and the schema versions they write) that the conformance suite verified, and nothing else.
"""

from __future__ import annotations

from typing import Any, Literal

from ..errors import TranslationError

__all__ = [
    "PYTHON_SCHEMA_VERSION",
    "PYTHON_SDK",
    "TYPESCRIPT_SCHEMA_VERSION",
    "TYPESCRIPT_SDK",
    "Format",
    "detect_format",
    "require_format",
]

Format = Literal["python", "typescript"]

PYTHON_SDK = "openai-agents==0.24.0"
PYTHON_SCHEMA_VERSION = "1.21"
TYPESCRIPT_SDK = "@openai/agents@0.20.0"
TYPESCRIPT_SCHEMA_VERSION = "1.22"

_SUPPORTED = (
    f"supported: Python {PYTHON_SDK} (schema {PYTHON_SCHEMA_VERSION}) and "
    f"TypeScript {TYPESCRIPT_SDK} (schema {TYPESCRIPT_SCHEMA_VERSION})"
)


def detect_format(payload: Any) -> Format:
    """Tell a Python RunState from a TypeScript one by its key style, then check its schema version."""
    if not isinstance(payload, dict):
        raise TranslationError(f"a RunState must be a JSON object, got {type(payload).__name__}; {_SUPPORTED}")
    version = payload.get("$schemaVersion")
    if "current_agent" in payload and "currentAgent" not in payload:
        found: Format = "python"
        expected = PYTHON_SCHEMA_VERSION
    elif "currentAgent" in payload and "current_agent" not in payload:
        found = "typescript"
        expected = TYPESCRIPT_SCHEMA_VERSION
    else:
        raise TranslationError(f"not a RunState of a supported SDK (no unambiguous current agent field); {_SUPPORTED}")
    if version != expected:
        raise TranslationError(
            f"{found} RunState with schema version {version!r} is not supported; {_SUPPORTED}. "
            "Resave the run with a supported SDK version.",
            path="$.$schemaVersion",
        )
    return found


def require_format(payload: Any, expected: Format) -> None:
    """Fail unless ``payload`` is a supported RunState of the ``expected`` SDK."""
    found = detect_format(payload)
    if found != expected:
        raise TranslationError(f"expected a {expected} RunState but this one is {found}")
