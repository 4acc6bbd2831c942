"""Recovery in one process, on both engines: a run "dies" (its model raises past the SDK at a chosen step, and
its row is handed to a dead owner, as a SIGKILL leaves it), then ``recover`` finishes it from the journal."""

from __future__ import annotations

import asyncio
import socket
import subprocess
from typing import Any

import orjson
import pytest
from agents import Agent, LocalShellTool, RunContextWrapper, function_tool
from agents.items import ModelResponse
from agents.tool import ToolOutputText
from agents.usage import Usage
from openai.types.responses import ResponseReasoningItem
from openai.types.responses.response_reasoning_item import Summary
from openai.types.responses.response_usage import InputTokensDetails, OutputTokensDetails

from tests.runs.scenario import booking_turns, host
from tests.support.queries import fetch
from timestep import approve, consume_result, idempotency_key, recover, recover_orphaned_runs, resume_run, run_agent
from timestep.durable.hooks import RunRecorder
from timestep.durable.journal import (
    Journal,
    decode_model_response,
    decode_tool_output,
    encode_model_response,
    encode_tool_output,
)
from timestep.durable.lease import Heartbeat, LeaseSettings
from timestep.durable.ownership import current_owner
from timestep.durable.writer import RunWriter
from timestep.errors import AlreadyResumingError, LeaseLostError, RecoveryRefusedError, RunNotResumableError
from timestep.session import TimestepSession
from timestep.store import Store
from timestep.testing import ScriptedModel, TurnUsage

TURNS = 6


class Crash(BaseException):
    """Stands for the process dying: nothing in the SDK or timestep handles it."""


class CountingModel(ScriptedModel):
    """Answers by how many tool outputs it was sent (as a model would), counts requests, can crash at one."""

    def __init__(self, crash_at: int | None = None, crash_after: bool = False) -> None:
        super().__init__([
            *(ScriptedModel.turn(ScriptedModel.tool_call("work", {"k": t}, call_id=f"c{t}"),
                                 usage=TurnUsage(input_tokens=10 + t, output_tokens=2, cached_tokens=t))
              for t in range(TURNS)),
            ScriptedModel.turn(ScriptedModel.text("finished"), usage=TurnUsage(input_tokens=50, output_tokens=4)),
        ], id_prefix="rec")
        self.crash_at = crash_at
        self.requests: list[int] = []

    def _serve(self) -> Any:
        last = self.calls[-1].input
        index = sum(1 for i in last if isinstance(i, dict) and i.get("type") == "function_call_output")
        self.requests.append(index)
        if index == self.crash_at:
            raise Crash()
        self._next = index
        return super()._serve()


EXECUTED: list[tuple[int, str]] = []


@function_tool
def work(ctx: RunContextWrapper[Any], k: int) -> str:
    """Do unit k of the work."""
    EXECUTED.append((k, idempotency_key(ctx)))  # type: ignore[arg-type]
    return f"unit {k} done"


def worker(model: CountingModel, **extra: Any) -> Agent[Any]:
    return Agent(name="worker", instructions="Work.", model=model, **{"tools": [work], **extra})


@pytest.fixture(autouse=True)
def clear_executed() -> None:
    EXECUTED.clear()


def dead_owner() -> str:
    child = subprocess.Popen(["true"])
    child.wait()
    return f"{socket.gethostname()}:{child.pid}:1"


async def die(store: Store, run_id: str, owner: str | None = None, lease: str = "now() + interval '1 hour'") -> None:
    """Leave the run as a killed process leaves it: running, owned by a process that is gone."""
    async with store.connection() as conn:
        await conn.execute(
            f"UPDATE timestep_runs SET status = 'running', error = NULL, finished_at = NULL, owner = %s,"
            f" lease_until = {lease} WHERE run_id = %s",
            (owner or dead_owner(), run_id),
        )


async def crashed_run(store: Store, crash_at: int, session: bool = True, stream: bool = False) -> str:
    model = CountingModel(crash_at=crash_at)
    with pytest.raises(Crash):
        result = await run_agent(worker(model), "Work.", store=store, stream=stream, run_id=f"crash-{crash_at}",
                                 session=TimestepSession(f"crash-{crash_at}", store=store) if session else None)
        await consume_result(result)
    await die(store, f"crash-{crash_at}")
    return f"crash-{crash_at}"


async def outcome(store: Store, run_id: str) -> dict[str, Any]:
    return {
        "run": await fetch(store, "SELECT status, final_output::text FROM timestep_runs WHERE run_id = %s", run_id),
        "items": await TimestepSession(run_id, store=store).get_items(),
        "calls": await fetch(store, "SELECT call_id, tool_name, agent_name, arguments, output, status"
                                    " FROM timestep_tool_calls WHERE run_id = %s ORDER BY call_id", run_id),
        "usage": await fetch(store, "SELECT agent_name, provider, model, requests, input_tokens, output_tokens,"
                                    " cached_tokens FROM timestep_usage WHERE run_id = %s ORDER BY id", run_id),
    }


async def baseline(store: Store, stream: bool = False) -> dict[str, Any]:
    run_id = f"baseline-{stream}"
    result = await run_agent(worker(CountingModel()), "Work.", store=store, run_id=run_id, stream=stream,
                             session=TimestepSession(run_id, store=store))
    await consume_result(result)
    return await outcome(store, run_id)


def test_model_responses_and_tool_outputs_round_trip() -> None:
    usage = Usage(requests=1, input_tokens=12, output_tokens=7, total_tokens=19,
                  input_tokens_details=InputTokensDetails(cached_tokens=3, cache_write_tokens=0),
                  output_tokens_details=OutputTokensDetails(reasoning_tokens=2))
    response = ModelResponse(
        output=[
            ResponseReasoningItem(id="rs_1", type="reasoning", summary=[Summary(text="think", type="summary_text")]),
            ScriptedModel.tool_call("work", {"k": 1, "note": "café"}, call_id="c1", item_id="fc_1"),
            ScriptedModel.text("done", item_id="msg_1"),
        ],
        usage=usage, response_id="resp_1", request_id="req_1",
    )
    rebuilt = decode_model_response(orjson.loads(encode_model_response(response)))
    assert [type(i) for i in rebuilt.output] == [type(i) for i in response.output]
    for before, after in zip(response.output, rebuilt.output, strict=True):
        assert after.model_dump(exclude_unset=True) == before.model_dump(exclude_unset=True)
        assert after.model_fields_set == before.model_fields_set
    assert rebuilt.usage == response.usage
    assert (rebuilt.response_id, rebuilt.request_id) == ("resp_1", "req_1")
    for output in ("text", {"a": [1, 2]}, 3, ToolOutputText(text="hi")):
        assert decode_tool_output(orjson.loads(encode_tool_output(output))) == output
    assert str(decode_tool_output(orjson.loads(encode_tool_output(object())))).startswith("<object")


@pytest.mark.parametrize("crash_at", [0, 3, TURNS])
async def test_recovery_replays_the_journal_and_matches_an_uninterrupted_run(store: Store, crash_at: int) -> None:
    expected = await baseline(store)
    EXECUTED.clear()
    run_id = await crashed_run(store, crash_at)
    assert len(EXECUTED) == crash_at
    model = CountingModel()
    result = await recover(worker(model), run_id, store=store)
    assert result.final_output == "finished"
    assert model.requests == list(range(crash_at, TURNS + 1))  # journaled steps are not requested again
    assert [k for k, _ in EXECUTED] == list(range(TURNS))  # each tool ran once across both attempts
    assert all(key == f"{run_id}:c{k}" for k, key in EXECUTED)
    assert await outcome(store, run_id) == {**expected, "run": [("completed", '"finished"')]}


@pytest.mark.parametrize(("first", "then"), [(False, True), (True, True), (True, False)])
async def test_streamed_runs_recover_and_replayed_steps_stream_their_recorded_response(
    store: Store, first: bool, then: bool
) -> None:
    expected = await baseline(store, stream=then)
    run_id = await crashed_run(store, 4, stream=first)
    model = CountingModel()
    streamed = await recover(worker(model), run_id, store=store, stream=then)
    if then:
        events = [e async for e in streamed.stream_events()]
        completed = [e.data.response.id for e in events
                     if e.type == "raw_response_event" and e.data.type == "response.completed"]
        assert completed == [f"resp_rec_{n}" for n in range(TURNS + 1)]  # replayed ones included
    assert (await consume_result(streamed)).final_output == "finished"
    assert model.requests == [4, 5, 6]
    got = await outcome(store, run_id)
    assert got["items"] == expected["items"] and got["calls"] == expected["calls"]
    assert got["usage"] == expected["usage"]


async def test_two_recoverers_racing_for_one_dead_run_exactly_one_wins(store: Store) -> None:
    run_id = await crashed_run(store, 2)
    outcomes = await asyncio.gather(
        recover(worker(CountingModel()), run_id, store=store), recover(worker(CountingModel()), run_id, store=store),
        return_exceptions=True,
    )
    assert sorted(type(o).__name__ for o in outcomes) == ["AlreadyResumingError", "TimestepRunResult"]
    assert [k for k, _ in EXECUTED] == list(range(TURNS))


async def test_a_live_owner_or_an_unexpired_lease_keeps_the_run(store: Store) -> None:
    run_id = await crashed_run(store, 1)
    await die(store, run_id, owner=current_owner())
    with pytest.raises(AlreadyResumingError, match="alive"):
        await recover(worker(CountingModel()), run_id, store=store)
    await die(store, run_id, owner="another-host:12:34")  # another host's process: only its lease tells
    with pytest.raises(AlreadyResumingError):
        await recover(worker(CountingModel()), run_id, store=store)
    await die(store, run_id, owner="another-host:12:34", lease="now() - interval '1 second'")
    assert (await recover(worker(CountingModel()), run_id, store=store)).final_output == "finished"


async def test_runs_the_journal_cannot_replay_are_refused_and_left_as_they_were(store: Store) -> None:
    run_id = await crashed_run(store, 1)
    shell = LocalShellTool(executor=lambda request: "")
    with pytest.raises(RecoveryRefusedError, match="local_shell"):
        await recover(worker(CountingModel(), tools=[work, shell]), run_id, store=store)
    assert (await fetch(store, "SELECT status FROM timestep_runs WHERE run_id = %s", run_id)) == [("running",)]
    model = CountingModel(crash_at=2)
    with pytest.raises(Crash):
        await run_agent(worker(model), "Work.", store=store, run_id="plain", durable=False)
    await die(store, "plain")
    with pytest.raises(RecoveryRefusedError, match="durable=False"):
        await recover(worker(CountingModel()), "plain", store=store)


async def test_recover_orphaned_runs_at_start_up(store: Store) -> None:
    dead = await crashed_run(store, 2)
    alive = await crashed_run(store, 3)
    await die(store, alive, owner=current_owner())
    results = await recover_orphaned_runs({"worker": worker(CountingModel())}, store=store)
    assert [r.run_id for r in results] == [dead]
    statuses = dict(await fetch(store, "SELECT run_id, status FROM timestep_runs"))
    assert statuses == {dead: "completed", alive: "running"}


async def test_a_run_dead_while_waiting_for_approval_resumes_from_its_snapshot(store: Store) -> None:
    agent = host(booking_turns())
    result = await run_agent(agent, "Book a table for two", store=store, session=TimestepSession("s", store=store))
    await approve(result.run_id, store=store)
    resumed = await recover(agent, result.run_id, store=store)  # interrupted: resumed as resume_run does
    assert resumed.final_output == "Booked for two at 19:00."
    with pytest.raises(RunNotResumableError, match="completed"):
        await recover(agent, result.run_id, store=store)


async def test_a_run_killed_while_resuming_is_recovered_from_its_snapshot_and_journal(store: Store) -> None:
    from tests.runs.scenario import EXECUTED as BOOKED

    BOOKED.clear()
    turns = booking_turns()
    result = await run_agent(host(turns), "Book a table for two", store=store,
                             session=TimestepSession("resumed", store=store))
    await approve(result.run_id, store=store)
    crashing = CountingModel(crash_at=-1)
    crashing._serve = lambda: (_ for _ in ()).throw(Crash())  # type: ignore[method-assign]
    with pytest.raises(Crash):  # the approved booking runs and is journaled, then the model call dies
        await resume_run(host([]).clone(model=crashing), result.run_id, store=store)
    await die(store, result.run_id)
    assert BOOKED.count(("book", {"party": 2, "when": "19:00"})) == 1
    done = await resume_run(host(turns[2:]), result.run_id, store=store)  # resume_run goes through recovery
    assert done.final_output == "Booked for two at 19:00."
    assert BOOKED.count(("book", {"party": 2, "when": "19:00"})) == 1
    items = await TimestepSession("resumed", store=store).get_items()
    assert [i.get("call_id") for i in items if i.get("type") == "function_call_output"] == ["w1", "b1"]


async def test_resume_run_of_a_run_dead_before_any_snapshot_points_to_recover(store: Store) -> None:
    run_id = await crashed_run(store, 2)
    with pytest.raises(RunNotResumableError, match=r"no snapshot.*timestep.recover"):
        await resume_run(worker(CountingModel()), run_id, store=store)


async def test_a_run_continued_from_a_callers_state_recovers_from_that_state(store: Store) -> None:
    from tests.runs.scenario import EXECUTED as BOOKED

    BOOKED.clear()
    turns = booking_turns()
    result = await run_agent(host(turns), "Book a table for two", store=store)
    await approve(result.run_id, store=store)
    state = result.state
    state.approve(state.get_interruptions()[0])
    crashing = CountingModel()
    crashing._serve = lambda: (_ for _ in ()).throw(Crash())  # type: ignore[method-assign]
    with pytest.raises(Crash):
        await run_agent(host([]).clone(model=crashing), state, run_id=result.run_id, store=store)
    await die(store, result.run_id)
    done = await recover(host(turns[2:]), result.run_id, store=store)
    assert done.final_output == "Booked for two at 19:00."
    assert BOOKED.count(("book", {"party": 2, "when": "19:00"})) == 1
    kinds = await fetch(store, "SELECT kind FROM timestep_run_snapshots WHERE run_id = %s ORDER BY id", result.run_id)
    assert kinds == [("interrupted",), ("checkpoint",), ("final",)]


async def test_the_heartbeat_renews_the_lease_and_notices_a_takeover(store: Store) -> None:
    run_id = await crashed_run(store, 1)
    await die(store, run_id, owner="me", lease="now() + interval '1 second'")
    writer = RunWriter(store, run_id, "me", write_behind=True)
    journal = Journal(writer, RunRecorder(writer, lambda a: (None, None), journaled=True))
    heartbeat = Heartbeat(store, run_id, "me", LeaseSettings(duration=60, interval=0.05),
                          on_lost=lambda: setattr(writer, "lost", True))
    heartbeat.start()
    await asyncio.sleep(0.3)
    left = await fetch(store, "SELECT lease_until - now() > interval '30 seconds' FROM timestep_runs WHERE run_id = %s",
                       run_id)
    assert left == [(True,)]
    await die(store, run_id, owner="someone-else:1:1")
    await asyncio.sleep(0.3)
    await heartbeat.stop()
    assert writer.lost
    with pytest.raises(LeaseLostError, match="no longer owned"):
        await journal.record_tool_result("c9", "x", False)
    assert await fetch(store, "SELECT 1 FROM timestep_run_steps WHERE run_id = %s AND step_key = 'c9'", run_id) == []


async def test_running_rows_no_run_agent_ran_are_not_recovered(store: Store) -> None:
    async with store.connection() as conn:
        await conn.execute(
            "INSERT INTO timestep_runs (run_id, agent_name, status) VALUES ('kept', 'worker', 'running')"
        )
    assert await recover_orphaned_runs(worker(CountingModel()), store=store) == []
    with pytest.raises(RunNotResumableError, match="no lease"):
        await recover(worker(CountingModel()), "kept", store=store)
