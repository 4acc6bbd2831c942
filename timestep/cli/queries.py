"""Read-only SQL the command line needs beyond ``run_records``: listings and usage aggregates.

Plain functions over a connection, no Agents SDK import, so that listing runs stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from psycopg import AsyncConnection

from timestep.durable.run_records import RUN_COLUMNS, Run
from timestep.errors import SessionNotFoundError

UsageGrouping = Literal["model", "day", "session", "run"]


@dataclass(frozen=True)
class UsageGroup:
    """Token counts of one group (a day, a session, a run, or everything) for one provider and model."""

    group: str | None
    provider: str | None
    model: str | None
    requests: int
    input_tokens: int
    cached_tokens: int
    output_tokens: int
    reasoning_tokens: int
    total_tokens: int


async def list_runs(
    conn: AsyncConnection[Any], *, status: str | None, session_id: str | None, limit: int
) -> list[tuple[Run, int]]:
    """Runs, newest first, each with how many of its tool calls wait for approval."""
    cur = await conn.execute(
        f"SELECT {RUN_COLUMNS}, (SELECT count(*) FROM timestep_tool_calls c WHERE c.run_id = r.run_id"
        "  AND c.status = 'pending_approval')"
        " FROM timestep_runs r"
        " WHERE (%(status)s::text IS NULL OR r.status = %(status)s)"
        " AND (%(session)s::text IS NULL OR r.session_id = %(session)s)"
        " ORDER BY r.created_at DESC, r.run_id LIMIT %(limit)s",
        {"status": status, "session": session_id, "limit": limit},
    )
    return [(Run(*row[:-1]), row[-1]) for row in await cur.fetchall()]


async def require_session(conn: AsyncConnection[Any], session_id: str) -> None:
    """Raise unless the session has a row, or runs that name it."""
    cur = await conn.execute(
        "SELECT EXISTS (SELECT 1 FROM timestep_sessions WHERE session_id = %(s)s)"
        " OR EXISTS (SELECT 1 FROM timestep_runs WHERE session_id = %(s)s)",
        {"s": session_id},
    )
    row = await cur.fetchone()
    if not row or not row[0]:
        raise SessionNotFoundError(
            f"no session {session_id!r} in this store; list sessions with `timestep sessions list`"
        )


_GROUP_EXPRESSIONS: dict[str, str] = {
    "model": "NULL::text",
    "day": "to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
    "session": "r.session_id",
    "run": "u.run_id",
}


async def usage_groups(
    conn: AsyncConnection[Any], *, by: UsageGrouping, run_id: str | None, session_id: str | None
) -> list[UsageGroup]:
    """Summed usage per group and model; the caller prices each model and adds up the groups."""
    group = _GROUP_EXPRESSIONS[by]  # one of the fixed expressions above, never user text
    cur = await conn.execute(
        f"SELECT {group} AS g, u.provider, u.model, sum(u.requests), sum(u.input_tokens), sum(u.cached_tokens),"
        " sum(u.output_tokens), sum(u.reasoning_tokens), sum(u.total_tokens)"
        " FROM timestep_usage u JOIN timestep_runs r ON r.run_id = u.run_id"
        " WHERE (%(run)s::text IS NULL OR u.run_id = %(run)s)"
        " AND (%(session)s::text IS NULL OR r.session_id = %(session)s)"
        " GROUP BY g, u.provider, u.model ORDER BY g NULLS FIRST, u.provider NULLS FIRST, u.model NULLS FIRST",
        {"run": run_id, "session": session_id},
    )
    return [
        UsageGroup(row[0], row[1], row[2], *(int(v) for v in row[3:])) for row in await cur.fetchall()
    ]


async def session_runs(conn: AsyncConnection[Any], session_id: str) -> list[tuple[str, str, datetime]]:
    cur = await conn.execute(
        "SELECT run_id, status, created_at FROM timestep_runs WHERE session_id = %s ORDER BY created_at",
        (session_id,),
    )
    return [(str(r[0]), str(r[1]), r[2]) for r in await cur.fetchall()]

