"""What committing behind the run must still guarantee, on both engines.

A tool runs only once the model response that asked for it (and everything before it) is committed; reads
of the run's session inside the run see the items it queued; what the run wrote is all stored when
``run_agent`` returns; values of any text reach the store intact; a failed commit fails the run.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
from agents import Agent, RunContextWrapper, function_tool

from tests.support.queries import fetch
from timestep import TimestepSession, run_agent
from timestep.config import resolve_location
from timestep.durable import writer
from timestep.errors import RecordingError
from timestep.store import Store
from timestep.store.embedded_server import EmbeddedServer
from timestep.testing import ScriptedModel

AWKWARD = "it's \\ 100% %b %s \u2028 '); DROP TABLE timestep_runs; -- 日本"


def three_steps(tool: Any) -> Agent[Any]:
    turns = [[ScriptedModel.tool_call(tool.name, {"n": n}, call_id=f"c{n}")] for n in range(3)]
    return Agent(name="worker", model=ScriptedModel([*turns, [ScriptedModel.text(AWKWARD)]]), tools=[tool])


async def test_a_tool_runs_only_once_everything_before_it_is_committed(store: Store) -> None:
    seen: list[dict[str, Any]] = []

    @function_tool
    async def step(ctx: RunContextWrapper[Any], n: int) -> str:
        """Look at the store from another connection, as a process recovering the run would."""
        run_id = (await fetch(store, "SELECT run_id FROM timestep_runs WHERE status = 'running'"))[0][0]
        seen.append({
            "responses": await fetch(store, "SELECT step_key FROM timestep_run_steps WHERE run_id = %s"
                                            " AND kind = 'model_response' ORDER BY step_key", run_id),
            "results": await fetch(store, "SELECT step_key FROM timestep_run_steps WHERE run_id = %s"
                                          " AND kind = 'tool_result' ORDER BY step_key", run_id),
            "calls": await fetch(store, "SELECT call_id, status FROM timestep_tool_calls WHERE run_id = %s"
                                        " ORDER BY call_id", run_id),
        })
        return f"step {n}"

    await run_agent(three_steps(step), "go", store=store)
    for n, view in enumerate(seen):
        assert view["responses"] == [(f"0.{i}",) for i in range(n + 1)]  # its own response included
        assert view["results"] == [(f"c{i}",) for i in range(n)]  # every earlier result
        assert view["calls"] == [(f"c{i}", "completed") for i in range(n)] + [(f"c{n}", "running")]


async def test_the_run_sees_its_own_session_items_and_everything_is_stored_when_it_returns(store: Store) -> None:
    session = TimestepSession("chat", store=store)
    seen: list[int] = []

    @function_tool
    async def step(n: int) -> str:
        """Add a note to the session and read it back at once, from inside the run."""
        mine = TimestepSession("chat", store=store)
        await mine.add_items([{"role": "user", "content": f"note {n}"}])
        seen.append(len(await mine.get_items()))
        assert (await mine.get_items(limit=1)) == [{"role": "user", "content": f"note {n}"}]
        return AWKWARD

    result = await run_agent(three_steps(step), "go", session=session, store=store)
    assert seen == sorted(seen) and seen[0] >= 2 and seen[-1] > seen[0]  # the input and the note, and so on
    items = await session.get_items()
    assert items[-1]["content"][0]["text"] == AWKWARD
    assert [i["output"] for i in items if i.get("type") == "function_call_output"] == [AWKWARD] * 3
    run = await fetch(store, "SELECT status, final_output::text, input::text FROM timestep_runs WHERE run_id = %s",
                      result.run_id)
    assert run == [("completed", orjson.dumps(AWKWARD).decode(), '"go"')]
    outputs = await fetch(store, "SELECT output FROM timestep_tool_calls WHERE run_id = %s", result.run_id)
    assert outputs == [(AWKWARD,)] * 3
    payloads = await fetch(store, "SELECT payload::text FROM timestep_run_steps WHERE run_id = %s"
                                  " AND kind = 'tool_result'", result.run_id)
    assert [orjson.loads(p[0]) for p in payloads] == [{"text": AWKWARD}] * 3
    usage = await fetch(store, "SELECT count(*) FROM timestep_usage WHERE run_id = %s", result.run_id)
    assert usage == [(4,)]


async def test_a_call_committed_together_with_its_output_is_stored_finished(store: Store) -> None:
    """Without a journal nothing waits between a call and its tool: both can go in one commit."""

    @function_tool
    def step(n: int) -> str:
        """Answer at once, well within the commit delay."""
        return f"{AWKWARD} {n}"

    result = await run_agent(three_steps(step), "go", store=store, durable=False)
    calls = await fetch(store, "SELECT call_id, status, output, finished_at IS NOT NULL FROM timestep_tool_calls"
                               " WHERE run_id = %s ORDER BY call_id", result.run_id)
    assert calls == [(f"c{n}", "completed", f"{AWKWARD} {n}", True) for n in range(3)]


class SlowModel(ScriptedModel):
    """A scripted model that takes 20 ms to answer and notes each request."""

    def __init__(self, turns: Any, asked: list[str]) -> None:
        super().__init__(turns)
        self.asked = asked

    async def get_response(self, *args: Any, **kwargs: Any) -> Any:
        self.asked.append("model")
        await asyncio.sleep(0.02)
        return await super().get_response(*args, **kwargs)


async def test_a_commit_that_fails_fails_the_run_before_another_tool_runs(store: Store) -> None:
    done: list[str] = []

    @function_tool
    async def step(n: int) -> str:
        """Break the next commit: its session no longer takes items."""
        done.append(f"tool {n}")
        async with store.connection() as conn:
            await conn.execute("ALTER TABLE timestep_session_items ADD CONSTRAINT no_more CHECK (false) NOT VALID")
        return "done"

    turns = [[ScriptedModel.tool_call("step", {"n": n}, call_id=f"c{n}")] for n in range(3)]
    agent = Agent(name="worker", model=SlowModel([*turns, [ScriptedModel.text("end")]], done), tools=[step])
    try:
        with pytest.raises(Exception, match="no_more"):
            await run_agent(agent, "go", session=TimestepSession("doomed", store=store), store=store)
    finally:
        async with store.connection() as conn:
            await conn.execute("ALTER TABLE timestep_session_items DROP CONSTRAINT no_more")
    assert done == ["model", "tool 0", "model"]  # the tool's commit failed during the next model call
    rows = await fetch(store, "SELECT status, error FROM timestep_runs")
    assert rows[0][0] == "failed" and "no_more" in rows[0][1]


async def test_a_statement_that_cannot_be_sent_fails_the_run_before_another_tool_runs(
    store: Store, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A commit starts on the wire from ``commit_now`` itself when the writer keeps a connection; a send that
    fails there is kept and raised like a failed commit."""
    done: list[str] = []
    send = writer.send_simple_query

    def send_until_broken(conn: Any, statement: bytes) -> None:
        if "tool 0" in done:
            raise psycopg.OperationalError("the socket broke (injected)")
        send(conn, statement)

    monkeypatch.setattr(writer, "send_simple_query", send_until_broken)

    @function_tool
    def step(n: int) -> str:
        """One step of work."""
        done.append(f"tool {n}")
        return "done"

    with pytest.raises(RecordingError, match="injected") as raised:  # the driver's error, chained
        await run_agent(three_steps(step), "go", store=store)
    assert isinstance(raised.value.__cause__, psycopg.OperationalError)
    run_id = raised.value.run_id
    assert run_id is not None and str(raised.value).count(run_id) == 1  # named once
    assert done == ["tool 0"]
    rows = await fetch(store, "SELECT status, error FROM timestep_runs")
    assert rows[0][0] == "failed" and "injected" in rows[0][1]


async def test_a_run_whose_first_commit_fails_is_stored_failed_with_its_row(
    store: Store, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A new run's row goes in with its first commit: when no commit can be sent, the row goes in with the
    failure, on a connection of its own, rather than the run leaving no trace."""
    done: list[str] = []

    def never_send(conn: Any, statement: bytes) -> None:
        raise psycopg.OperationalError("the socket broke (injected)")

    monkeypatch.setattr(writer, "send_simple_query", never_send)

    @function_tool
    def step(n: int) -> str:
        """One step of work."""
        done.append(f"tool {n}")
        return "done"

    with pytest.raises(RecordingError, match="injected"):
        await run_agent(three_steps(step), "go", store=store)
    assert done == []  # the first tool waits for the commit of the response that asked for it
    rows = await fetch(store, "SELECT agent_name, status, owner, input::text, error FROM timestep_runs")
    [(agent_name, status, owner, given, error)] = rows
    assert (agent_name, status, owner, given) == ("worker", "failed", None, '"go"')
    assert error.startswith("RecordingError: ") and "injected" in error


async def test_runs_nested_deeper_than_the_pool_share_its_one_connection(store: Store) -> None:
    """The writer keeps its connection between quick commits, but never while a tool (here: another run)
    waits on it for long, and gives it back the moment the run returns."""
    lone = Store(resolve_location(str(store.location.value)), durability=store.durability, max_connections=1)

    def nested(depth: int) -> Agent[Any]:
        @function_tool
        async def delegate() -> str:
            """Run the next agent down."""
            result = await run_agent(nested(depth + 1), "go", store=lone)
            return str(result.final_output)

        if depth == 3:
            return Agent(name=f"level{depth}", model=ScriptedModel([[ScriptedModel.text("bottom")]]))
        turns = [[ScriptedModel.tool_call("delegate", {}, call_id=f"d{depth}")], [ScriptedModel.text(f"up {depth}")]]
        return Agent(name=f"level{depth}", model=ScriptedModel(turns), tools=[delegate])

    async with lone:
        result = await asyncio.wait_for(run_agent(nested(0), "go", store=lone), timeout=30)
        async with asyncio.timeout(0.01):  # no connection left lingering with a finished run
            async with lone.connection() as conn:
                rows = await (await conn.execute(
                    "SELECT agent_name, status FROM timestep_runs ORDER BY agent_name")).fetchall()
    assert result.final_output == "up 0"
    assert rows == [(f"level{d}", "completed") for d in range(4)]


async def test_a_run_goes_on_when_the_embedded_server_dies_between_its_commits(
    embedded_dir: Path, embedded_store: Store, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The writer keeps its connection between commits; one whose server died is replaced, not used."""
    monkeypatch.setattr(writer, "LINGER_S", 10.0)  # so that it surely still keeps it when the server is gone
    killed: list[int] = []

    @function_tool
    async def step(n: int) -> str:
        """Kill the embedded server during the second step and wait until it is gone."""
        if n == 1:
            pid = EmbeddedServer(embedded_dir, 1).status().pid
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            while EmbeddedServer(embedded_dir, 1).status().pid == pid:  # its lock goes with its sockets
                await asyncio.sleep(0.01)
            killed.append(pid)
        return f"step {n}"

    result = await run_agent(three_steps(step), "go", store=embedded_store)
    assert killed and EmbeddedServer(embedded_dir, 1).status().pid not in (None, *killed)
    calls = await fetch(embedded_store, "SELECT call_id, status, output FROM timestep_tool_calls WHERE run_id = %s"
                                        " ORDER BY call_id", result.run_id)
    assert calls == [(f"c{n}", "completed", f"step {n}") for n in range(3)]
    run = await fetch(embedded_store, "SELECT status FROM timestep_runs WHERE run_id = %s", result.run_id)
    assert run == [("completed",)]
