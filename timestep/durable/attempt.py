"""One attempt at a run: the writer, hooks and journal wired around a journaled copy of the agent graph, run
by the SDK with its lease renewed, and its outcome (or failure) committed when it stops.

``run_agent`` starts the first attempt, ``resume_run`` one from an approval snapshot, ``recover`` one that
replays the journal of an attempt whose process died; all three end here.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from agents import Agent, RunConfig, Runner, RunResult, RunResultStreaming, RunState, TResponseInputItem
from agents.items import HandoffOutputItem, ToolCallOutputItem
from agents.models.interface import ModelProvider

from timestep.durable import lease, run_records
from timestep.durable.hooks import RunRecorder, json_text
from timestep.durable.journal import Journal
from timestep.durable.replay import Instrumented, JournalingModel, instrument
from timestep.durable.snapshots import encode_state
from timestep.durable.statuses import RunStatus
from timestep.durable.writer import RunWriter, current_run_writer
from timestep.errors import LeaseLostError, RecordingError, TimestepError, UnstorableError
from timestep.redaction import error_text
from timestep.results import TimestepRunResult, TimestepStreamingResult
from timestep.session import TimestepSession, current_run_id
from timestep.store import Store

__all__ = ["Input", "PreparedRun", "apply_decisions", "execute", "input_json", "prepare_run", "with_provider"]

TContext = TypeVar("TContext")
Input = str | list[TResponseInputItem] | RunState[TContext, Agent[TContext]]
"""What a run starts from: text, input items, or the state of a run to continue."""
_T = TypeVar("_T")


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
    run: PreparedRun, input: Input[Any], *, session: Any, stream: bool, context: Any, max_turns: int | None,
    settings: lease.LeaseSettings | None = None,
) -> TimestepRunResult | TimestepStreamingResult:
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
        writer.add_outcome(RunStatus.INTERRUPTED, snapshot, session_id=run.session_id, pending=[
            (str(_call_id(i.raw_item)), i.name or "", i.agent.name, str(_field(i.raw_item, "arguments") or ""))
            for i in result.interruptions
        ])
    else:
        writer.add_outcome(
            RunStatus.COMPLETED, snapshot, session_id=run.session_id,
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
    cancelled = isinstance(exc, asyncio.CancelledError | KeyboardInterrupt)
    status = RunStatus.CANCELLED if cancelled else RunStatus.FAILED
    await writer.stop(status, error_text(failure))
    if isinstance(failure, TimestepError):
        failure.run_id = writer.run_id
    else:  # the caller's own error: named in its traceback
        failure.add_note(f"timestep stored run {writer.run_id} as {status}")
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


def with_provider(run_config: RunConfig | None, model_provider: ModelProvider | None) -> RunConfig:
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


def input_json(input: Input[Any]) -> str | None:
    return None if isinstance(input, RunState) else json_text(input, "input")


def _field(raw: Any, name: str) -> Any:
    return raw.get(name) if isinstance(raw, dict) else getattr(raw, name, None)


def _call_id(raw: Any) -> Any:
    return _field(raw, "call_id")


def _raw_output(raw: Any) -> Any:
    return _field(raw, "output")
