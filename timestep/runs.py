"""Durable runs: ``run_agent`` starts one, ``resume_run`` continues one that waits for approvals.

A run is a row from its first step: while it runs, its tool calls and usage are recorded as they happen;
when it stops for approvals it is stored as ``interrupted`` with a snapshot and its pending calls, in one
transaction; when it ends, as ``completed`` (or ``failed``/``cancelled``) with a final snapshot. Resuming
claims the run in one transaction, so two processes can never both resume it.

Every run is journaled (``timestep.durable.journal``): each model response and tool result is committed
behind the run, and every tool runs only once what came before it is committed, through per-run copies of the
agent graph (``timestep.durable.replay``); the run holds a lease renewed by a heartbeat
(``timestep.durable.lease``), so that a run whose process died can be finished by ``timestep.recover``
without asking the model again for a committed response or re-running a tool whose result was committed.
"""

from __future__ import annotations

import uuid
from typing import Literal, TypeVar, overload

from agents import Agent, RunConfig, RunState
from agents.memory import Session
from agents.models.interface import ModelProvider

from timestep.durable import lease, run_records
from timestep.durable.attempt import Input, execute, input_json, prepare_run, with_provider
from timestep.durable.journal import session_watermark
from timestep.durable.ownership import current_owner, owner_is_alive
from timestep.durable.resumption import claim, resume_from_snapshot
from timestep.durable.snapshots import decode_state, encode_state
from timestep.errors import RunNotResumableError
from timestep.recovery import recover
from timestep.results import TimestepRunResult, TimestepStreamingResult
from timestep.storable import check_id
from timestep.store import Store, resolve_store

__all__ = ["Input", "resume_run", "run_agent"]

TContext = TypeVar("TContext")


@overload
async def run_agent(
    agent: Agent[TContext],
    input: Input[TContext],
    session: Session | None = None,
    stream: Literal[False] = False,
    *,
    store: Store | None = None,
    run_id: str | None = None,
    run_config: RunConfig | None = None,
    context: TContext | None = None,
    max_turns: int | None = None,
    model_provider: ModelProvider | None = None,
    durable: bool = True,
) -> TimestepRunResult: ...


@overload
async def run_agent(
    agent: Agent[TContext],
    input: Input[TContext],
    session: Session | None = None,
    *,
    stream: Literal[True],
    store: Store | None = None,
    run_id: str | None = None,
    run_config: RunConfig | None = None,
    context: TContext | None = None,
    max_turns: int | None = None,
    model_provider: ModelProvider | None = None,
    durable: bool = True,
) -> TimestepStreamingResult: ...


@overload
async def run_agent(
    agent: Agent[TContext],
    input: Input[TContext],
    session: Session | None = None,
    stream: bool = False,
    *,
    store: Store | None = None,
    run_id: str | None = None,
    run_config: RunConfig | None = None,
    context: TContext | None = None,
    max_turns: int | None = None,
    model_provider: ModelProvider | None = None,
    durable: bool = True,
) -> TimestepRunResult | TimestepStreamingResult: ...


async def run_agent(
    agent: Agent[TContext],
    input: Input[TContext],
    session: Session | None = None,
    stream: bool = False,
    *,
    store: Store | None = None,
    run_id: str | None = None,
    run_config: RunConfig | None = None,
    context: TContext | None = None,
    max_turns: int | None = None,
    model_provider: ModelProvider | None = None,
    durable: bool = True,
) -> TimestepRunResult | TimestepStreamingResult:
    """Run ``agent`` on ``input`` (text, input items, or a ``RunState``) with everything recorded.

    With ``durable=True`` (the default) every model response and tool result is journaled, and each tool
    runs only once everything before it is committed, so that ``recover`` can finish the run if its process
    dies; ``durable=False`` records the same rows without the journal, and such a run cannot be recovered
    once it died mid-run (its latest approval snapshot can still be resumed).

    Returns a ``TimestepRunResult`` (or, with ``stream=True``, a ``TimestepStreamingResult`` to drain with
    ``stream_events()`` or ``consume_result``). Passing a ``RunState`` with the ``run_id`` of a stored run
    continues that run (claiming it first); without a ``run_id`` it starts a new stored run.

    Ids and an input the store cannot hold are refused before anything is stored (``timestep.storable``); a
    run that cannot record something later ends ``failed`` with the error stored, and the error is raised.
    """
    check_id(agent.name, "agent name")
    if run_id is not None:
        check_id(run_id, "run id")
    session_id = getattr(session, "session_id", None)
    if session_id is not None:
        check_id(session_id, "session id")
    encoded_input = input_json(input)  # an input the store cannot hold is refused before anything is stored
    settings = lease.lease_settings()
    store = resolve_store(store)
    await store.open()
    base = 0
    new_run_id = False
    if run_id is not None and isinstance(input, RunState) and await _exists(store, run_id):
        await claim(store, run_id)
        async with store.transaction() as conn:  # the caller's state (and decisions) is where recovery starts
            base = await run_records.insert_snapshot(conn, run_id, "checkpoint", encode_state(input))
            await session_watermark(conn, run_id, session_id)
    else:
        new_run_id = run_id is None
        run_id = run_id or uuid.uuid4().hex
        if isinstance(input, RunState):  # recovery starts from a checkpoint, as it has no input to start from
            async with store.transaction() as conn:
                await lease.insert_leased_run(
                    conn, run_id, agent.name, session_id, None, current_owner(), settings, journaled=durable,
                    max_turns=max_turns,
                )
                base = await run_records.insert_snapshot(conn, run_id, "checkpoint", encode_state(input))
                await session_watermark(conn, run_id, session_id)
        elif not new_run_id:  # a fresh id cannot collide: its row goes in with the run's first commit
            async with store.connection() as conn:
                await lease.insert_leased_run(
                    conn, run_id, agent.name, session_id, encoded_input, current_owner(), settings,
                    journaled=durable, max_turns=max_turns,
                )
    config = with_provider(run_config, model_provider)
    run = prepare_run(agent, config, store, run_id, current_owner(), base, durable=durable, stream=stream)
    if new_run_id and not isinstance(input, RunState):
        run.writer.add_run(
            agent.name, session_id, encoded_input, settings.duration, journaled=durable, max_turns=max_turns
        )
    if isinstance(input, RunState) and durable:  # bound to the caller's agents: bind it to the journaled copies
        input = await decode_state(run.instrumented.agent, encode_state(input).text)
    return await execute(
        run, input, session=session, stream=stream, context=context, max_turns=max_turns, settings=settings
    )


@overload
async def resume_run(
    agent: Agent[TContext],
    run_id: str,
    *,
    store: Store | None = None,
    session: Session | None = None,
    stream: Literal[False] = False,
    run_config: RunConfig | None = None,
    max_turns: int | None = None,
    model_provider: ModelProvider | None = None,
) -> TimestepRunResult: ...


@overload
async def resume_run(
    agent: Agent[TContext],
    run_id: str,
    *,
    store: Store | None = None,
    session: Session | None = None,
    stream: Literal[True],
    run_config: RunConfig | None = None,
    max_turns: int | None = None,
    model_provider: ModelProvider | None = None,
) -> TimestepStreamingResult: ...


@overload
async def resume_run(
    agent: Agent[TContext],
    run_id: str,
    *,
    store: Store | None = None,
    session: Session | None = None,
    stream: bool = False,
    run_config: RunConfig | None = None,
    max_turns: int | None = None,
    model_provider: ModelProvider | None = None,
) -> TimestepRunResult | TimestepStreamingResult: ...


async def resume_run(
    agent: Agent[TContext],
    run_id: str,
    *,
    store: Store | None = None,
    session: Session | None = None,
    stream: bool = False,
    run_config: RunConfig | None = None,
    max_turns: int | None = None,
    model_provider: ModelProvider | None = None,
) -> TimestepRunResult | TimestepStreamingResult:
    """Resume an interrupted run from its latest snapshot, applying the decisions stored for it.

    Exactly one process can resume a run: a second gets ``AlreadyResumingError``. A run whose process died
    while running is recovered from its latest snapshot and its journal (see ``timestep.recover``); one that
    died before its first snapshot has nothing to resume from and must be recovered with ``recover``.
    """
    check_id(run_id, "run id")
    store = resolve_store(store)
    await store.open()
    async with store.connection() as conn:
        found = await run_records.get_run(conn, run_id)
        latest = await run_records.latest_snapshot(conn, run_id) if found is not None else None
    if found is not None and found.status == "running" and not owner_is_alive(found.owner):
        if latest is None:
            raise RunNotResumableError(
                f"run {run_id} has no snapshot to resume from: its process died while it ran; recover it "
                f"from its journal with timestep.recover(agent, {run_id!r}) or `timestep resume {run_id}`"
            )
        return await recover(
            agent, run_id, store=store, session=session, stream=stream, run_config=run_config,
            max_turns=max_turns, model_provider=model_provider,
        )
    return await resume_from_snapshot(
        agent, run_id, store, session=session, stream=stream, run_config=run_config, max_turns=max_turns,
        model_provider=model_provider,
    )


async def _exists(store: Store, run_id: str) -> bool:
    async with store.connection() as conn:
        return await run_records.get_run(conn, run_id) is not None
