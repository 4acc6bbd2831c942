"""Approval decisions as durable rows: who decided, when, and the message a rejection sends the model.

Decisions can be written from any process while the run sits interrupted; ``resume_run`` applies them to
the run's snapshot. A decision is final: deciding a call twice is an error, not a silent overwrite.
"""

from __future__ import annotations

import getpass
from typing import Any

from psycopg import AsyncConnection

from timestep.durable import run_records
from timestep.errors import AlreadyDecidedError, RunNotResumableError, ToolCallNotFoundError
from timestep.storable import check_id, check_text
from timestep.store import Store, resolve_store


async def approve(
    run_id: str, call_id: str | None = None, *, by: str | None = None, store: Store | None = None
) -> list[str]:
    """Approve one pending tool call, or every pending call of the run; returns the approved call ids."""
    decided_by = _checked(run_id, call_id, by)
    async with resolve_store(store).transaction() as conn:
        calls = await _decidable(conn, run_id, call_id)
        await conn.execute(
            "UPDATE timestep_tool_calls SET decision = 'approved', status = 'approved', decided_by = %s,"
            " decided_at = now() WHERE run_id = %s AND call_id = ANY(%s)",
            (decided_by, run_id, calls),
        )
    return calls


async def reject(
    run_id: str, call_id: str, *, message: str | None = None, by: str | None = None, store: Store | None = None
) -> None:
    """Reject a pending tool call; ``message`` is what the model is told instead of the tool's output."""
    decided_by = _checked(run_id, call_id, by)
    if message is not None:
        check_text(message, "rejection message")
    async with resolve_store(store).transaction() as conn:
        await _decidable(conn, run_id, call_id)
        await conn.execute(
            "UPDATE timestep_tool_calls SET decision = 'rejected', status = 'rejected', decided_by = %s,"
            " decided_at = now(), decision_message = %s WHERE run_id = %s AND call_id = %s",
            (decided_by, message, run_id, call_id),
        )


def _checked(run_id: str, call_id: str | None, by: str | None) -> str:
    """Refuse ids and a name the store cannot hold, before any SQL; return who decides."""
    check_id(run_id, "run id")
    if call_id is not None:
        check_id(call_id, "tool call id")
    return check_text(by or _who(), "name it was decided by (by=)")


async def _decidable(conn: AsyncConnection[Any], run_id: str, call_id: str | None) -> list[str]:
    """The call ids a decision applies to, with the run locked; raises when there is nothing to decide."""
    run = await run_records.require_run(conn, run_id, for_update=True)
    approvals = [c for c in await run_records.list_tool_calls(conn, run_id) if c.needs_approval]
    if call_id is not None:
        call = next((c for c in approvals if c.call_id == call_id), None)
        if call is None:
            pending = ", ".join(c.call_id for c in approvals if c.decision is None) or "none"
            raise ToolCallNotFoundError(
                f"run {run_id} has no tool call {call_id!r} awaiting approval (pending: {pending})"
            )
        if call.decision is not None:
            raise AlreadyDecidedError(
                f"tool call {call_id} of run {run_id} was already {call.decision} by {call.decided_by} "
                f"at {call.decided_at:%Y-%m-%d %H:%M:%S %Z}; a decision cannot be changed"
            )
    if run.status != "interrupted":
        raise RunNotResumableError(f"run {run_id} is {run.status}, not waiting for approval")
    if call_id is not None:
        return [call_id]
    undecided = [c.call_id for c in approvals if c.decision is None]
    if not undecided:
        raise ToolCallNotFoundError(f"run {run_id} has no tool call awaiting approval")
    return undecided


def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
