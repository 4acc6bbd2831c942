"""Session ids and item text with arbitrary code points, on both engines and both ways values reach SQL.

``add_items`` and ``get_items`` escape their values into simple queries (``timestep.store.literal``); ``count``,
``pop_item`` and ``delete`` bind them as parameters. An id is stored and found exactly as given, or refused
with ``InvalidIdError`` before any SQL runs: libpq's escaping stopped at a NUL, so ``"alice\\x00evil"`` read
and wrote alice's items. Item text, NUL included, comes back identical.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import empty_tables
from tests.support.queries import fetch
from timestep.errors import InvalidIdError, SessionItemError, TimestepError
from timestep.session import TimestepSession
from timestep.storable import MAX_ID_LENGTH
from timestep.store import Store, open_store

storable_characters = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")
any_text = st.text(st.characters(exclude_categories=("Cs",)))  # NUL included: text in JSON keeps it
ids = st.text(storable_characters, min_size=1, max_size=MAX_ID_LENGTH)
surrounding = st.text(storable_characters, max_size=8)
bad_ids = st.one_of(
    st.just(""),
    st.builds(lambda a, b: f"{a}\x00{b}", surrounding, surrounding),
    st.builds(lambda a, s, b: f"{a}{s}{b}", surrounding, st.characters(categories=("Cs",)), surrounding),
    st.text(storable_characters, min_size=MAX_ID_LENGTH + 1, max_size=MAX_ID_LENGTH + 40),
)
many = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def said(text: str) -> Any:
    return {"role": "user", "content": text}


async def counts(store: Store) -> list[tuple[Any, ...]]:
    return await fetch(
        store, "SELECT (SELECT count(*) FROM timestep_sessions), (SELECT count(*) FROM timestep_session_items),"
               " (SELECT count(*) FROM timestep_session_operations)",
    )


async def test_a_nul_in_a_session_id_does_not_reach_another_sessions_items(store: Store) -> None:
    alice = TimestepSession("alice", store)
    await alice.add_items([said("mine")])
    with pytest.raises(InvalidIdError, match=r"session id .*NUL character \(U\+0000\)"):
        TimestepSession("alice\x00evil", store)
    with pytest.raises(InvalidIdError, match=r"operation id .*NUL"):
        await alice.add_items([said("evil")], operation_id="op\x00")
    assert await alice.get_items() == [said("mine")]
    assert await counts(store) == [(1, 1, 0)]


@many
@given(session_id=ids, operation_id=ids, text=any_text)
async def test_any_storable_id_and_text_round_trip_on_both_paths(
    store: Store, session_id: str, operation_id: str, text: str
) -> None:
    await empty_tables(store)
    session = TimestepSession(session_id, store)
    await session.add_items([said(text)], operation_id=operation_id)
    await session.add_items([said("again")], operation_id=operation_id)  # the same operation: applied once
    assert await session.get_items() == [said(text)]
    assert await session.count() == 1
    stored = await fetch(store, "SELECT session_id, operation_id FROM timestep_session_operations")
    assert stored == [(session_id, operation_id)]
    assert [info.session_id for info in await TimestepSession.list_sessions(store)] == [session_id]
    assert await session.pop_item() == said(text)
    await session.delete()
    assert await counts(store) == [(0, 0, 0)]


@many
@given(bad=bad_ids)
async def test_unstorable_ids_are_refused_and_nothing_is_written(store: Store, bad: str) -> None:
    await empty_tables(store)
    with pytest.raises(InvalidIdError) as raised:
        TimestepSession(bad, store)
    assert isinstance(raised.value, TimestepError)
    assert str(MAX_ID_LENGTH) in str(raised.value)  # the message gives the rule
    with pytest.raises(InvalidIdError):
        await TimestepSession("s", store).add_items([said("x")], operation_id=bad)
    assert await counts(store) == [(0, 0, 0)]


async def test_ids_are_refused_before_any_sql_runs() -> None:
    """A store that cannot be reached would fail the first statement: the refusal comes first."""
    unreachable = open_store("postgresql://nobody@/nowhere?host=/nonexistent-timestep-test")
    with pytest.raises(InvalidIdError):
        TimestepSession("x" * (MAX_ID_LENGTH + 1), unreachable)
    with pytest.raises(InvalidIdError):
        await TimestepSession("s", unreachable).add_items([said("x")], operation_id="\ud800")


async def test_items_with_lone_surrogates_are_refused_and_nothing_is_written(store: Store) -> None:
    with pytest.raises(SessionItemError, match="item 1"):
        await TimestepSession("s", store).add_items([said("fine"), said("half a pair \udc00")])
    assert await counts(store) == [(0, 0, 0)]
