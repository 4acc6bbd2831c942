"""One run's writes, committed behind it in as few round trips as the run allows.

Everything a run records (the tool calls its model asked for, tool outputs, usage, journal steps, the items
its session appends) is queued here and committed by one writer task: all that is queued goes in one
statement (``timestep_record_run_writes`` in ``schema/functions.sql``), one transaction, one round trip. A
write that someone will soon wait for (a model response: the tool it asks for waits) starts its commit at
once; any other waits up to ``COMMIT_DELAY_S`` for company. While a commit is under way the next writes queue up
behind it, so the agent loop never waits on the store between its steps, and a turn costs one round trip.
The writer keeps its pooled connection while commits follow each other closely (``LINGER_S``) and gives it
back when the run stops (``close()``).

Callers that must not go on before their writes are stored wait with ``flush()``: the journal before a tool
runs (so a tool only ever acts on a model response that is stored), and the run before it is marked
interrupted or finished. A write that failed is raised by the next ``flush()`` (as a ``RecordingError``), so
the run fails rather than going on with a hole in its records; ``stop()`` then stores its end all the same.

Every value is checked as it is queued (``timestep.storable``): what the store cannot hold is refused there,
with an error that names it, and never reaches the database, so the writes queued before it still commit.
JSON documents (inputs, final outputs, journal steps, session items) go into the statement as JSON strings
holding their text: PostgreSQL's json functions refuse a ``\\u0000`` in any string they take apart, and a
document sent as a string is taken apart only once it is text, leaving its ``\\u0000`` escapes as they were.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
import psycopg

from timestep.durable import run_records
from timestep.durable.statuses import RunStatus, SnapshotKind
from timestep.errors import DatabaseError, LeaseLostError, RecordingError
from timestep.storable import check_id, check_text
from timestep.store.literal import Literals, send_simple_query, simple_query_result

if TYPE_CHECKING:
    from psycopg import AsyncConnection

    from timestep.durable.snapshots import EncodedSnapshot
    from timestep.store import Store

__all__ = ["RunWriter", "current_run_writer"]

current_run_writer: ContextVar[RunWriter | None] = ContextVar("timestep_current_run_writer", default=None)
"""The writer of the run being executed: ``TimestepSession`` queues the run's session items on it."""

COMMIT_DELAY_S = 0.002
"""How long a write may wait for company: a tool result waits for the session items and the model response
of the next step, which usually follow within this time and then go in the same round trip."""

LINGER_S = 0.02
"""How long the writer keeps its connection after a commit. A run's next commit usually comes sooner, and
checking a connection out of the pool and back for each commit costs the run about 50 us of Python each
time; a run that waits on a slow model or tool gives it back meanwhile, so nested runs (a tool that runs an
agent) do not run the pool dry."""

_RECORD = b"SELECT timestep_record_run_writes(%b, %b::json, %b::json)"  # a simple query: see timestep.store.literal


@dataclass
class _Writes:
    """What is queued since the last commit, in the parts ``timestep_record_run_writes`` takes."""

    run: dict[str, Any] | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)
    usage: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    sessions: list[dict[str, Any]] = field(default_factory=list)
    pending: list[dict[str, Any]] = field(default_factory=list)
    snapshot: dict[str, Any] | None = None
    state: str | None = None  # the snapshot's state: an argument of its own, so that it is parsed once
    status: dict[str, Any] | None = None

    def __bool__(self) -> bool:
        return any(vars(self).values())

    def to_json(self) -> bytes:
        return orjson.dumps({name: part for name, part in vars(self).items() if part and name != "state"})


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
        self._conn: AsyncConnection[Any] | None = None  # kept between commits for LINGER_S
        self._release_timer: asyncio.TimerHandle | None = None
        self._releasing: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None
        self._session_appends = 0  # queued so far, and committed so far: reads of a session wait for the rest
        self._session_appends_committed = 0
        self._sending_session_appends = 0  # in the commit under way
        self._run_row: dict[str, Any] | None = None  # the run's own row, until a commit stored it
        self._sending_run_row = False  # in the commit under way

    def add_run(
        self, agent_name: str, session_id: str | None, input_json: str | None, lease_seconds: float, *,
        journaled: bool, max_turns: int | None,
    ) -> None:
        """The new run's own row, running and owned by this writer's owner under a fresh lease; ``input_json``
        is checked by the caller (``storable.dumps``)."""
        check_id(agent_name, "agent name")
        if session_id is not None:
            check_id(session_id, "session id")
        self._queued.run = self._run_row = {
            "agent_name": agent_name, "session_id": session_id, "input": input_json, "owner": self.owner,
            "lease_seconds": lease_seconds, "journaled": journaled, "max_turns": max_turns,
        }

    def add_call(self, call_id: str, tool_name: str, agent_name: str | None, arguments: str) -> None:
        """A tool call the model asked for."""
        _check_call(call_id, tool_name, agent_name, arguments)
        self._queued.calls.append(
            {"call_id": call_id, "tool_name": tool_name, "agent_name": agent_name, "arguments": arguments}
        )

    def add_output(self, call_id: str, output: str, status: str, *, tool_name: str | None = None) -> None:
        """The outcome of a call (``tool_name``, when known, names it in a refusal)."""
        check_id(call_id, "tool call id")
        check_text(output, f"output of tool call {call_id!r}" + (f" ({tool_name})" if tool_name else ""))
        self._queued.outputs.append({"call_id": call_id, "output": output, "status": status})

    def add_usage(self, usage: run_records.UsageRecord) -> None:
        if usage.agent_name is not None:
            check_id(usage.agent_name, "agent name")
        for name, value in (("provider", usage.provider), ("model name", usage.model)):
            if value is not None:
                check_text(value, name)
        self._queued.usage.append(vars(usage))  # its fields are the part's keys

    def add_step(self, kind: str, key: str, payload: str) -> None:
        """A journal step, ``payload`` checked by its encoder; refused once the run belongs to another process."""
        self._check_owned()
        check_id(key, "journal step key")
        self._queued.steps.append({"kind": kind, "step_key": key, "payload": payload})

    @property
    def has_uncommitted_session_items(self) -> bool:
        return self._session_appends != self._session_appends_committed

    def add_session_items(self, session_id: str, operation_id: str | None, items: list[str]) -> None:
        """Items a session appends, encoded and checked by ``session.encode_items``."""
        self._queued.sessions.append({
            "session_id": session_id, "operation_id": operation_id, "items": f"[{','.join(items)}]",
        })
        self._session_appends += 1

    def add_outcome(
        self, status: RunStatus, snapshot: EncodedSnapshot, *, session_id: str | None,
        pending: Sequence[tuple[str, str, str | None, str]] = (), final_output_json: str | None = None,
    ) -> None:
        """The run's stop: the calls it waits on, its snapshot (noting how far ``session_id`` went), its status.
        The snapshot and ``final_output_json`` are checked by their encoders."""
        for call in pending:
            _check_call(*call)
        self._queued.pending.extend(
            {"call_id": c, "tool_name": t, "agent_name": a, "arguments": g} for c, t, a, g in pending
        )
        self._queued.snapshot = {
            "kind": SnapshotKind.INTERRUPTED if status == RunStatus.INTERRUPTED else SnapshotKind.FINAL,
            "language": snapshot.language,
            "sdk_version": snapshot.sdk_version, "schema_version": snapshot.schema_version,
            "size_bytes": snapshot.size_bytes, "session_id": session_id,
        }
        self._queued.state = snapshot.text
        self._queued.status = {"status": status, "final_output": final_output_json, "error": None}

    async def submit(self, *, urgent: bool = False) -> None:
        """Hand over what was just queued: writing behind, start its commit (at once when someone will soon
        wait for it, else within ``COMMIT_DELAY_S``); otherwise wait until it is committed."""
        if not self.write_behind:
            await self.flush()
        elif urgent:
            if not self.commit_now():
                await asyncio.sleep(0)  # lets the writer's task connect and put the statement on the wire now
        else:
            self.commit_soon()

    def commit_soon(self) -> None:
        """Commit what is queued within ``COMMIT_DELAY_S``, or sooner when someone flushes; do not wait."""
        if self._timer is None and self._task is None:
            self._timer = asyncio.get_running_loop().call_later(COMMIT_DELAY_S, self.commit_now)

    def commit_now(self) -> bool:
        """Start committing what is queued at once, without waiting for it; True when the statement is on
        the wire already (on the connection kept from the last commit), False when the writer's task has yet
        to connect."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._task is not None or self._failure is not None or not self._queued:
            return False
        if self._release_timer is not None:
            self._release_timer.cancel()
            self._release_timer = None
        sent = self._conn is not None and not self.lost and self.store.still_usable(self._conn)
        if sent:
            try:
                self._send()
            except Exception as exc:  # kept for flush(), as the writer's task keeps its failures
                self._failure = self._recording_error(exc)
                return False
        self._task = asyncio.get_running_loop().create_task(self._write_loop(sent))
        return sent

    async def stop(self, status: RunStatus, error: str) -> None:
        """Store the run's end, ``status`` with ``error``, after what is queued. If that cannot be committed
        (the database refused it, or this connection is broken), the end alone, with the run's own row if no
        commit stored it yet, on a connection of its own and with bound parameters. Nothing once the run was
        lost to another process.

        Raises a ``RecordingError`` when even the end alone could not be stored."""
        if self.lost:
            return
        self._queued.status = {"status": status, "final_output": None, "error": error}
        self._queued.run = self._queued.run or self._run_row  # its first commit may have been the one that failed
        self._failure = None
        try:
            await self.flush()
            return
        except Exception:  # the end goes alone
            self._queued, self._failure = _Writes(), None
        try:
            async with self.store.transaction() as conn:
                await run_records.store_end(conn, self.run_id, status, error, self._run_row)
        except DatabaseError as exc:  # the store's edge wraps the driver's error, which the RecordingError keeps
            raise self._recording_error(exc) from exc.__cause__

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

    async def close(self) -> None:
        """Give the connection back now that the run has stopped (after ``flush``, or on giving up)."""
        if self._task is not None:
            await asyncio.wait({self._task})  # its failure, if any, is flush()'s to raise
        if self._release_timer is not None:
            self._release_timer.cancel()
            self._release_timer = None
        conn, self._conn = self._conn, None
        if conn is not None:
            await asyncio.shield(self.store.release(conn))
        if self._releasing is not None:
            await asyncio.wait({self._releasing})

    async def _write_loop(self, sent: bool) -> None:
        """Wait for the commit under way (or connect and start one), then commit what queued up meanwhile."""
        try:
            if not sent:
                await self._connect()
                self._send()
            assert self._conn is not None
            while True:
                await simple_query_result(self._conn)
                await self.store.make_durable()
                self._session_appends_committed += self._sending_session_appends
                if self._sending_run_row:
                    self._run_row = None
                if not self._queued:
                    break
                self._send()
        except BaseException as exc:  # kept for flush(), which the run always awaits
            self._failure = self._recording_error(exc)
        finally:
            self._task = None
            if self._conn is not None:
                self._release_timer = asyncio.get_running_loop().call_later(LINGER_S, self._release)

    async def _connect(self) -> None:
        """Have a connection with a server: the kept one, unless its server died, else one from the pool."""
        if self._conn is not None and not self.store.still_usable(self._conn):
            conn, self._conn = self._conn, None
            await conn.close()
            await self.store.release(conn)  # the pool drops it and starts the server again if need be
        if self._conn is None:
            self._conn = await self.store.acquire()

    def _send(self) -> None:
        """Send everything queued as one statement on the writer's connection."""
        self._check_owned()
        assert self._conn is not None
        literals, writes = Literals(self._conn), self._queued
        send_simple_query(self._conn, _RECORD % (
            literals.text(self.run_id), literals.text(writes.to_json()), literals.text(writes.state)
        ))
        self._queued = _Writes()
        self._sending_session_appends = len(writes.sessions)
        self._sending_run_row = writes.run is not None

    def _recording_error(self, error: BaseException) -> BaseException:
        """A driver's error (as raised on the writer's own connection, or wrapped by the store as a
        ``DatabaseError``) as the ``RecordingError`` it means for the run; other errors as they are."""
        if isinstance(error, DatabaseError) and not isinstance(error, RecordingError):
            error = error.__cause__ or error
        if not isinstance(error, psycopg.Error):
            return error
        failed = RecordingError(
            f"the database refused or lost the run's records ({type(error).__name__}: {str(error).strip()}); "
            "the run is stored as failed where the database still answers",
            sqlstate=error.sqlstate,
        )
        failed.run_id = self.run_id  # named once, by TimestepError, also when it leaves stop() itself
        failed.__cause__ = error
        return failed

    def _release(self) -> None:
        """Give the connection back to the pool: no commit followed within ``LINGER_S``."""
        self._release_timer = None
        conn, self._conn = self._conn, None
        if conn is not None:
            self._releasing = asyncio.get_running_loop().create_task(self.store.release(conn))


def _check_call(call_id: str, tool_name: str, agent_name: str | None, arguments: str) -> None:
    """Refuse a tool call whose id, names or arguments the store cannot hold."""
    check_id(call_id, "tool call id")
    check_text(tool_name, f"tool name of tool call {call_id!r}")
    if agent_name is not None:
        check_id(agent_name, "agent name")
    check_text(arguments, f"arguments of tool call {call_id!r} ({tool_name})")
