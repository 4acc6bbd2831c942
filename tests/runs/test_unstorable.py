"""What a run cannot record ends it ``failed`` with the error stored; what it can (NUL in JSON) is kept as given.

On both engines: a NUL character (U+0000) in the input or in the model's final text is stored faithfully in
the JSON documents (input, final output, session items, journal, snapshot) and read back identical; a NUL in
a tool's text output (a text column) and a value over ``TIMESTEP_MAX_SNAPSHOT_BYTES`` are refused before
they reach the database, and the run ends failed with the error stored and no owner, whether it was started
by ``run_agent``, resumed by ``resume_run`` or recovered by ``recover``.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from agents import Agent, function_tool

from tests.durable.test_recovery import CountingModel, crashed_run
from tests.support.queries import fetch
from timestep import RunStateStore, approve, consume_result, recover, reject, resume_run, run_agent
from timestep.errors import InvalidIdError, SnapshotTooLargeError, TimestepError, UnstorableValueError
from timestep.session import TimestepSession
from timestep.store import Store
from timestep.testing import ScriptedModel

LIMIT = 200_000  # TIMESTEP_MAX_SNAPSHOT_BYTES in the tests of sizes: the same code as 32 MiB, without 32 MiB


def fetching(output: str, *, needs_approval: bool = False, turns: list[Any] | None = None) -> Agent[Any]:
    """An agent whose model calls ``fetch`` once (call ``c1``), which returns ``output``, then answers."""

    @function_tool(needs_approval=needs_approval)
    def fetch() -> str:
        """Fetch the page."""
        return output

    script = turns or [
        ScriptedModel.turn(ScriptedModel.tool_call("fetch", {}, call_id="c1")),
        ScriptedModel.turn(ScriptedModel.text("done")),
    ]
    return Agent(name="reader", instructions="Read.", model=ScriptedModel(script), tools=[fetch])


def answering(text: str) -> Agent[Any]:
    return Agent(name="writer", model=ScriptedModel([ScriptedModel.turn(ScriptedModel.text(text))]))


async def run_row(store: Store, run_id: str) -> tuple[Any, ...]:
    [row] = await fetch(store, "SELECT status, error, owner FROM timestep_runs WHERE run_id = %s", run_id)
    return tuple(row)


async def only_run_id(store: Store) -> str:
    [(run_id,)] = await fetch(store, "SELECT run_id FROM timestep_runs")
    return str(run_id)


async def start(agent: Agent[Any], text: str, store: Store, mode: str, **options: Any) -> Any:
    """``run_agent`` in one of its three ways of recording: journaled, journaled and streamed, or neither."""
    if mode == "streamed":
        return await consume_result(await run_agent(agent, text, store=store, stream=True, **options))
    return await run_agent(agent, text, store=store, durable=mode != "unjournaled", **options)


MODES = ["journaled", "streamed", "unjournaled"]


@pytest.mark.parametrize("mode", MODES)
async def test_a_nul_in_a_tool_output_fails_the_run_with_the_error_stored(store: Store, mode: str) -> None:
    session = TimestepSession("s", store=store)
    with pytest.raises(UnstorableValueError, match=r"NUL character \(U\+0000\)") as raised:
        await start(fetching("before\x00after"), "Read it.", store, mode, session=session)
    assert "c1" in str(raised.value) and "fetch" in str(raised.value)
    status, error, owner = await run_row(store, await only_run_id(store))
    assert (status, owner) == ("failed", None)
    assert "UnstorableValueError" in error and "NUL character (U+0000)" in error and "c1" in error
    # what was recorded before the refusal is there: the call the model asked for, its usage, the user's item
    calls = await fetch(store, "SELECT call_id, tool_name FROM timestep_tool_calls")
    assert [tuple(c) for c in calls] == [("c1", "fetch")]
    assert (await fetch(store, "SELECT count(*) FROM timestep_usage")) == [(1,)]
    assert (await session.get_items())[0] == {"role": "user", "content": "Read it."}


async def test_a_nul_in_the_final_text_is_stored_and_read_back_identical(store: Store) -> None:
    text = "done\x00 and \x00\x00 after"
    session = TimestepSession("s", store=store)
    result = await run_agent(answering(text), "Write.", store=store, session=session)
    assert result.final_output == text
    assert await run_row(store, result.run_id) == ("completed", None, None)
    [(final,)] = await fetch(store, "SELECT final_output::text FROM timestep_runs")
    assert orjson.loads(final) == text
    items = await session.get_items()
    assert items[-1]["content"][0]["text"] == text
    assert (await session.pop_item()) == items[-1]  # the read with bound parameters, too
    state = await RunStateStore(answering(text), run_id=result.run_id, store=store).load()
    assert state.to_json()["generated_items"][-1]["raw_item"]["content"][0]["text"] == text


@pytest.mark.parametrize("given_id", [False, True])  # the run row goes in with the first commit, or at once
async def test_a_nul_in_the_input_is_stored_and_read_back_identical(store: Store, given_id: bool) -> None:
    text = "\x00hello\x00"
    session = TimestepSession("s", store=store)
    result = await run_agent(answering("ok"), text, store=store, session=session,
                             run_id="given" if given_id else None)
    assert await run_row(store, result.run_id) == ("completed", None, None)
    [(stored,)] = await fetch(store, "SELECT input::text FROM timestep_runs")
    assert orjson.loads(stored) == text
    assert (await session.get_items())[0] == {"role": "user", "content": text}


async def test_a_nul_in_a_snapshot_saved_with_bound_parameters_reads_back_identical(store: Store) -> None:
    text = "a\x00b"
    result = await run_agent(answering(text), "Write.", store=store)
    states = RunStateStore(answering(text), run_id="copy", store=store)
    await states.save(result.state)
    assert (await states.load()).to_json()["generated_items"][-1]["raw_item"]["content"][0]["text"] == text


@pytest.mark.parametrize("mode", MODES)
async def test_an_oversize_tool_output_is_refused_before_it_reaches_the_database(
    store: Store, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIMESTEP_MAX_SNAPSHOT_BYTES", str(LIMIT))
    with pytest.raises(UnstorableValueError, match="TIMESTEP_MAX_SNAPSHOT_BYTES") as raised:
        await start(fetching("x" * (LIMIT + 1)), "Read it.", store, mode)
    assert "c1" in str(raised.value)
    status, error, owner = await run_row(store, await only_run_id(store))
    assert (status, owner) == ("failed", None)
    assert "TIMESTEP_MAX_SNAPSHOT_BYTES" in error and len(error) < 2_000
    [(largest,)] = await fetch(
        store, "SELECT greatest((SELECT max(octet_length(payload::text)) FROM timestep_run_steps),"
               " (SELECT max(octet_length(output)) FROM timestep_tool_calls),"
               " (SELECT max(octet_length(item::text)) FROM timestep_session_items), 0)",
    )
    assert largest < 10_000


async def test_a_snapshot_over_the_limit_fails_the_run_instead_of_leaving_it_running(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each value fits, the state that holds them all does not: the run's last commit is refused."""
    monkeypatch.setenv("TIMESTEP_MAX_SNAPSHOT_BYTES", str(LIMIT))
    with pytest.raises(SnapshotTooLargeError, match="TIMESTEP_MAX_SNAPSHOT_BYTES"):
        await run_agent(fetching("x" * (LIMIT // 2)), "Read it.", store=store)
    status, error, owner = await run_row(store, await only_run_id(store))
    assert (status, owner) == ("failed", None)
    assert error.startswith("SnapshotTooLargeError: the snapshot is")
    assert (await fetch(store, "SELECT count(*) FROM timestep_run_snapshots")) == [(0,)]


async def test_resume_run_fails_the_run_when_the_approved_tool_returns_a_nul(store: Store) -> None:
    agent = fetching("a\x00b", needs_approval=True)
    paused = await run_agent(agent, "Read it.", store=store)
    await approve(paused.run_id, store=store)
    with pytest.raises(UnstorableValueError, match="NUL"):
        await resume_run(agent, paused.run_id, store=store)
    status, error, owner = await run_row(store, paused.run_id)
    assert (status, owner) == ("failed", None) and "NUL character (U+0000)" in error


async def test_recover_fails_the_run_when_a_live_tool_returns_a_nul(store: Store) -> None:
    run_id = await crashed_run(store, 2)

    @function_tool
    def work(k: int) -> str:
        """Do unit k of the work."""
        return f"unit {k}\x00"

    agent = Agent(name="worker", instructions="Work.", model=CountingModel(), tools=[work])
    with pytest.raises(UnstorableValueError, match="NUL"):
        await recover(agent, run_id, store=store)
    status, error, owner = await run_row(store, run_id)
    assert (status, owner) == ("failed", None) and "NUL character (U+0000)" in error


async def test_a_model_call_id_with_a_nul_fails_the_run(store: Store) -> None:
    turns = [ScriptedModel.turn(ScriptedModel.tool_call("fetch", {}, call_id="alice\x00evil"))]
    with pytest.raises(InvalidIdError, match="tool call id"):
        await run_agent(fetching("page", turns=turns), "Read it.", store=store)
    status, error, owner = await run_row(store, await only_run_id(store))
    assert (status, owner) == ("failed", None) and "InvalidIdError" in error
    assert (await fetch(store, "SELECT count(*) FROM timestep_tool_calls")) == [(0,)]


async def test_decisions_with_a_nul_are_refused_and_the_call_stays_undecided(store: Store) -> None:
    agent = fetching("page", needs_approval=True)
    paused = await run_agent(agent, "Read it.", store=store)
    with pytest.raises(UnstorableValueError, match="rejection message"):
        await reject(paused.run_id, "c1", message="not\x00now", store=store)
    with pytest.raises(UnstorableValueError, match="decided by"):
        await approve(paused.run_id, "c1", by="maria\x00", store=store)
    rows = await fetch(store, "SELECT status, decision, decided_by, decision_message FROM timestep_tool_calls")
    assert [tuple(r) for r in rows] == [("pending_approval", None, None, None)]


async def test_an_unstorable_input_is_refused_before_the_run_starts(store: Store) -> None:
    with pytest.raises(UnstorableValueError, match="input") as raised:
        await run_agent(answering("ok"), "lone \ud800 surrogate", store=store)
    assert isinstance(raised.value, TimestepError)
    assert (await fetch(store, "SELECT count(*) FROM timestep_runs")) == [(0,)]


@pytest.mark.parametrize("mode", MODES)
async def test_the_error_of_a_stored_run_names_it(store: Store, mode: str) -> None:
    """Finding the run a failure left needed `timestep runs list --status failed`: the error says which."""
    with pytest.raises(UnstorableValueError) as raised:
        await start(fetching("a\x00b"), "Read it.", store, mode)
    run_id = await only_run_id(store)
    assert raised.value.run_id == run_id and str(raised.value).endswith(f"(run {run_id})")
    [(stored,)] = await fetch(store, "SELECT error FROM timestep_runs")
    assert run_id not in stored  # the stored error is the run's own: it needs no name


async def test_an_error_of_the_callers_own_tool_gets_the_run_as_a_note(store: Store) -> None:
    @function_tool(failure_error_function=None)
    def fetch_page() -> str:
        """Fetch the page."""
        raise LookupError("no such page")

    turns = [ScriptedModel.turn(ScriptedModel.tool_call("fetch_page", {}, call_id="c1"))]
    agent = Agent(name="reader", model=ScriptedModel(turns), tools=[fetch_page])
    with pytest.raises(Exception, match="no such page") as raised:
        await run_agent(agent, "Read it.", store=store)
    run_id = await only_run_id(store)
    assert f"timestep stored run {run_id} as failed" in getattr(raised.value, "__notes__", [])
