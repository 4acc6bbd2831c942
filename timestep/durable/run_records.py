"""SQL for run rows, snapshots, tool calls and usage: plain functions over a connection.

Kept apart from the SDK so that the command line and other languages' readers share one description of
the tables, and so that a caller can put several of these writes in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from psycopg import AsyncConnection

from timestep.durable.statuses import FINISHED, RunStatus
from timestep.errors import RunNotFoundError

if TYPE_CHECKING:  # the command line reads runs without importing the Agents SDK
    from timestep.durable.snapshots import EncodedSnapshot



@dataclass(frozen=True)
class Run:
    """A run's row, as every reader sees it (the library, recovery, the command line)."""

    run_id: str
    agent_name: str
    status: RunStatus
    session_id: str | None
    language: str
    owner: str | None
    error: str | None
    input_json: str | None
    final_output_json: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    max_turns: int | None  # as the run was started with; resuming keeps it unless told otherwise
    journaled: bool
    leased: bool  # False for rows no run_agent ever ran (a RunStateStore's, say)
    lease_expired: bool

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", RunStatus(self.status))  # read from SQL as text


RUN_COLUMNS = (
    "r.run_id, r.agent_name, r.status, r.session_id, r.language, r.owner, r.error, r.input::text,"
    " r.final_output::text, r.created_at, r.updated_at, r.finished_at, r.max_turns, r.journaled,"
    " r.lease_until IS NOT NULL, coalesce(r.lease_until < now(), false)"
)
"""The columns of a ``Run``, from ``timestep_runs r``."""


@dataclass(frozen=True)
class SnapshotInfo:
    id: int
    run_id: str
    kind: str
    language: str
    sdk_version: str
    schema_version: str
    size_bytes: int
    created_at: datetime
    session_item_id: int | None  # the session's last item when it was taken: recovery drops what came after


@dataclass(frozen=True)
class ToolCallRow:
    call_id: str
    tool_name: str
    agent_name: str | None
    arguments: str | None
    output: str | None
    status: str
    needs_approval: bool
    decision: str | None
    decided_by: str | None
    decided_at: datetime | None
    decision_message: str | None


@dataclass(frozen=True)
class UsageRecord:
    agent_name: str | None
    provider: str | None
    model: str | None
    requests: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    reasoning_tokens: int
    total_tokens: int


async def insert_run(
    conn: AsyncConnection[Any], run_id: str, agent_name: str, session_id: str | None, input_json: str | None,
    owner: str,
) -> None:
    await conn.execute(
        "INSERT INTO timestep_runs (run_id, agent_name, status, session_id, input, owner)"
        " VALUES (%s, %s, 'running', %s, %s, %s)",
        (run_id, agent_name, session_id, input_json, owner),
    )


async def get_run(conn: AsyncConnection[Any], run_id: str, *, for_update: bool = False) -> Run | None:
    """The run's row; with ``for_update``, locked until the caller's transaction ends."""
    lock = " FOR UPDATE" if for_update else ""
    cur = await conn.execute(f"SELECT {RUN_COLUMNS} FROM timestep_runs r WHERE r.run_id = %s{lock}", (run_id,))
    row = await cur.fetchone()
    return Run(*row) if row else None


async def require_run(conn: AsyncConnection[Any], run_id: str, *, for_update: bool = False) -> Run:
    """The run's row (locked with ``for_update``), or ``RunNotFoundError`` saying how to list runs."""
    run = await get_run(conn, run_id, for_update=for_update)
    if run is None:
        raise RunNotFoundError(f"no run {run_id!r} in this store; list runs with `timestep runs list`")
    return run


async def set_run_status(
    conn: AsyncConnection[Any], run_id: str, status: RunStatus, *, owner: str | None = None,
    final_output_json: str | None = None, error: str | None = None,
) -> None:
    finished = status in FINISHED
    await conn.execute(
        "UPDATE timestep_runs SET status = %s, owner = %s, final_output = %s, error = %s, updated_at = now(),"
        " finished_at = CASE WHEN %s THEN now() ELSE NULL END WHERE run_id = %s",
        (status, owner, final_output_json, error, finished, run_id),
    )


async def store_end(
    conn: AsyncConnection[Any], run_id: str, status: RunStatus, error: str, row: Mapping[str, Any] | None
) -> None:
    """Store that a run stopped with ``error``, inserting its ``row`` first (as ``RunWriter.add_run`` queued
    it) when no commit of the run stored it; call inside a transaction."""
    if row is not None:
        await conn.execute(
            "INSERT INTO timestep_runs (run_id, agent_name, status, session_id, input, journaled, max_turns)"
            " VALUES (%s, %s, 'running', %s, %s, %s, %s) ON CONFLICT (run_id) DO NOTHING",
            (run_id, row["agent_name"], row["session_id"], row["input"], row["journaled"], row["max_turns"]),
        )
    await set_run_status(conn, run_id, status, error=error)


async def insert_snapshot(conn: AsyncConnection[Any], run_id: str, kind: str, snapshot: EncodedSnapshot) -> int:
    cur = await conn.execute(
        "INSERT INTO timestep_run_snapshots (run_id, kind, language, sdk_version, schema_version, state,"
        " size_bytes) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (run_id, kind, snapshot.language, snapshot.sdk_version, snapshot.schema_version, snapshot.text,
         snapshot.size_bytes),
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


_SNAPSHOT_COLUMNS = "id, run_id, kind, language, sdk_version, schema_version, size_bytes, created_at, session_item_id"


async def latest_snapshot(conn: AsyncConnection[Any], run_id: str) -> tuple[SnapshotInfo, str] | None:
    cur = await conn.execute(
        f"SELECT {_SNAPSHOT_COLUMNS}, state::text FROM timestep_run_snapshots WHERE run_id = %s"
        " ORDER BY id DESC LIMIT 1",
        (run_id,),
    )
    row = await cur.fetchone()
    return (SnapshotInfo(*row[:-1]), row[-1]) if row else None


async def list_snapshots(conn: AsyncConnection[Any], run_id: str) -> list[SnapshotInfo]:
    cur = await conn.execute(
        f"SELECT {_SNAPSHOT_COLUMNS} FROM timestep_run_snapshots WHERE run_id = %s ORDER BY id",
        (run_id,),
    )
    return [SnapshotInfo(*row) for row in await cur.fetchall()]


async def get_snapshot(conn: AsyncConnection[Any], run_id: str, snapshot_id: int) -> str | None:
    cur = await conn.execute(
        "SELECT state::text FROM timestep_run_snapshots WHERE run_id = %s AND id = %s", (run_id, snapshot_id)
    )
    row = await cur.fetchone()
    return row[0] if row else None


async def delete_snapshots(conn: AsyncConnection[Any], run_id: str, snapshot_id: int | None = None) -> int:
    if snapshot_id is None:
        cur = await conn.execute("DELETE FROM timestep_run_snapshots WHERE run_id = %s", (run_id,))
    else:
        cur = await conn.execute(
            "DELETE FROM timestep_run_snapshots WHERE run_id = %s AND id = %s", (run_id, snapshot_id)
        )
    return cur.rowcount


async def mark_pending_approval(
    conn: AsyncConnection[Any], run_id: str, calls: Sequence[tuple[str, str, str | None, str]]
) -> None:
    """Record the calls an interruption waits on, as (call_id, tool_name, agent_name, arguments)."""
    if not calls:
        return
    await conn.execute(
        "INSERT INTO timestep_tool_calls (run_id, call_id, tool_name, agent_name, arguments, status,"
        " needs_approval) SELECT %s, c, t, a, g, 'pending_approval', true"
        " FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[]) AS x(c, t, a, g)"
        " ON CONFLICT (run_id, call_id) DO UPDATE SET needs_approval = true,"
        " status = CASE WHEN timestep_tool_calls.decision IS NULL THEN 'pending_approval'"
        " ELSE timestep_tool_calls.status END",
        (run_id, [c[0] for c in calls], [c[1] for c in calls], [c[2] for c in calls], [c[3] for c in calls]),
    )


async def list_tool_calls(conn: AsyncConnection[Any], run_id: str) -> list[ToolCallRow]:
    cur = await conn.execute(
        "SELECT call_id, tool_name, agent_name, arguments, output, status, needs_approval, decision,"
        " decided_by, decided_at, decision_message FROM timestep_tool_calls WHERE run_id = %s"
        " ORDER BY created_at, call_id",
        (run_id,),
    )
    return [ToolCallRow(*row) for row in await cur.fetchall()]
