"""TimestepSession's contract on both engines: order, limits, pop, clear, operation ids, bad input."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from agents.memory import Session, SessionSettings

from timestep.errors import SessionItemError, TimestepError
from timestep.session import TimestepSession, current_run_id
from timestep.store import Store


def msg(n: int, text: str = "") -> Any:
    return {"role": "user", "content": text or f"message {n}"}


async def run_ids(store: Store, session_id: str) -> list[str | None]:
    async with store.connection() as conn:
        cur = await conn.execute(
            "SELECT run_id FROM timestep_session_items WHERE session_id = %s ORDER BY id", (session_id,)
        )
        return [r[0] for r in await cur.fetchall()]


def test_is_an_sdk_session() -> None:
    session: Session = TimestepSession("s")  # checked structurally by mypy as well
    assert isinstance(session, Session)
    assert session.session_id == "s"
    assert session.session_settings is None


async def test_items_come_back_in_order(store: Store) -> None:
    session = TimestepSession("s", store)
    await session.add_items([msg(0), msg(1)])
    await session.add_items([msg(2)])
    await session.add_items([])
    assert await session.get_items() == [msg(0), msg(1), msg(2)]
    assert await session.count() == 3


async def test_limit_gives_the_latest_items_oldest_first(store: Store) -> None:
    session = TimestepSession("s", store)
    await session.add_items([msg(n) for n in range(10)])
    assert await session.get_items(3) == [msg(7), msg(8), msg(9)]
    assert await session.get_items(limit=100) == [msg(n) for n in range(10)]
    assert await session.get_items(0) == []
    assert await session.get_items(-1) == [msg(n) for n in range(10)]  # as SQLiteSession does


async def test_many_items_in_one_call_keep_their_order(store: Store) -> None:
    session = TimestepSession("s", store)
    for count in (1, 64, 65, 500):  # both forms of the statement: a VALUES list and a json[] array
        await session.clear_session()
        await session.add_items([msg(n) for n in range(count)], operation_id=f"op-{count}")
        await session.add_items([msg(n) for n in range(count)], operation_id=f"op-{count}")
        assert await session.get_items() == [msg(n) for n in range(count)]


async def test_session_settings_limit_applies_when_no_limit_is_given(store: Store) -> None:
    session = TimestepSession("s", store, session_settings=SessionSettings(limit=2))
    await session.add_items([msg(n) for n in range(5)])
    assert await session.get_items() == [msg(3), msg(4)]
    assert await session.get_items(4) == [msg(n) for n in range(1, 5)]


async def test_unknown_session_is_empty(store: Store) -> None:
    session = TimestepSession("never-written", store)
    assert await session.get_items() == []
    assert await session.get_items(5) == []
    assert await session.pop_item() is None
    assert await session.count() == 0
    await session.clear_session()
    assert await TimestepSession.list_sessions(store) == []


async def test_sessions_are_separate(store: Store) -> None:
    a, b = TimestepSession("a", store), TimestepSession("b", store)
    await a.add_items([msg(1)])
    await b.add_items([msg(2)])
    assert await a.pop_item() == msg(1)
    assert await a.get_items() == []
    assert await b.get_items() == [msg(2)]


async def test_pop_returns_newest_first(store: Store) -> None:
    session = TimestepSession("s", store)
    await session.add_items([msg(0), msg(1), msg(2)])
    assert await session.pop_item() == msg(2)
    assert await session.pop_item() == msg(1)
    await session.add_items([msg(3)])
    assert await session.pop_item() == msg(3)
    assert await session.pop_item() == msg(0)
    assert await session.pop_item() is None


async def test_clear_keeps_operation_ids(store: Store) -> None:
    session = TimestepSession("s", store)
    await session.add_items([msg(1)], operation_id="op-1")
    await session.clear_session()
    assert await session.get_items() == []
    await session.add_items([msg(1)], operation_id="op-1")  # a retry arriving after the clear
    assert await session.get_items() == []
    await session.add_items([msg(2)], operation_id="op-2")
    assert await session.get_items() == [msg(2)]


async def test_delete_removes_session_and_operation_ids(store: Store) -> None:
    session = TimestepSession("s", store)
    await session.add_items([msg(1)], operation_id="op-1")
    await session.delete()
    assert await TimestepSession.list_sessions(store) == []
    await session.add_items([msg(1)], operation_id="op-1")
    assert await session.get_items() == [msg(1)]


async def test_operation_id_applies_a_write_once(store: Store) -> None:
    session = TimestepSession("s", store)
    await session.add_items([msg(1), msg(2)], operation_id="turn-1")
    await session.add_items([msg(1), msg(2)], operation_id="turn-1")
    await session.add_items([msg(3)], operation_id="turn-2")
    await session.add_items([msg(3)], operation_id="turn-2")
    assert await session.get_items() == [msg(1), msg(2), msg(3)]
    # operation ids are per session
    other = TimestepSession("other", store)
    await other.add_items([msg(9)], operation_id="turn-1")
    assert await other.get_items() == [msg(9)]


async def test_concurrent_retries_of_one_operation_apply_once(store: Store) -> None:
    session = TimestepSession("s", store)
    await asyncio.gather(*(session.add_items([msg(1), msg(2)], operation_id="op") for _ in range(8)))
    assert await session.get_items() == [msg(1), msg(2)]


async def test_non_ascii_round_trips(store: Store) -> None:
    session = TimestepSession("séance-日本", store)
    items: list[Any] = [
        msg(0, "héllo wörld — ünïcødé"),
        msg(1, "日本語のテキスト 🎉🚀"),
        {"type": "function_call_output", "call_id": "c", "output": '\u0000 \\ " \n \t \u2028'},
    ]
    await session.add_items(items)
    assert await session.get_items() == items
    assert await session.pop_item() == items[2]


async def test_ids_with_quotes_backslashes_and_percent_signs_round_trip(store: Store) -> None:
    """Values are escaped into the statements' text: nothing in them may end a literal or fill a placeholder."""
    awkward = "it's \\ 100% %b %s '); DROP TABLE timestep_sessions; --"
    session = TimestepSession(awkward, store)
    token = current_run_id.set(awkward + " run")
    try:
        await session.add_items([msg(0, awkward)], operation_id=awkward + " op")
        await session.add_items([msg(1)], operation_id=awkward + " op")  # the same operation: applied once
    finally:
        current_run_id.reset(token)
    assert await session.get_items() == [msg(0, awkward)]
    assert await session.get_items(limit=1) == [msg(0, awkward)]
    assert await run_ids(store, awkward) == [awkward + " run"]
    assert [info.session_id for info in await TimestepSession.list_sessions(store)] == [awkward]


async def test_large_items_round_trip(store: Store) -> None:
    session = TimestepSession("s", store)
    big: Any = {"role": "user", "content": "ü" * 200_000}  # 400 KB of UTF-8, well over one 64 KiB message
    await session.add_items([msg(0), big, msg(2)])
    assert await session.get_items() == [msg(0), big, msg(2)]
    assert await session.get_items(2) == [big, msg(2)]
    assert await session.pop_item() == msg(2)
    assert await session.pop_item() == big


@pytest.mark.parametrize(
    ("items", "index", "match"),
    [
        ([msg(0), "just text"], 1, "item 1 is a str, not a mapping"),
        ([msg(0), msg(1), {"content": object()}], 2, "item 2 is not JSON-serialisable"),
        ([{"n": 2**70}], 0, "item 0 is not JSON-serialisable"),
        ([{1: "non-string key"}], 0, "item 0 is not JSON-serialisable"),
    ],
)
async def test_bad_items_are_named_and_nothing_is_written(
    store: Store, items: list[Any], index: int, match: str
) -> None:
    session = TimestepSession("s", store)
    with pytest.raises(SessionItemError, match=match) as raised:
        await session.add_items(items, operation_id="op")
    assert isinstance(raised.value, TimestepError)
    assert raised.value.index == index
    assert await session.get_items() == []
    await session.add_items([msg(5)], operation_id="op")  # the failed write recorded no operation id
    assert await session.get_items() == [msg(5)]


async def test_a_string_is_not_a_list_of_items(store: Store) -> None:
    with pytest.raises(SessionItemError, match="list of items"):
        await TimestepSession("s", store).add_items("hello")  # type: ignore[arg-type]


async def test_items_are_tagged_with_the_current_run(store: Store) -> None:
    session = TimestepSession("s", store)
    await session.add_items([msg(0)])
    token = current_run_id.set("run-1")
    try:
        await session.add_items([msg(1), msg(2)])
    finally:
        current_run_id.reset(token)
    assert await run_ids(store, "s") == [None, "run-1", "run-1"]


async def test_list_sessions_newest_first_with_counts(store: Store) -> None:
    for name, n in (("first", 2), ("second", 0), ("third", 1)):
        session = TimestepSession(name, store)
        await session.add_items([msg(i) for i in range(max(n, 1))])
        if n == 0:
            await session.clear_session()
        await asyncio.sleep(0.005)  # PGLite's clock has millisecond resolution
    infos = await TimestepSession.list_sessions(store)
    assert [(i.session_id, i.item_count) for i in infos] == [("third", 1), ("second", 0), ("first", 2)]
    assert all(i.created_at <= i.updated_at for i in infos)
    await TimestepSession("first", store).add_items([msg(9)])
    assert (await TimestepSession.list_sessions(store))[0].session_id == "first"


async def test_cancelled_caller_does_not_cancel_the_write(store: Store) -> None:
    session = TimestepSession("s", store)
    task = asyncio.create_task(session.add_items([msg(0), msg(1)], operation_id="op"))
    await asyncio.sleep(0)  # the write has started
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await session.get_items() == [msg(0), msg(1)]

    await session.add_items([msg(2)])
    pop = asyncio.create_task(session.pop_item())
    await asyncio.sleep(0)
    pop.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pop
    assert await session.get_items() == [msg(0), msg(1)]


async def test_default_store_when_none_is_given(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("timestep.store.default.default_store", lambda: store)
    session = TimestepSession("s")
    assert session.store is store
    await session.add_items([msg(0)])
    assert await TimestepSession.list_sessions() == (await TimestepSession.list_sessions(store))
    assert await TimestepSession("s", store).get_items() == [msg(0)]
