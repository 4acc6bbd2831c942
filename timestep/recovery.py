"""Recovery: finish a run whose process died, from its journal, as if the process had never died.

``recover`` takes an orphaned run over (one transaction under the run's row lock: two recoverers never both
take it), drops the session items the dead attempt wrote after the run's last snapshot, and runs the agent
again from that snapshot (or from the run's original input), answering model calls and tool calls from the
journal until it is exhausted, then live. Model responses already received are not requested again; a tool
call whose result was journaled does not run again.

**At-least-once for in-flight tool calls**: a tool that was running when the process died has no journaled
result and runs again on recovery. Tools with external effects should pass ``timestep.idempotency_key(ctx)``
(the run id and call id, the same in every attempt) to the systems they call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeVar, overload

import orjson
from agents import Agent, RunConfig
from agents.memory import Session
from agents.models.interface import ModelProvider

from timestep.durable import lease, run_records
from timestep.durable.attempt import apply_decisions, execute, prepare_run, with_provider
from timestep.durable.journal import drop_replayed_session_items
from timestep.durable.resumption import resume_from_snapshot
from timestep.durable.snapshots import decode_state
from timestep.durable.statuses import FINISHED
from timestep.errors import AlreadyResumingError, RecoveryRefusedError, RunNotResumableError
from timestep.results import TimestepRunResult, TimestepStreamingResult
from timestep.session import TimestepSession
from timestep.storable import check_id
from timestep.store import Store, resolve_store

__all__ = ["recover", "recover_orphaned_runs"]

TContext = TypeVar("TContext")



@overload
async def recover(
    agent: Agent[TContext],
    run_id: str,
    *,
    store: Store | None = None,
    session: Session | None = None,
    stream: Literal[False] = False,
    run_config: RunConfig | None = None,
    max_turns: int | None = None,
    model_provider: ModelProvider | None = None,
    context: TContext | None = None,
) -> TimestepRunResult: ...


@overload
async def recover(
    agent: Agent[TContext],
    run_id: str,
    *,
    store: Store | None = None,
    session: Session | None = None,
    stream: Literal[True],
    run_config: RunConfig | None = None,
    max_turns: int | None = None,
    model_provider: ModelProvider | None = None,
    context: TContext | None = None,
) -> TimestepStreamingResult: ...


@overload
async def recover(
    agent: Agent[TContext],
    run_id: str,
    *,
    store: Store | None = None,
    session: Session | None = None,
    stream: bool = False,
    run_config: RunConfig | None = None,
    max_turns: int | None = None,
    model_provider: ModelProvider | None = None,
    context: TContext | None = None,
) -> TimestepRunResult | TimestepStreamingResult: ...


async def recover(
    agent: Agent[TContext],
    run_id: str,
    *,
    store: Store | None = None,
    session: Session | None = None,
    stream: bool = False,
    run_config: RunConfig | None = None,
    max_turns: int | None = None,
    model_provider: ModelProvider | None = None,
    context: TContext | None = None,
) -> TimestepRunResult | TimestepStreamingResult:
    """Finish the run ``run_id`` whose process died, replaying its journal; returns the run's result.

    A run waiting for approvals is resumed from its snapshot (as ``resume_run`` does). A run whose owner is alive
    (or holds an unexpired lease) raises ``AlreadyResumingError``; a finished one ``RunNotResumableError``;
    one whose agent graph has parts the journal cannot replay (local non-function tools, MCP servers)
    ``RecoveryRefusedError``. Tools that were running when the process died run again (at-least-once).
    """
    check_id(run_id, "run id")
    store = resolve_store(store)
    await store.open()
    config = with_provider(run_config, model_provider)
    settings = lease.lease_settings()
    async with store.transaction() as conn:
        row = await run_records.require_run(conn, run_id, for_update=True)
        if row.status == "interrupted":
            interrupted = True
        elif row.status in FINISHED:
            raise RunNotResumableError(f"run {run_id} is {row.status}; there is nothing to recover")
        elif not row.leased:
            raise RunNotResumableError(
                f"run {run_id} was never run by run_agent (it has no lease; a RunStateStore keeps it, say): "
                "there is no attempt to recover; load its state and run it"
            )
        elif not lease.is_orphaned(row):
            raise AlreadyResumingError(
                f"run {run_id} is running in process {row.owner}, which is alive and holds its lease"
            )
        else:
            interrupted = False
            latest = await run_records.latest_snapshot(conn, run_id)
            if not row.journaled and latest is None:
                raise RecoveryRefusedError(
                    f"run {run_id} was started with durable=False: nothing was journaled, so recovering it "
                    "would ask the model and run every tool again; start it again instead"
                )
            base = latest[0].id if latest else 0
            owner = await lease.take(conn, run_id, settings)
            prepared = prepare_run(agent, config, store, run_id, owner, base, stream=stream)
            if prepared.instrumented.unjournaled:
                raise RecoveryRefusedError(
                    f"run {run_id} cannot be recovered faithfully: the journal cannot replay "
                    f"{', '.join(prepared.instrumented.unjournaled)}; they would run again unrecorded"
                )
            watermark = latest[0].session_item_id if latest else None
            await drop_replayed_session_items(conn, run_id, row.session_id, watermark)
            await prepared.journal.load(conn)
            decisions = (
                {c.call_id: c for c in await run_records.list_tool_calls(conn, run_id)} if latest else {}
            )
    if interrupted:
        return await resume_from_snapshot(
            agent, run_id, store, session=session, stream=stream, run_config=run_config, max_turns=max_turns,
            model_provider=model_provider,
        )
    try:
        if latest is not None:
            state = await decode_state(prepared.instrumented.agent, latest[1])
            apply_decisions(state, decisions)
            start: Any = state
        elif row.input_json is not None:
            start = orjson.loads(row.input_json)
        else:
            raise RecoveryRefusedError(f"run {run_id} has neither a snapshot nor a stored input to start from")
    except BaseException:
        async with store.connection() as conn:  # give it back as orphaned, for a later attempt
            await conn.execute("UPDATE timestep_runs SET owner = NULL WHERE run_id = %s", (run_id,))
        raise
    if session is None and row.session_id is not None:
        session = TimestepSession(row.session_id, store=store)
    return await execute(
        prepared, start, session=session, stream=stream, context=context,
        max_turns=max_turns if max_turns is not None else row.max_turns, settings=settings,
    )


async def recover_orphaned_runs(
    agents: Agent[TContext] | Mapping[str, Agent[TContext]],
    *,
    store: Store | None = None,
    run_config: RunConfig | None = None,
    model_provider: ModelProvider | None = None,
) -> list[TimestepRunResult]:
    """Recover every orphaned run of the store whose agent is known (by name), for use at start-up.

    Runs another process takes first are skipped; runs of unknown agents are left for their programs.
    Returns the results of the runs recovered here, in the order the runs were created.
    """
    store = resolve_store(store)
    await store.open()
    by_name = {agents.name: agents} if isinstance(agents, Agent) else dict(agents)
    async with store.connection() as conn:
        running = await lease.list_running(conn)
    results: list[TimestepRunResult] = []
    for row in running:
        agent = by_name.get(row.agent_name)
        if agent is None or not lease.is_orphaned(row):
            continue
        try:
            result = await recover(
                agent, row.run_id, store=store, run_config=run_config, model_provider=model_provider
            )
        except AlreadyResumingError:
            continue
        results.append(result)
    return results
