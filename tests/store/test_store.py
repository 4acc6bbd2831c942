"""The store's contract, on both engines."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from timestep.store import Store, open_store
from timestep.store.migrations import load_migrations


async def insert_session(store: Store, session_id: str) -> None:
    async with store.transaction() as conn:
        await conn.execute("INSERT INTO timestep_sessions (session_id) VALUES (%s)", (session_id,))


async def count(store: Store, table: str) -> int:
    async with store.connection() as conn:
        cur = await conn.execute(f"SELECT count(*) FROM {table}")
        row = await cur.fetchone()
        assert row is not None
        return int(row[0])


async def test_schema_is_current_after_open(store: Store) -> None:
    status = await store.schema_status()
    assert [m.version for m in status.applied] == [m.version for m in load_migrations()]
    assert status.pending == ()


async def test_transaction_commits_and_rolls_back(store: Store) -> None:
    await insert_session(store, "kept")
    with pytest.raises(RuntimeError, match="boom"):
        async with store.transaction() as conn:
            await conn.execute("INSERT INTO timestep_sessions (session_id) VALUES ('lost')")
            raise RuntimeError("boom")
    async with store.connection() as conn:
        cur = await conn.execute("SELECT session_id FROM timestep_sessions ORDER BY 1")
        assert [r[0] for r in await cur.fetchall()] == ["kept"]


async def test_large_json_payload_round_trips(store: Store) -> None:
    """Messages over 64 KiB broke older pglite-socket releases; 1 MB must pass byte for byte."""
    await insert_session(store, "big")
    payload = orjson.dumps({"text": "é" * 500_000, "n": list(range(1000))}).decode()
    async with store.transaction() as conn:
        await conn.execute(
            "INSERT INTO timestep_session_items (session_id, item) VALUES ('big', %s)", (payload,)
        )
    async with store.connection() as conn:
        cur = await conn.execute("SELECT item::text FROM timestep_session_items WHERE session_id = 'big'")
        row = await cur.fetchone()
    assert row is not None and row[0] == payload


async def test_concurrent_tasks_share_the_pool(store: Store) -> None:
    await insert_session(store, "s")

    async def writer(n: int) -> None:
        for i in range(20):
            async with store.transaction() as conn:
                await conn.execute(
                    "INSERT INTO timestep_session_items (session_id, item) VALUES ('s', %s)",
                    (orjson.dumps({"writer": n, "i": i}).decode(),),
                )

    await asyncio.gather(*(writer(n) for n in range(8)))
    assert await count(store, "timestep_session_items") == 160


async def test_reopening_a_store_keeps_data(store_location: str, store: Store) -> None:
    await insert_session(store, "persisted")
    await store.close()
    async with open_store(store_location) as again:
        assert await count(again, "timestep_sessions") == 1


async def test_open_is_idempotent_and_lazy(store_location: str) -> None:
    store = open_store(store_location)
    assert "password" not in repr(store)
    async with store.connection() as conn:  # first use opens
        await conn.execute("SELECT 1")
    await store.open()
    await store.close()
    await store.close()
