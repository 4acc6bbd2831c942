"""``RunStateStore``: keep a RunState in a file or as snapshots of a run in the database.

``RunStateStore("state.json", agent)`` keeps one state in a file, replaced atomically on every save.
``RunStateStore(agent, run_id=..., store=...)`` keeps every saved state as a snapshot of the run. Either
reads Python and TypeScript snapshots alike and writes the format asked for.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from agents import Agent, RunState

from timestep.durable import run_records
from timestep.durable.run_records import SnapshotInfo
from timestep.durable.snapshots import Language, decode_state, encode_state
from timestep.durable.statuses import SnapshotKind
from timestep.errors import ConfigurationError, RunStateError
from timestep.storable import check_id
from timestep.store import Store, resolve_store


class RunStateStore:
    """Save and load the state of one run."""

    def __init__(
        self,
        path_or_agent: str | os.PathLike[str] | Agent[Any],
        agent: Agent[Any] | None = None,
        *,
        run_id: str | None = None,
        store: Store | None = None,
        format: Language = "python",
    ) -> None:
        if isinstance(path_or_agent, Agent):
            if run_id is None:
                raise ConfigurationError("RunStateStore(agent, run_id=...) needs the run id it keeps states of")
            check_id(run_id, "run id")
            check_id(path_or_agent.name, "agent name")
            self.agent, self.path = path_or_agent, None
        else:
            if agent is None:
                raise ConfigurationError("RunStateStore(path, agent) needs the agent graph to load states with")
            self.agent, self.path = agent, Path(path_or_agent)
        if format not in ("python", "typescript"):
            raise ConfigurationError(f"format must be 'python' or 'typescript', not {format!r}")
        self.run_id = run_id
        self.format: Language = format
        self._store = store

    async def save(self, state: RunState[Any, Any], *, kind: str = "checkpoint") -> int | None:
        """Store ``state``; returns the snapshot id (None for a file)."""
        if kind not in SnapshotKind.__members__.values():
            raise ConfigurationError(f"snapshot kind must be one of {', '.join(SnapshotKind)}, not {kind!r}")
        snapshot = encode_state(state, self.format)
        if self.path is not None:
            _write_atomically(self.path, snapshot.text)
            return None
        run_id = self._run_id()
        async with resolve_store(self._store).transaction() as conn:
            await conn.execute(
                "INSERT INTO timestep_runs (run_id, agent_name, status) VALUES (%s, %s, %s)"
                " ON CONFLICT (run_id) DO NOTHING",
                (run_id, self.agent.name, "interrupted" if state.get_interruptions() else "running"),
            )
            return await run_records.insert_snapshot(conn, run_id, kind, snapshot)

    async def load(self, snapshot_id: int | None = None) -> RunState[Any, Agent[Any]]:
        """The latest saved state (or the snapshot ``snapshot_id``), in either SDK's format."""
        if self.path is not None:
            try:
                text = self.path.read_bytes()
            except FileNotFoundError as exc:
                raise RunStateError(f"no saved state at {self.path}") from exc
            return await decode_state(self.agent, text)
        run_id = self._run_id()
        async with resolve_store(self._store).connection() as conn:
            if snapshot_id is None:
                latest = await run_records.latest_snapshot(conn, run_id)
                stored = latest[1] if latest else None
            else:
                stored = await run_records.get_snapshot(conn, run_id, snapshot_id)
        if stored is None:
            which = f"snapshot {snapshot_id}" if snapshot_id is not None else "snapshot"
            raise RunStateError(f"run {run_id!r} has no {which}")
        return await decode_state(self.agent, stored)

    async def list_snapshots(self) -> list[SnapshotInfo]:
        run_id = self._run_id()
        async with resolve_store(self._store).connection() as conn:
            return await run_records.list_snapshots(conn, run_id)

    async def delete(self, snapshot_id: int | None = None) -> int:
        """Delete one snapshot, or all of them (the file, for a file store); returns how many went."""
        if self.path is not None:
            try:
                self.path.unlink()
            except FileNotFoundError:
                return 0
            return 1
        run_id = self._run_id()
        async with resolve_store(self._store).connection() as conn:
            return await run_records.delete_snapshots(conn, run_id, snapshot_id)

    def _run_id(self) -> str:
        """The run whose snapshots this store keeps; a file store keeps one state and has none."""
        if self.run_id is None:
            raise ConfigurationError("a file RunStateStore keeps one state; snapshots are kept in the database")
        return self.run_id


def _write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` so that a crash leaves either the old or the new content, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
