"""Resuming a run from its latest snapshot: claimed in one transaction, so that exactly one process resumes
it and an approved tool runs once; the decisions stored for its pending calls are applied to the state.

Both ``resume_run`` and ``recover`` (for a run that was waiting for approvals) resume through here.
"""

from __future__ import annotations

from typing import Any

from agents import Agent, RunConfig
from agents.models.interface import ModelProvider

from timestep.durable import lease, run_records
from timestep.durable.attempt import apply_decisions, execute, prepare_run, with_provider
from timestep.durable.ownership import current_owner, owner_is_alive
from timestep.durable.snapshots import decode_state
from timestep.durable.statuses import FINISHED, RunStatus
from timestep.errors import AlreadyResumingError, RunNotResumableError
from timestep.results import TimestepRunResult, TimestepStreamingResult
from timestep.session import TimestepSession
from timestep.store import Store

__all__ = ["claim", "resume_from_snapshot"]


async def resume_from_snapshot(
    agent: Agent[Any],
    run_id: str,
    store: Store,
    *,
    session: Any,
    stream: bool,
    run_config: RunConfig | None,
    max_turns: int | None,
    model_provider: ModelProvider | None,
) -> TimestepRunResult | TimestepStreamingResult:
    """Claim the interrupted run ``run_id`` and run it on from its latest snapshot with its decisions."""
    run = await claim(store, run_id)
    config = with_provider(run_config, model_provider)
    try:
        async with store.connection() as conn:
            latest = await run_records.latest_snapshot(conn, run_id)
            decisions = {call.call_id: call for call in await run_records.list_tool_calls(conn, run_id)}
        if latest is None:
            raise RunNotResumableError(f"run {run_id} has no snapshot to resume from")
        prepared = prepare_run(agent, config, store, run_id, current_owner(), latest[0].id, stream=stream)
        state = await decode_state(prepared.instrumented.agent, latest[1])
        apply_decisions(state, decisions)
    except BaseException:
        await _release(store, run_id, run.status)
        raise
    if session is None and run.session_id is not None:
        session = TimestepSession(run.session_id, store=store)
    return await execute(
        prepared, state, session=session, stream=stream, context=None,
        max_turns=max_turns if max_turns is not None else run.max_turns,
    )


async def claim(store: Store, run_id: str) -> run_records.Run:
    """Take a run for this process in one transaction, or explain why it cannot be resumed."""
    async with store.transaction() as conn:
        run = await run_records.require_run(conn, run_id, for_update=True)
        if run.status == "running" and owner_is_alive(run.owner):
            raise AlreadyResumingError(
                f"run {run_id} is already running or resuming in process {run.owner}; wait for it to stop"
            )
        if run.status in FINISHED:
            raise RunNotResumableError(f"run {run_id} is {run.status}; there is nothing to resume")
        undecided = [
            c for c in await run_records.list_tool_calls(conn, run_id) if c.status == "pending_approval"
        ]
        if undecided:
            listing = ", ".join(f"{c.call_id} ({c.tool_name})" for c in undecided)
            raise RunNotResumableError(
                f"run {run_id} still waits for decisions on {listing}: approve or reject them first "
                f"(`timestep approve {run_id}` or `timestep reject {run_id} CALL`)"
            )
        await run_records.set_run_status(conn, run_id, RunStatus.RUNNING, owner=current_owner())
        await lease.start(conn, run_id, lease.lease_settings())
    return run


async def _release(store: Store, run_id: str, previous_status: RunStatus) -> None:
    """Give a claimed run back when resuming it failed before it started."""
    async with store.connection() as conn:
        await run_records.set_run_status(conn, run_id, previous_status)
