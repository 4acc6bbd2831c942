"""Run ids, call ids and agent names that the store cannot hold are refused before any SQL runs.

Every entry point that takes an id checks it first (``InvalidIdError``): a NUL would be cut off by libpq's
escaping in a simple query (the id of another run) and refused by psycopg as a bound parameter; a lone
surrogate cannot be encoded; an id over ``MAX_ID_LENGTH`` characters is refused by rule.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from agents import Agent
from hypothesis import HealthCheck, given, settings

from tests.conftest import empty_tables
from tests.runs.scenario import booking_turns, host
from tests.session.test_ids_and_text import bad_ids
from tests.support.queries import fetch
from timestep import RunStateStore, approve, recover, reject, resume_run, run_agent
from timestep.errors import InvalidIdError
from timestep.store import Store, open_store
from timestep.testing import ScriptedModel

Call = Callable[[str, Store], Awaitable[Any]]

ENTRY_POINTS: dict[str, Call] = {
    "run_agent run_id": lambda bad, store: run_agent(host(booking_turns()), "hi", store=store, run_id=bad),
    "run_agent agent name": lambda bad, store: run_agent(
        Agent(name=bad, model=ScriptedModel([ScriptedModel.turn(ScriptedModel.text("ok"))])), "hi", store=store
    ),
    "resume_run": lambda bad, store: resume_run(host(booking_turns()), bad, store=store),
    "recover": lambda bad, store: recover(host(booking_turns()), bad, store=store),
    "approve run_id": lambda bad, store: approve(bad, store=store),
    "approve call_id": lambda bad, store: approve("run", bad, store=store),
    "reject run_id": lambda bad, store: reject(bad, "call", store=store),
    "reject call_id": lambda bad, store: reject("run", bad, store=store),
    "RunStateStore": lambda bad, store: RunStateStore(host(booking_turns()), run_id=bad, store=store).load(),
}


async def table_counts(store: Store) -> list[tuple[Any, ...]]:
    return await fetch(
        store, "SELECT (SELECT count(*) FROM timestep_runs), (SELECT count(*) FROM timestep_tool_calls),"
               " (SELECT count(*) FROM timestep_run_snapshots), (SELECT count(*) FROM timestep_session_items)",
    )


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bad=bad_ids)
async def test_every_entry_point_refuses_unstorable_ids_and_writes_nothing(store: Store, bad: str) -> None:
    await empty_tables(store)
    for name, call in ENTRY_POINTS.items():
        with pytest.raises(InvalidIdError):
            await call(bad, store)
        assert await table_counts(store) == [(0, 0, 0, 0)], name


@pytest.mark.parametrize("name", list(ENTRY_POINTS))
async def test_ids_are_refused_before_any_sql_runs(name: str) -> None:
    """A store that cannot be reached would fail the first statement: the refusal comes first."""
    unreachable = open_store("postgresql://nobody@/nowhere?host=/nonexistent-timestep-test")
    with pytest.raises(InvalidIdError, match="NUL"):
        await ENTRY_POINTS[name]("run\x00other", unreachable)


async def test_a_nul_does_not_reach_another_runs_rows(store: Store) -> None:
    agent = host(booking_turns())
    paused = await run_agent(agent, "Book a table for two", store=store, run_id="alice")
    with pytest.raises(InvalidIdError, match="run id"):
        await approve("alice\x00evil", store=store)
    with pytest.raises(InvalidIdError, match="run id"):
        await run_agent(agent, "Book", store=store, run_id="alice\x00evil")
    rows = await fetch(store, "SELECT run_id, status FROM timestep_runs")
    assert [tuple(r) for r in rows] == [(paused.run_id, "interrupted")]
    decided = await fetch(store, "SELECT count(*) FROM timestep_tool_calls WHERE decision IS NOT NULL")
    assert decided == [(0,)]
