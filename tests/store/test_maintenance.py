"""The embedded engine has no autovacuum: the store vacuums and analyses timestep's tables itself."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from timestep.store import Store, open_store
from timestep.store.maintenance import maintain


async def fill_session(store: Store, items: int) -> None:
    async with store.transaction() as conn:
        await conn.execute("INSERT INTO timestep_sessions (session_id) VALUES ('big')")
        await conn.execute(
            "INSERT INTO timestep_session_items (session_id, item)"
            " SELECT 'big', json_build_object('n', n) FROM generate_series(1, %s) AS n",
            (items,),
        )


async def last_items_plan(store: Store) -> str:
    async with store.connection() as conn:
        cur = await conn.execute(
            "EXPLAIN SELECT item FROM timestep_session_items WHERE session_id = 'big' ORDER BY id DESC LIMIT 100"
        )
        return "\n".join(row[0] for row in await cur.fetchall())


async def analysed(store: Store, table: str) -> Any:
    async with store.connection() as conn:
        cur = await conn.execute("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = %s", (table,))
        row = await cur.fetchone()
        return row[0] if row else None


async def test_maintain_analyses_changed_tables_and_the_planner_uses_the_index(embedded_store: Store) -> None:
    before = await analysed(embedded_store, "timestep_session_items")
    await fill_session(embedded_store, 5000)
    for _ in range(100):  # the backend publishes its table statistics about once a second
        async with embedded_store.connection() as conn:
            await maintain(conn)
        after = await analysed(embedded_store, "timestep_session_items")
        if after is not None and (before is None or after > before):
            break
        await asyncio.sleep(0.1)
    assert after is not None and (before is None or after > before)
    plan = await last_items_plan(embedded_store)
    assert "Index Scan Backward" in plan and "Sort" not in plan  # not every item of the session sorted
    async with embedded_store.connection() as conn:
        assert await maintain(conn) == []  # nothing changed since: nothing to do


async def test_an_open_embedded_store_maintains_itself(embedded_dir: Any, embedded_store: Store) -> None:
    await fill_session(embedded_store, 500)
    async with open_store(embedded_dir) as store:
        for _ in range(200):
            if await analysed(store, "timestep_session_items") is not None:
                break
            await asyncio.sleep(0.05)
        assert await analysed(store, "timestep_session_items") is not None
        async with store.connection() as conn:
            cur = await conn.execute("SELECT item::text FROM timestep_session_items ORDER BY id DESC LIMIT 1")
            row = await cur.fetchone()
    assert row is not None and orjson.loads(row[0]) == {"n": 500}
