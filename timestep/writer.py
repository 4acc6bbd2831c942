"""One run's writes, committed behind it in as few round trips as the run allows.

Everything a run records (the tool calls its model asked for, tool outputs, usage, journal steps, the items
its session appends) is queued here and committed by one writer task: all that is queued goes in one
statement (``timestep_record_run_writes``, schema 0006), one transaction, one round trip. A write that
someone will soon wait for (a model response: the tool it asks for waits) starts its commit at once; any
other waits up to ``COMMIT_DELAY_S`` for company. While a commit is under way the next writes queue up
behind it, so the agent loop never waits on the store between its steps, and a turn costs one round trip.

Callers that must not go on before their writes are stored wait with ``flush()``: the journal before a tool
runs (so a tool only ever acts on a model response that is stored), and the run before it is marked
interrupted or finished. A write that failed is raised by the next ``flush()``, so the run fails rather than
going on with a hole in its records.
"""

from __future__ import annotations

import asyncio
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from psycopg import AsyncClientCursor

from timestep.errors import LeaseLostError

if TYPE_CHECKING:
    from timestep.run_records import UsageRecord
    from timestep.store import Store

__all__ = ["RunWriter", "current_run_writer"]

current_run_writer: ContextVar[RunWriter | None] = ContextVar("timestep_current_run_writer", default=None)
"""The writer of the run being executed: ``TimestepSession`` queues the run's session items on it."""

# The values are bound on the client: on the embedded engine a simple query costs about half as much as a
# parse-bind-execute exchange, and this statement runs on every step of every run.
COMMIT_DELAY_S = 0.002
"""How long a write may wait for company: a tool result waits for the session items and the model response
of the next step, which usually follow within this time and then go in the same round trip."""

_RECORD = "SELECT timestep_record_run_writes(%s, %s::json)"


@dataclass
class _Writes:
    """Rows queued since the last commit, as the lists ``timestep_record_run_writes`` takes."""

    calls: list[list[Any]] = field(default_factory=list)
    outputs: list[list[Any]] = field(default_factory=list)
    usage: list[list[Any]] = field(default_factory=list)
    steps: list[list[Any]] = field(default_factory=list)
    sessions: list[list[Any]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.calls or self.outputs or self.usage or self.steps or self.sessions)

    def to_json(self) -> str:
        return orjson.dumps({name: rows for name, rows in vars(self).items() if rows}).decode()


class RunWriter:
    """The queue of one run's writes and the task that commits them in order.

    ``write_behind`` is False when every write must be committed before its caller goes on: for runs that
    are not journaled (nothing could restore what a dead process had queued) and for streamed runs (a stream
    shows only what is stored).
    """

    def __init__(self, store: Store, run_id: str, owner: str, *, write_behind: bool) -> None:
        self.store = store
        self.run_id = run_id
        self.owner = owner
        self.write_behind = write_behind
        self.lost = False  # set by the lease's heartbeat when another process took the run over
        self._queued = _Writes()
        self._task: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._failure: BaseException | None = None

    def add_call(self, call_id: str, tool_name: str, agent_name: str | None, arguments: str) -> None:
        self._queued.calls.append([call_id, tool_name, agent_name, arguments])

    def add_output(self, call_id: str, output: str, status: str) -> None:
        self._queued.outputs.append([call_id, output, status])

    def add_usage(self, usage: UsageRecord) -> None:
        self._queued.usage.append([
            usage.agent_name, usage.provider, usage.model, usage.requests, usage.input_tokens,
            usage.output_tokens, usage.cached_tokens, usage.reasoning_tokens, usage.total_tokens,
        ])

    def add_step(self, kind: str, key: str, payload: str) -> None:
        """A journal step; refused once the run belongs to another process."""
        self._check_owned()
        self._queued.steps.append([kind, key, orjson.Fragment(payload)])

    def add_session_items(self, session_id: str, operation_id: str | None, items: list[str]) -> None:
        self._queued.sessions.append([session_id, operation_id, [orjson.Fragment(item) for item in items]])

    def commit_soon(self) -> None:
        """Commit what is queued within ``COMMIT_DELAY_S``, or sooner when someone flushes; do not wait."""
        if self._timer is None and self._task is None:
            self._timer = asyncio.get_running_loop().call_later(COMMIT_DELAY_S, self.commit_now)

    def commit_now(self) -> None:
        """Start committing what is queued at once, without waiting for it."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._task is None and self._failure is None and self._queued:
            self._task = asyncio.get_running_loop().create_task(self._write_loop())

    async def flush(self) -> None:
        """Wait until everything queued is committed; raise what a commit failed with."""
        while True:
            if self._failure is not None:
                raise self._failure
            if self._task is not None:
                await asyncio.shield(self._task)
            elif self._queued:
                self.commit_now()
            else:
                return

    def _check_owned(self) -> None:
        if self.lost:
            raise LeaseLostError(
                f"run {self.run_id} is no longer owned by this process ({self.owner}): another process "
                "recovered it after its lease expired; this attempt stops without writing"
            )

    async def _write_loop(self) -> None:
        try:
            async with self.store.connection() as conn:
                cursor = AsyncClientCursor(conn)
                while self._queued:
                    self._check_owned()
                    writes, self._queued = self._queued, _Writes()
                    await cursor.execute(_RECORD, (self.run_id, writes.to_json()))
        except BaseException as exc:  # kept for flush(), which the run always awaits
            self._failure = exc
        finally:
            self._task = None
