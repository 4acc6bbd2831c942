"""Durable runs: ``run_agent``, ``resume_run`` and ``consume_result``.

A run is a row from its first step: while it runs, its tool calls and usage are recorded as they happen;
when it stops for approvals it is stored as ``interrupted`` with a snapshot and its pending calls, in one
transaction; when it ends, as ``completed`` (or ``failed``/``cancelled``) with a final snapshot. Resuming
claims the run in one transaction, so two processes can never both resume it.

Every run is journaled (``timestep.journal``): each model response and tool result is committed behind
the run, and every tool runs only once what came before it is committed, through per-run copies of the agent
graph (``timestep.replay``); the run holds a lease renewed by a heartbeat (``timestep.lease``), so that a
run whose process died can be finished by ``timestep.recover`` without asking the model again for a
committed response or re-running a tool whose result was committed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from agents import Agent, RunConfig, Runner, RunResult, RunResultStreaming, RunState, TResponseInputItem
from agents.items import HandoffOutputItem, ToolCallOutputItem
from agents.models.interface import ModelProvider
from agents.stream_events import StreamEvent

from timestep import lease, run_records
from timestep.errors import (
    AlreadyResumingError,
    LeaseLostError,
    RecordingError,
    RunNotFoundError,
    RunNotResumableError,
    TimestepError,
    UnstorableError,
)
from timestep.journal import Journal, session_watermark
from timestep.ownership import current_owner, owner_is_alive
from timestep.recorder import RunRecorder, json_text
from timestep.redaction import error_text
from timestep.replay import Instrumented, JournalingModel, instrument
from timestep.session import TimestepSession, current_run_id
from timestep.snapshots import decode_state, encode_state
from timestep.storable import check_id
from timestep.store import Store, resolve_store
from timestep.writer import RunWriter, current_run_writer

RunInput = str | list[TResponseInputItem] | RunState[Any, Any]
_T = TypeVar("_T")


class TimestepRunResult:
    """The SDK's result of a finished or interrupted run, plus the id it is stored under."""

    def __init__(self, result: RunResult, run_id: str) -> None:
        self._result = result
        self.run_id = run_id
        self._state: RunState[Any, Any] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._result, name)

    @property
    def sdk_result(self) -> RunResult:
        return self._result

    @property
    def state(self) -> RunState[Any, Any]:
        """The run's state, to approve or reject interruptions in place and run on."""
        if self._state is None:
            self._state = self._result.to_state()
        return self._state


class TimestepStreamingResult:
    """The SDK's streaming result; the run is stored as finished once its events have been drained."""

    def __init__(self, result: RunResultStreaming, run_id: str, finish: Callable[[], Awaitable[None]],
                 fail: Callable[[BaseException], Awaitable[BaseException]]) -> None:
        self._result = result
        self.run_id = run_id
        self._finish = finish
        self._fail = fail
        self._done = False
        self._failed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._result, name)

    @property
    def sdk_result(self) -> RunResultStreaming:
        return self._result

    @property
    def state(self) -> RunState[Any, Any]:
        return self._result.to_state()

    @property
    def is_finished(self) -> bool:
        return self._done

    async def stream_events(self) -> AsyncIterator[StreamEvent]:
        """The SDK's events; after the last one the run's outcome is committed to the store. When the run or
        storing its outcome fails, it is stored as failed and the error is raised (see ``_fail``)."""
        try:
            async for event in self._result.stream_events():
                yield event
            if not self._done:
                self._done = True
                await self._finish()
        except BaseException as exc:
            if self._failed:
                raise
            self._done = self._failed = True
            failure = await self._fail(exc)
            if failure is exc:
                raise
            raise failure from failure.__cause__


async def consume_result(result: Any) -> Any:
    """Drain a streaming result and return it finished; a finished result is returned as is."""
    if isinstance(result, TimestepStreamingResult):
        if not result.is_finished:
            async for _ in result.stream_events():
                pass
        return result
    if isinstance(result, RunResultStreaming):
        async for _ in result.stream_events():
            pass
    return result


async def run_agent(
    agent: Agent[Any],
    input: RunInput,
    session: Any = None,
    stream: bool = False,
    *,
    store: Store | None = None,
    run_id: str | None = None,
    run_config: RunConfig | None = None,
    context: Any = None,
    max_turns: int | None = None,
    model_provider: ModelProvider | None = None,
    durable: bool = True,
) -> Any:
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
    input_json = _input_json(input)  # an input the store cannot hold is refused before anything is stored
    store = resolve_store(store)
    await store.open()
    settings = lease.lease_settings()
    base = 0
    new_run_id = False
    if run_id is not None and isinstance(input, RunState) and await _exists(store, run_id):
        await _claim(store, run_id)
        async with store.transaction() as conn:  # the caller's state (and decisions) is where recovery starts
            base = await run_records.insert_snapshot(conn, run_id, "checkpoint", encode_state(input))
            await session_watermark(conn, run_id, session_id)
    else:
        new_run_id = run_id is None
        run_id = run_id or uuid.uuid4().hex
        if isinstance(input, RunState):  # recovery starts from a checkpoint, as it has no input to start from
            async with store.transaction() as conn:
                await lease.insert_run(
                    conn, run_id, agent.name, session_id, None, current_owner(), settings, journaled=durable,
                    max_turns=max_turns,
                )
                base = await run_records.insert_snapshot(conn, run_id, "checkpoint", encode_state(input))
                await session_watermark(conn, run_id, session_id)
        elif not new_run_id:  # a fresh id cannot collide: its row goes in with the run's first commit
            async with store.connection() as conn:
                await lease.insert_run(
                    conn, run_id, agent.name, session_id, input_json, current_owner(), settings,
                    journaled=durable, max_turns=max_turns,
                )
    config = _with_provider(run_config, model_provider)
    run = prepare_run(agent, config, store, run_id, current_owner(), base, durable=durable, stream=stream)
    if new_run_id and not isinstance(input, RunState):
        run.writer.add_run(
            agent.name, session_id, input_json, settings.duration, journaled=durable, max_turns=max_turns
        )
    if isinstance(input, RunState) and durable:  # bound to the caller's agents: bind it to the journaled copies
        input = await decode_state(run.instrumented.agent, encode_state(input).text)
    return await execute(
        run, input, session=session, stream=stream, context=context, max_turns=max_turns, settings=settings
    )


async def resume_run(
    agent: Agent[Any],
    run_id: str,
    *,
    store: Store | None = None,
    session: Any = None,
    stream: bool = False,
    run_config: RunConfig | None = None,
    max_turns: int | None = None,
    model_provider: ModelProvider | None = None,
) -> Any:
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
        from timestep.recovery import recover

        return await recover(
            agent, run_id, store=store, session=session, stream=stream, run_config=run_config,
            max_turns=max_turns, model_provider=model_provider,
        )
    run = await _claim(store, run_id)
    config = _with_provider(run_config, model_provider)
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


def apply_decisions(state: RunState[Any, Any], decisions: dict[str, run_records.ToolCallRow]) -> None:
    """Approve and reject the state's interruptions as decided in the store."""
    for item in state.get_interruptions():
        call = decisions.get(str(_call_id(item.raw_item)))
        if call is not None and call.decision == "approved":
            state.approve(item)
        elif call is not None and call.decision == "rejected":
            state.reject(item, rejection_message=call.decision_message)


@dataclasses.dataclass
class PreparedRun:
    """One attempt at a run: its writer, recorder and journal, and its journaled copy of the agent graph."""

    writer: RunWriter
    recorder: RunRecorder
    journal: Journal
    instrumented: Instrumented
    session_id: str | None = None


def prepare_run(
    agent: Agent[Any], run_config: RunConfig, store: Store, run_id: str, owner: str, base: int, *,
    durable: bool = True, stream: bool = False,
) -> PreparedRun:
    """Wire an attempt: writes go behind the run when it is journaled and not streamed (see ``RunWriter``)."""
    writer = RunWriter(store, run_id, owner, write_behind=durable and not stream)
    recorder = RunRecorder(writer, _model_describer(run_config), journaled=durable)
    journal = Journal(writer, recorder, base=base)
    if not durable:
        return PreparedRun(writer, recorder, journal, Instrumented(agent, run_config, []))
    return PreparedRun(writer, recorder, journal, instrument(agent, run_config, journal))


async def execute(
    run: PreparedRun, input: RunInput, *, session: Any, stream: bool, context: Any, max_turns: int | None,
    settings: lease.LeaseSettings | None = None,
) -> Any:
    """Run a prepared attempt with its lease renewed until it stops."""
    recorder, writer, run_id = run.recorder, run.writer, run.writer.run_id
    run.session_id = getattr(session, "session_id", None) if isinstance(session, TimestepSession) else None
    options: dict[str, Any] = {
        "context": context, "hooks": recorder, "run_config": run.instrumented.run_config, "session": session,
    }
    if max_turns is not None:
        options["max_turns"] = max_turns
    def lost() -> None:
        writer.lost = True

    heartbeat = lease.Heartbeat(writer.store, run_id, writer.owner, settings or lease.lease_settings(), on_lost=lost)
    heartbeat.start()
    agent = run.instrumented.agent
    token = current_run_id.set(run_id)
    writer_token = current_run_writer.set(writer)
    try:
        if stream:
            streamed = Runner.run_streamed(agent, input, **options)
            return TimestepStreamingResult(
                streamed, run_id,
                finish=lambda: _stopped(heartbeat, writer, _finish(run, streamed)),
                fail=lambda exc: _stopped(heartbeat, writer, _fail(writer, exc)),
            )
        try:
            result = await Runner.run(agent, input, **options)
            await _stopped(heartbeat, writer, _finish(run, result))
        except BaseException as exc:
            failure = await _stopped(heartbeat, writer, _fail(writer, exc))
            if failure is exc:
                raise
            raise failure from failure.__cause__
        return TimestepRunResult(result, run_id)
    finally:
        current_run_writer.reset(writer_token)
        current_run_id.reset(token)


async def _stopped(heartbeat: lease.Heartbeat, writer: RunWriter, outcome: Awaitable[_T]) -> _T:
    """Stop renewing the lease, store the outcome, and give the writer's connection back."""
    await heartbeat.stop()
    try:
        return await outcome
    finally:
        await writer.close()


async def _finish(run: PreparedRun, result: RunResult | RunResultStreaming) -> None:
    """Commit the run's outcome with its last writes: pending calls and snapshot, or final output and snapshot."""
    writer = run.writer
    writer.commit_now()  # what is queued goes to the store while the snapshot is encoded
    for item in result.new_items:
        if isinstance(item, ToolCallOutputItem | HandoffOutputItem):
            run.recorder.finish_call(str(_call_id(item.raw_item)), _raw_output(item.raw_item), "completed")
    snapshot = encode_state(result.to_state())
    if result.interruptions:
        writer.add_outcome("interrupted", snapshot, session_id=run.session_id, pending=[
            (str(_call_id(i.raw_item)), i.name or "", i.agent.name, str(_field(i.raw_item, "arguments") or ""))
            for i in result.interruptions
        ])
    else:
        writer.add_outcome(
            "completed", snapshot, session_id=run.session_id,
            final_output_json=json_text(result.final_output, "final output"),
        )
    await writer.flush()


async def _fail(writer: RunWriter, exc: BaseException) -> BaseException:
    """Store the run as failed (cancelled, when it was) with its error, and return the error its caller gets.

    That is ``exc``, unless what stopped the run is a write timestep refused or could not commit, or the loss
    of the run to another process: the SDK wraps errors raised inside tools (``UserError``), and the caller
    gets the ``TimestepError`` that says what happened. Stored errors have URL passwords redacted."""
    failure = _cause(exc, UnstorableError, RecordingError, LeaseLostError) or exc
    if isinstance(failure, LeaseLostError):
        return failure  # the run belongs to another process now: leave its row alone
    status = "cancelled" if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt) else "failed"
    await writer.stop(status, error_text(failure))
    return failure


def _cause(exc: BaseException, *kinds: type[TimestepError]) -> TimestepError | None:
    """The first error of ``kinds`` in ``exc`` and the errors it was raised from."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kinds):
            return current
        seen.add(id(current))
        current = current.__cause__
    return None


async def _claim(store: Store, run_id: str) -> run_records.RunRow:
    """Take a run for this process in one transaction, or explain why it cannot be resumed."""
    async with store.transaction() as conn:
        run = await run_records.get_run(conn, run_id, for_update=True)
        if run is None:
            raise RunNotFoundError(f"no run {run_id!r} in {store!r}; list runs with `timestep runs list`")
        if run.status == "running" and owner_is_alive(run.owner):
            raise AlreadyResumingError(
                f"run {run_id} is already running or resuming in process {run.owner}; wait for it to stop"
            )
        if run.status in run_records.FINISHED_STATUSES:
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
        await run_records.set_run_status(conn, run_id, "running", owner=current_owner())
        await lease.start(conn, run_id, lease.lease_settings())
    return run


async def _release(store: Store, run_id: str, previous_status: str) -> None:
    """Give a claimed run back when resuming it failed before it started."""
    async with store.connection() as conn:
        await run_records.set_run_status(conn, run_id, previous_status)


async def _exists(store: Store, run_id: str) -> bool:
    async with store.connection() as conn:
        return await run_records.get_run(conn, run_id) is not None


def _with_provider(run_config: RunConfig | None, model_provider: ModelProvider | None) -> RunConfig:
    """The caller's run config, with timestep's model routing when the caller chose no provider."""
    if model_provider is not None:
        return dataclasses.replace(run_config or RunConfig(), model_provider=model_provider)
    if run_config is not None:
        return run_config
    from timestep.models import MultiModelProvider

    return RunConfig(model_provider=MultiModelProvider())


def _model_describer(run_config: RunConfig) -> Callable[[Agent[Any]], tuple[str | None, str | None]]:
    """How usage is attributed: the provider and model name behind each agent's model."""
    cache: dict[str, tuple[str | None, str | None]] = {}

    def describe(agent: Agent[Any]) -> tuple[str | None, str | None]:
        if agent.name not in cache:
            model = run_config.model or agent.model
            if isinstance(model, JournalingModel):
                model = model.wrapped_model
            if model is None or isinstance(model, str):
                resolve = getattr(run_config.model_provider, "resolve", None)
                if callable(resolve):
                    resolved = resolve(model)
                    cache[agent.name] = (resolved.provider, resolved.model)
                else:
                    cache[agent.name] = (type(run_config.model_provider).__name__, model)
            else:
                cache[agent.name] = (type(model).__name__, getattr(model, "model", None))
        return cache[agent.name]

    return describe


def _input_json(input: RunInput) -> str | None:
    return None if isinstance(input, RunState) else json_text(input, "input")


def _field(raw: Any, name: str) -> Any:
    return raw.get(name) if isinstance(raw, dict) else getattr(raw, name, None)


def _call_id(raw: Any) -> Any:
    return _field(raw, "call_id")


def _raw_output(raw: Any) -> Any:
    return _field(raw, "output")

