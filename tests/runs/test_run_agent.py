"""run_agent, approve/reject and resume_run on both engines, with the real SDK and a scripted model."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from agents import Agent

from tests.runs.scenario import EXECUTED, booking_turns, host
from tests.support.queries import fetch
from timestep import approve, consume_result, reject, resume_run, run_agent
from timestep.errors import (
    AlreadyDecidedError,
    AlreadyResumingError,
    RunNotFoundError,
    RunNotResumableError,
    RunStateError,
    ToolCallNotFoundError,
)
from timestep.session import TimestepSession
from timestep.store import Store
from timestep.testing import ScriptedModel


@pytest.fixture(autouse=True)
def clear_executed() -> None:
    EXECUTED.clear()


async def run_status(store: Store, run_id: str) -> str:
    rows = await fetch(store, "SELECT status FROM timestep_runs WHERE run_id = %s", run_id)
    return str(rows[0][0])


async def test_interrupt_approve_resume_records_everything(store: Store) -> None:
    agent = host(booking_turns())
    session = TimestepSession("user-42", store=store)
    result = await run_agent(agent, "Book a table for two", session=session, store=store)
    assert [i.name for i in result.interruptions] == ["book"]
    assert await run_status(store, result.run_id) == "interrupted"
    calls = await fetch(store, "SELECT call_id, status, needs_approval FROM timestep_tool_calls"
                               " WHERE run_id = %s ORDER BY call_id", result.run_id)
    assert calls == [("b1", "pending_approval", True), ("w1", "completed", False)]
    kinds = await fetch(store, "SELECT kind FROM timestep_run_snapshots WHERE run_id = %s", result.run_id)
    assert kinds == [("interrupted",)]

    assert await approve(result.run_id, by="maria", store=store) == ["b1"]
    resumed = await resume_run(agent, result.run_id, store=store)
    assert resumed.final_output == "Booked for two at 19:00."
    assert EXECUTED == [("weather", {"city": "Lyon"}), ("book", {"party": 2, "when": "19:00"})]
    assert await run_status(store, result.run_id) == "completed"
    calls = await fetch(store, "SELECT call_id, status, output, decision, decided_by FROM timestep_tool_calls"
                               " WHERE run_id = %s ORDER BY call_id", result.run_id)
    assert calls == [("b1", "completed", "booked 2 at 19:00", "approved", "maria"),
                     ("w1", "completed", "sunny in Lyon", None, None)]
    usage = await fetch(store, "SELECT sum(requests), sum(input_tokens), sum(output_tokens), sum(cached_tokens),"
                               " sum(reasoning_tokens) FROM timestep_usage WHERE run_id = %s", result.run_id)
    assert [int(v) for v in usage[0]] == [3, 60, 15, 4, 2]
    final = await fetch(store, "SELECT final_output::text FROM timestep_runs WHERE run_id = %s", result.run_id)
    assert orjson.loads(final[0][0]) == "Booked for two at 19:00."
    kinds = await fetch(store, "SELECT kind FROM timestep_run_snapshots WHERE run_id = %s ORDER BY id", result.run_id)
    assert kinds == [("interrupted",), ("final",)]


async def test_session_items_are_not_duplicated_across_interrupt_and_resume(store: Store) -> None:
    """Regression: the SDKs once wrote the pre-interruption items again on resume."""
    agent = host(booking_turns())
    session = TimestepSession("dup-check", store=store)
    result = await run_agent(agent, "Book a table for two", session=session, store=store)
    await approve(result.run_id, store=store)
    await resume_run(agent, result.run_id, store=store)  # the session comes back from the run row
    items = await session.get_items()
    call_ids = [i.get("call_id") for i in items if i.get("type") == "function_call"]
    outputs = [i.get("call_id") for i in items if i.get("type") == "function_call_output"]
    assert call_ids == ["w1", "b1"] and outputs == ["w1", "b1"]
    assert [i.get("role") for i in items if i.get("role")] == ["user", "assistant"]
    tagged = await fetch(store, "SELECT DISTINCT run_id FROM timestep_session_items WHERE session_id = 'dup-check'")
    assert tagged == [(result.run_id,)]


async def test_rejection_message_reaches_the_model(store: Store) -> None:
    agent = host(booking_turns())
    result = await run_agent(agent, "Book a table for two", store=store)
    await reject(result.run_id, "b1", message="not today", by="ops", store=store)
    resumed = await resume_run(agent, result.run_id, store=store)
    assert resumed.final_output == "Booked for two at 19:00."  # scripted; what matters is what the model saw
    assert ("book", {"party": 2, "when": "19:00"}) not in EXECUTED
    model = agent.model
    assert isinstance(model, ScriptedModel)
    last_input = model.calls[-1].input
    assert isinstance(last_input, list)
    outputs = [i for i in last_input if isinstance(i, dict) and i.get("type") == "function_call_output"]
    assert any(o["call_id"] == "b1" and "not today" in str(o["output"]) for o in outputs)
    rows = await fetch(store, "SELECT status, decision_message FROM timestep_tool_calls"
                              " WHERE run_id = %s AND call_id = 'b1'", result.run_id)
    assert rows == [("rejected", "not today")]


async def test_two_pending_approvals_in_one_turn(store: Store) -> None:
    agent = host([
        ScriptedModel.turn(ScriptedModel.tool_call("book", {"party": 2, "when": "19:00"}, call_id="b1"),
                           ScriptedModel.tool_call("book", {"party": 4, "when": "20:00"}, call_id="b2")),
        ScriptedModel.turn(ScriptedModel.text("One booked.")),
    ])
    result = await run_agent(agent, "Two tables", store=store)
    assert sorted(i.raw_item.call_id for i in result.interruptions) == ["b1", "b2"]
    await approve(result.run_id, "b2", store=store)
    with pytest.raises(RunNotResumableError, match="b1"):
        await resume_run(agent, result.run_id, store=store)
    assert await run_status(store, result.run_id) == "interrupted"
    await reject(result.run_id, "b1", store=store)
    resumed = await resume_run(agent, result.run_id, store=store)
    assert resumed.final_output == "One booked."
    assert EXECUTED == [("book", {"party": 4, "when": "20:00"})]


async def test_streaming_runs_record_and_resume(store: Store) -> None:
    agent = host(booking_turns())
    streamed = await run_agent(agent, "Book a table for two", stream=True, store=store)
    events = [event.type async for event in streamed.stream_events()]
    assert "raw_response_event" in events
    assert await consume_result(streamed) is streamed
    assert await run_status(store, streamed.run_id) == "interrupted"
    await approve(streamed.run_id, store=store)
    resumed = await consume_result(await resume_run(agent, streamed.run_id, stream=True, store=store))
    assert resumed.final_output == "Booked for two at 19:00."
    assert await run_status(store, streamed.run_id) == "completed"
    usage = await fetch(store, "SELECT sum(input_tokens), sum(cached_tokens) FROM timestep_usage WHERE run_id = %s",
                        streamed.run_id)
    assert [int(v) for v in usage[0]] == [60, 4]


async def test_bad_ids_and_repeated_decisions_are_refused(store: Store) -> None:
    agent = host(booking_turns())
    with pytest.raises(RunNotFoundError):
        await approve("no-such-run", store=store)
    with pytest.raises(RunNotFoundError):
        await resume_run(agent, "no-such-run", store=store)
    result = await run_agent(agent, "Book a table for two", store=store)
    with pytest.raises(ToolCallNotFoundError, match="pending: b1"):
        await approve(result.run_id, "zzz", store=store)
    with pytest.raises(ToolCallNotFoundError):
        await reject(result.run_id, "w1", store=store)  # ran without needing approval
    await approve(result.run_id, "b1", by="a", store=store)
    with pytest.raises(AlreadyDecidedError, match="already approved by a"):
        await reject(result.run_id, "b1", store=store)
    await resume_run(agent, result.run_id, store=store)
    with pytest.raises(RunNotResumableError, match="completed"):
        await resume_run(agent, result.run_id, store=store)


async def test_snapshot_for_another_agent_graph_changes_nothing(store: Store) -> None:
    result = await run_agent(host(booking_turns()), "Book a table for two", store=store)
    await approve(result.run_id, store=store)
    stranger = Agent(name="stranger", model=ScriptedModel([]))
    with pytest.raises(RunStateError, match="does not load with agent 'stranger'"):
        await resume_run(stranger, result.run_id, store=store)
    assert await run_status(store, result.run_id) == "interrupted"
    assert EXECUTED == [("weather", {"city": "Lyon"})]


async def test_two_concurrent_resumes_one_wins_and_the_tool_runs_once(store: Store) -> None:
    agent = host(booking_turns())
    result = await run_agent(agent, "Book a table for two", store=store)
    await approve(result.run_id, store=store)
    outcomes = await asyncio.gather(
        resume_run(agent, result.run_id, store=store), resume_run(agent, result.run_id, store=store),
        return_exceptions=True,
    )
    assert sum(isinstance(o, AlreadyResumingError) for o in outcomes) == 1
    assert EXECUTED.count(("book", {"party": 2, "when": "19:00"})) == 1


async def test_a_failing_run_is_stored_as_failed(store: Store) -> None:
    agent = host([])  # the script is empty: the first model call fails
    with pytest.raises(Exception, match="script"):
        await run_agent(agent, "hello", store=store)
    rows = await fetch(store, "SELECT status, error FROM timestep_runs")
    assert rows[0][0] == "failed" and "ScriptExhausted" in rows[0][1]
