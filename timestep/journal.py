"""The step journal of a run: every model response and every tool result, committed as it happens.

A model response is stored under its step key (``<base>.<n>``: the snapshot the attempt started from, 0 for
the run's original input, and the count of model calls since), a tool result under its call id. Each is
committed *before* it is handed back to the SDK, in one pipelined transaction together with the records it
produces (usage and tool-call rows), so a process that dies after a model answered never asks it again, and
a tool whose result was committed never runs again.

The journal knows nothing of how owners and leases are kept: whoever keeps them sets ``lost`` when the run
was taken over, and from then on every write fails with ``LeaseLostError`` instead of landing.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from agents.items import ModelResponse, TResponseOutputItem
from agents.usage import deserialize_usage, serialize_usage
from pydantic import BaseModel, TypeAdapter

from timestep.errors import LeaseLostError, RunStateError

if TYPE_CHECKING:
    from psycopg import AsyncConnection

    from timestep.recorder import RunRecorder
    from timestep.store import Store

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

# Each commit is one statement, so one round trip, atomic without a transaction block (and no pipeline, which
# PGLite's socket server cannot interleave between clients). The records a step produced (usage, the tool
# calls a response asks for, tool outputs) go in with it as data-modifying WITH parts. Rows are spelled out as
# VALUES lists (only the parts with rows are included): on PGLite every part and every unnest() costs planning
# time on each call, and VALUES lists plan about twice as fast as the equivalent unnest() of arrays.
_STEP = (
    "INSERT INTO timestep_run_steps (run_id, kind, step_key, payload)"
    " VALUES (%(run_id)s, %(kind)s, %(key)s, %(payload)s::json) ON CONFLICT (run_id, kind, step_key) DO NOTHING"
)
_USAGE = (
    "INSERT INTO timestep_usage (run_id, agent_name, provider, model, requests, input_tokens, output_tokens,"
    " cached_tokens, reasoning_tokens, total_tokens) VALUES {rows}"
)
_USAGE_ROW = (
    "(%(run_id)s, %(u{i}_agent)s, %(u{i}_provider)s, %(u{i}_model)s, %(u{i}_requests)s, %(u{i}_input)s,"
    " %(u{i}_output)s, %(u{i}_cached)s, %(u{i}_reasoning)s, %(u{i}_total)s)"
)
_CALLS = (
    "INSERT INTO timestep_tool_calls (run_id, call_id, tool_name, agent_name, arguments, status) VALUES {rows}"
    " ON CONFLICT (run_id, call_id) DO NOTHING"
)
_CALLS_ROW = "(%(run_id)s, %(c{i}_id)s, %(c{i}_tool)s, %(c{i}_agent)s, %(c{i}_args)s, 'running')"
_OUTPUTS = (
    "UPDATE timestep_tool_calls AS t SET output = x.o, finished_at = now(),"
    " status = CASE WHEN t.status = 'rejected' THEN 'rejected' ELSE x.s END"
    " FROM (VALUES {rows}) AS x(c, o, s) WHERE t.run_id = %(run_id)s AND t.call_id = x.c"
)
_OUTPUTS_ROW = "(%(o{i}_id)s, %(o{i}_text)s, %(o{i}_status)s)"


@functools.lru_cache(maxsize=64)
def commit_statement(usage: int, calls: int, outputs: int) -> str:
    """The step's insert, with ``usage``, ``calls`` and ``outputs`` record rows as WITH parts."""
    parts = [
        (name, template.format(rows=", ".join(row.format(i=i) for i in range(count))))
        for name, template, row, count in (
            ("usage", _USAGE, _USAGE_ROW, usage), ("calls", _CALLS, _CALLS_ROW, calls),
            ("outputs", _OUTPUTS, _OUTPUTS_ROW, outputs),
        )
        if count
    ]
    if not parts:
        return _STEP
    return "WITH " + ", ".join(f"{name} AS ({sql})" for name, sql in parts) + " " + _STEP


_LOAD_STEPS = "SELECT kind, step_key, payload::text FROM timestep_run_steps WHERE run_id = %s"


def encode_model_response(response: ModelResponse) -> str:
    """A model response as JSON: output items as set (so they rebuild identical), usage, ids."""
    return orjson.dumps({
        "output": [item.model_dump(mode="json", exclude_unset=True) for item in response.output],
        "usage": serialize_usage(response.usage),
        "response_id": response.response_id,
        "request_id": response.request_id,
        "raw_usage": response.raw_usage,
    }).decode()


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
    return orjson.dumps(doc).decode()


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

    store: Store
    run_id: str
    owner: str
    recorder: RunRecorder
    base: int = 0
    model_steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    tool_results: dict[str, dict[str, Any]] = field(default_factory=dict)
    next_step: int = 0
    replayed_model_steps: int = 0
    replayed_tool_results: int = 0
    lost: bool = False  # set by the lease's heartbeat when another process took the run over

    async def load(self, conn: AsyncConnection[Any]) -> None:
        cur = await conn.execute(_LOAD_STEPS, (self.run_id,))
        for kind, key, payload in await cur.fetchall():
            target = self.model_steps if kind == "model_response" else self.tool_results
            target[key] = orjson.loads(payload)

    @property
    def is_empty(self) -> bool:
        return not self.model_steps and not self.tool_results

    def step_key(self) -> str:
        return f"{self.base}.{self.next_step}"

    def recorded_response(self, key: str) -> ModelResponse | None:
        payload = self.model_steps.get(key)
        if payload is None:
            return None
        try:
            response = decode_model_response(payload)
        except Exception as exc:
            raise RunStateError(f"run {self.run_id}: journaled model step {key} does not load ({exc})") from exc
        self.replayed_model_steps += 1
        return response

    def recorded_tool_result(self, call_id: str) -> dict[str, Any] | None:
        payload = self.tool_results.get(call_id)
        if payload is not None:
            self.replayed_tool_results += 1
            self.recorder.skip_call(call_id)
        return payload

    async def record_model_response(self, key: str, response: ModelResponse) -> None:
        """Commit the response with its usage and tool-call rows (and anything else queued) at once."""
        self.recorder.note_response(response)
        payload = encode_model_response(response)
        await self._commit("model_response", key, payload)
        self.model_steps[key] = orjson.loads(payload)

    async def record_tool_result(self, call_id: str, output: object, sdk_error: bool) -> None:
        """Commit a tool's result and its tool-call row's output at once."""
        self.recorder.finish_call(call_id, output, "completed")
        await self._commit("tool_result", call_id, encode_tool_output(output, sdk_error))

    async def _commit(self, kind: str, key: str, payload: str) -> None:
        if self.lost:
            raise LeaseLostError(
                f"run {self.run_id} is no longer owned by this process ({self.owner}): another process "
                "recovered it after its lease expired; this attempt stops without writing"
            )
        calls, outputs, usage = self.recorder.take_pending()
        params: dict[str, Any] = {"run_id": self.run_id, "kind": kind, "key": key, "payload": payload}
        for i, u in enumerate(usage):
            params.update({
                f"u{i}_agent": u.agent_name, f"u{i}_provider": u.provider, f"u{i}_model": u.model,
                f"u{i}_requests": u.requests, f"u{i}_input": u.input_tokens, f"u{i}_output": u.output_tokens,
                f"u{i}_cached": u.cached_tokens, f"u{i}_reasoning": u.reasoning_tokens, f"u{i}_total": u.total_tokens,
            })
        for i, (call_id, tool, agent_name, arguments) in enumerate(calls):
            params.update({f"c{i}_id": call_id, f"c{i}_tool": tool, f"c{i}_agent": agent_name, f"c{i}_args": arguments})
        for i, (call_id, text, status) in enumerate(outputs):
            params.update({f"o{i}_id": call_id, f"o{i}_text": text, f"o{i}_status": status})
        async with self.store.connection() as conn:
            await conn.execute(commit_statement(len(usage), len(calls), len(outputs)), params)


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

