"""Who runs a run, for how long: the owner column and a lease renewed by a heartbeat while the run runs.

A run with status ``running`` is orphaned, and so recoverable, when its owner is known to be gone (a
process of this host that no longer runs, see ``timestep.durable.ownership``) or when its lease has expired (the
only evidence about a process of another host). Taking a run over is one transaction holding the run's row
lock (``SELECT ... FOR UPDATE``, on either engine), so two recoverers never both take it.

This module is the only place that knows how owners and leases are kept; the journal and the replay
wrappers only carry the owner string as a fencing token.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from timestep import config
from timestep.durable.ownership import current_owner, owner_is_alive
from timestep.durable.run_records import RUN_COLUMNS, Run

if TYPE_CHECKING:
    from psycopg import AsyncConnection

    from timestep.store import Store

__all__ = [
    "Heartbeat",
    "LeaseSettings",
    "is_orphaned",
    "lease_settings",
    "list_running",
    "start",
    "take",
]


@dataclass(frozen=True)
class LeaseSettings:
    """How long a lease lasts and how often the heartbeat renews it (seconds)."""

    duration: float = 30.0
    interval: float = 10.0


def lease_settings(duration: float | None = None, interval: float | None = None) -> LeaseSettings:
    """Argument, else ``TIMESTEP_LEASE_SECONDS`` / ``TIMESTEP_HEARTBEAT_SECONDS`` (see ``timestep.config``)."""
    duration = duration if duration is not None else config.lease_seconds()
    interval = interval if interval is not None else config.heartbeat_seconds(duration)
    return LeaseSettings(duration, interval)


async def list_running(conn: AsyncConnection[Any]) -> list[Run]:
    """Runs under a lease that are running, oldest first: the candidates for recovery."""
    cur = await conn.execute(
        f"SELECT {RUN_COLUMNS} FROM timestep_runs r WHERE r.status = 'running' AND r.lease_until IS NOT NULL"
        " ORDER BY r.created_at"
    )
    return [Run(*row) for row in await cur.fetchall()]


def is_orphaned(row: Run) -> bool:
    """Running under a lease, and its owner is known dead or its lease expired (an owner of another host)."""
    return row.status == "running" and row.leased and (not owner_is_alive(row.owner) or row.lease_expired)


async def insert_leased_run(
    conn: AsyncConnection[Any], run_id: str, agent_name: str, session_id: str | None, input_json: str | None,
    owner: str, settings: LeaseSettings, *, journaled: bool = True, max_turns: int | None = None,
) -> None:
    """Store a new run as running, owned by ``owner`` with a fresh lease, in one statement."""
    await conn.execute(
        "INSERT INTO timestep_runs (run_id, agent_name, status, session_id, input, owner, lease_until, journaled,"
        " max_turns) VALUES (%s, %s, 'running', %s, %s, %s, now() + make_interval(secs => %s), %s, %s)",
        (run_id, agent_name, session_id, input_json, owner, settings.duration, journaled, max_turns),
    )


async def start(conn: AsyncConnection[Any], run_id: str, settings: LeaseSettings) -> None:
    """Give a run this process's lease (inside the caller's transaction, after it took the run)."""
    await conn.execute(
        "UPDATE timestep_runs SET lease_until = now() + make_interval(secs => %s) WHERE run_id = %s",
        (settings.duration, run_id),
    )


async def take(conn: AsyncConnection[Any], run_id: str, settings: LeaseSettings) -> str:
    """Make this process the run's owner with a fresh lease (inside the caller's transaction)."""
    owner = current_owner()
    await conn.execute(
        "UPDATE timestep_runs SET status = 'running', owner = %s, error = NULL, finished_at = NULL,"
        " lease_until = now() + make_interval(secs => %s), updated_at = now() WHERE run_id = %s",
        (owner, settings.duration, run_id),
    )
    return owner


class Heartbeat:
    """Renews the run's lease every ``interval`` seconds while the run runs; stops when the run stops."""

    def __init__(
        self, store: Store, run_id: str, owner: str, settings: LeaseSettings,
        on_lost: Callable[[], None] | None = None,
    ) -> None:
        self._on_lost = on_lost
        self._store = store
        self._run_id = run_id
        self._owner = owner
        self._settings = settings
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._beat())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self._settings.interval)
            try:
                async with self._store.connection() as conn:
                    cur = await conn.execute(
                        "UPDATE timestep_runs SET lease_until = now() + make_interval(secs => %s)"
                        " WHERE run_id = %s AND owner = %s AND status = 'running'",
                        (self._settings.duration, self._run_id, self._owner),
                    )
            except Exception:  # a missed beat only shortens the lease
                continue
            if cur.rowcount == 0:  # another process took the run over: this attempt must stop writing
                if self._on_lost is not None:
                    self._on_lost()
                return

