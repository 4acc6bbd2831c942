"""RunState to stored text and back, with the checks that keep bad snapshots out of a run.

A snapshot is stored as compact JSON in the format of the SDK that will read it (Python, or TypeScript
through ``timestep.translate``), with the SDK and schema versions it was written by. Loading detects the
format, refuses schema versions the installed SDK cannot read (listing those it can) and never rewrites the
stored text.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import version
from typing import Any, Literal

import orjson
from agents import Agent, RunState, UserError
from agents.run_state import CURRENT_SCHEMA_VERSION, SUPPORTED_SCHEMA_VERSIONS

from timestep import translate
from timestep.config import max_snapshot_bytes
from timestep.errors import (
    RunStateError,
    SnapshotTooLargeError,
    TranslationError,
    UnstorableValueError,
    UnsupportedSchemaVersionError,
)

Language = Literal["python", "typescript"]
SDK_VERSION = version("openai-agents")


@dataclass(frozen=True)
class EncodedSnapshot:
    """A RunState as stored: the JSON text and what wrote it."""

    text: str
    language: Language
    sdk_version: str
    schema_version: str

    @property
    def size_bytes(self) -> int:
        return len(self.text.encode())


def encode_state(state: RunState[Any, Any], language: Language = "python") -> EncodedSnapshot:
    """Serialize without the tracing API key; in TypeScript's format when asked. A state that cannot be written
    as JSON (a lone surrogate in its text) is refused with an ``UnstorableValueError``."""
    payload = state.to_json(include_tracing_api_key=False)
    if language == "typescript":
        payload = translate.to_typescript(payload)
    try:
        text = orjson.dumps(payload).decode()
    except TypeError as exc:
        raise UnstorableValueError(f"the run's state cannot be stored as JSON: {exc}") from exc
    if language == "typescript":
        encoded = EncodedSnapshot(text, "typescript", translate.TYPESCRIPT_SDK, translate.TYPESCRIPT_SCHEMA_VERSION)
    else:
        encoded = EncodedSnapshot(text, "python", SDK_VERSION, CURRENT_SCHEMA_VERSION)
    check_size(encoded.size_bytes)
    return encoded


def check_size(size_bytes: int) -> None:
    limit = max_snapshot_bytes()
    if size_bytes > limit:
        raise SnapshotTooLargeError(
            f"the snapshot is {size_bytes:,} bytes, over the limit of {limit:,} bytes; raise "
            "TIMESTEP_MAX_SNAPSHOT_BYTES if this run really carries that much, or trim what tools return"
        )


def parse_snapshot(text: str | bytes) -> tuple[dict[str, Any], Language]:
    """Parse and check a stored snapshot; return the payload in Python's format and its original language."""
    check_size(len(text))
    try:
        payload = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise RunStateError(f"the snapshot is not valid JSON (truncated or corrupted?): {exc}") from exc
    if not isinstance(payload, dict):
        raise RunStateError(f"a snapshot must be a JSON object, not {type(payload).__name__}")
    if "currentAgent" in payload and "current_agent" not in payload:
        try:
            return translate.to_python(payload), "typescript"
        except TranslationError as exc:
            raise RunStateError(f"cannot load this TypeScript snapshot: {exc}") from exc
    if "current_agent" not in payload:
        raise RunStateError("not a RunState snapshot: it names no current agent")
    schema = payload.get("$schemaVersion")
    if schema is not None and not isinstance(schema, str):  # a list would not even hash for the lookup below
        raise RunStateError(
            f"$.$schemaVersion: expected a version string such as {CURRENT_SCHEMA_VERSION!r}, got "
            f"{type(schema).__name__}: the snapshot is malformed"
        )
    if schema not in SUPPORTED_SCHEMA_VERSIONS:
        raise UnsupportedSchemaVersionError(
            f"snapshot schema version {schema!r} is not one openai-agents {SDK_VERSION} can read "
            f"(supported: {', '.join(sorted(SUPPORTED_SCHEMA_VERSIONS, key=_version_key))}); it was "
            "written by a newer or different SDK: upgrade openai-agents (and timestep) to load it"
        )
    return payload, "python"


async def decode_state(agent: Agent[Any], text: str | bytes) -> RunState[Any, Agent[Any]]:
    """Load a stored snapshot against the agent graph it belongs to."""
    payload, _ = parse_snapshot(text)
    try:
        return await RunState.from_json(agent, payload)
    except (UserError, KeyError, TypeError, ValueError) as exc:
        raise RunStateError(
            f"the snapshot does not load with agent {agent.name!r}: {exc}. Pass the agent graph the run "
            "was started with (same agent, tool and handoff names)"
        ) from exc


def _version_key(value: str) -> tuple[int, ...]:
    return tuple(int(part) for part in value.split(".") if part.isdigit())
