"""The step journal of a run: every model response and every tool result, committed as it happens.

A model response is stored under its step key (``<base>.<n>``: the snapshot the attempt started from, 0 for
the run's original input, and the count of model calls since), a tool result under its call id, each queued
on the run's ``RunWriter`` together with the records it produces (usage and tool-call rows) and committed in
the same transaction. A model whose response was committed is never asked again, and a tool whose result
was committed never runs again.

Steps are committed behind the run, with one rule that keeps replay faithful: a tool runs only once
everything before it is committed (``before_tool``), so no tool ever acts on a model response a dead process
could not replay. A process that dies can therefore repeat at most the steps after its last commit: the one
in flight, and a result whose commit was under way (a tool then runs again, as the tool in flight does).

The journal knows nothing of how owners and leases are kept: whoever keeps them sets the writer's ``lost``
when the run was taken over, and from then on every step fails with ``LeaseLostError`` instead of landing.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from agents.items import ModelResponse, TResponseOutputItem
from agents.usage import deserialize_usage, serialize_usage
from pydantic import BaseModel, TypeAdapter

from timestep.errors import RunStateError
from timestep.redaction import error_text
from timestep.storable import dumps

if TYPE_CHECKING:
    from psycopg import AsyncConnection

    from timestep.durable.hooks import RunRecorder
    from timestep.durable.writer import RunWriter

__all__ = [
    "Journal",
    "decode_model_response",
    "decode_tool_output",
    "drop_replayed_session_items",
    "encode_model_response",
    "encode_tool_output",
    "session_watermark",
]

_OUTPUT_ITEMS: TypeAdapter[list[TResponseOutputItem]] = TypeAdapter(list[TResponseOutputItem])

_LOAD_STEPS = "SELECT kind, step_key, payload::text FROM timestep_run_steps WHERE run_id = %s"


def encode_model_response(response: ModelResponse) -> str:
    """A model response as JSON: output items as set (so they rebuild identical), usage, ids."""
    return dumps({
        "output": [item.model_dump(mode="json", exclude_unset=True) for item in response.output],
        "usage": serialize_usage(response.usage),
        "response_id": response.response_id,
        "request_id": response.request_id,
        "raw_usage": response.raw_usage,
    }, "model response")


def decode_model_response(payload: dict[str, Any]) -> ModelResponse:
    return ModelResponse(
        output=_OUTPUT_ITEMS.validate_python(payload["output"]),
        usage=deserialize_usage(payload["usage"]),
        response_id=payload.get("response_id"),
        request_id=payload.get("request_id"),
        raw_usage=payload.get("raw_usage"),
    )


def encode_tool_output(output: object, sdk_error: bool = False) -> str:
    """A tool's return value as JSON: text as is, pydantic models with their class, JSON values, else text."""
    if isinstance(output, str):
        doc: dict[str, Any] = {"text": output}
    elif isinstance(output, BaseModel):
        cls = type(output)
        doc = {"model": f"{cls.__module__}:{cls.__qualname__}", "data": output.model_dump(mode="json")}
    else:
        try:
            doc = {"json": orjson.loads(orjson.dumps(output))}
        except TypeError:
            doc = {"text": str(output)}  # replayed as its text, which is what the model was shown
    if sdk_error:
        doc["sdk_error"] = True
    return dumps(doc, "tool output")


def decode_tool_output(payload: dict[str, Any]) -> object:
    if "text" in payload:
        return payload["text"]
    if "model" in payload:
        module, _, name = str(payload["model"]).partition(":")
        target: Any = importlib.import_module(module)
        for part in name.split("."):
            target = getattr(target, part)
        return target.model_validate(payload["data"])
    return payload["json"]


@dataclass
class Journal:
    """One attempt's view of a run's journal: what is recorded, and the writer of new steps."""

    writer: RunWriter
    recorder: RunRecorder
    base: int = 0
    model_steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    tool_results: dict[str, dict[str, Any]] = field(default_factory=dict)
    next_step: int = 0

    @property
    def run_id(self) -> str:
        return self.writer.run_id

    async def load(self, conn: AsyncConnection[Any]) -> None:
        cur = await conn.execute(_LOAD_STEPS, (self.run_id,))
        for kind, key, payload in await cur.fetchall():
            target = self.model_steps if kind == "model_response" else self.tool_results
            target[key] = orjson.loads(payload)

    def step_key(self) -> str:
        return f"{self.base}.{self.next_step}"

    def recorded_response(self, key: str) -> ModelResponse | None:
        payload = self.model_steps.get(key)
        if payload is None:
            return None
        try:
            return decode_model_response(payload)
        except Exception as exc:
            raise RunStateError(f"run {self.run_id}: journaled model step {key} does not load ({exc})") from exc

    def recorded_tool_result(self, call_id: str) -> dict[str, Any] | None:
        payload = self.tool_results.get(call_id)
        if payload is not None:
            self.recorder.skip_call(call_id)
        return payload

    async def record_model_response(self, key: str, response: ModelResponse) -> None:
        """Queue the response with its usage and tool-call rows, to be committed in one transaction."""
        payload = encode_model_response(response)
        self.writer.add_step("model_response", key, payload)
        self.recorder.note_response(response)
        self.model_steps[key] = orjson.loads(payload)
        await self.writer.submit(urgent=True)  # a tool will wait for it: the store works on it meanwhile

    async def record_tool_result(
        self, call_id: str, output: object, sdk_error: bool, tool_name: str | None = None
    ) -> None:
        """Queue a tool's result and its tool-call row's output, to be committed in one transaction (the row
        first: it is checked as text, which a NUL does not pass, and a refused result leaves no step)."""
        self.recorder.finish_call(call_id, output, "completed", tool_name=tool_name)
        self.writer.add_step("tool_result", call_id, encode_tool_output(output, sdk_error))
        await self.writer.submit()

    def record_tool_failure(self, call_id: str, error: BaseException) -> None:
        """Queue the call as failed with ``error`` (redacted), to be committed as the run stops; no step is
        journaled, so the call is not taken as done."""
        self.recorder.finish_call(call_id, error_text(error), "failed")

    async def before_tool(self) -> None:
        """Wait until every step so far is committed: a tool acts only on what replay would reproduce."""
        await self.writer.flush()


async def session_watermark(conn: AsyncConnection[Any], run_id: str, session_id: str | None) -> None:
    """Note in the run's newest snapshot how far its session went (call inside the snapshot's transaction)."""
    if session_id is None:
        return
    await conn.execute(
        "UPDATE timestep_run_snapshots SET session_item_id = (SELECT max(id) FROM timestep_session_items"
        " WHERE session_id = %s) WHERE id = (SELECT max(id) FROM timestep_run_snapshots WHERE run_id = %s)",
        (session_id, run_id),
    )


async def drop_replayed_session_items(
    conn: AsyncConnection[Any], run_id: str, session_id: str | None, after_item: int | None
) -> int:
    """Delete the run's session items a dead attempt wrote after ``after_item`` (all of them when None)."""
    if session_id is None:
        return 0
    cur = await conn.execute(
        "DELETE FROM timestep_session_items WHERE session_id = %s AND run_id = %s AND id > %s",
        (session_id, run_id, after_item or 0),
    )
    return cur.rowcount

