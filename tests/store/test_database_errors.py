"""A database failure leaves the store as a ``DatabaseError`` with its SQLSTATE and the driver's error as its
cause, on both engines; raw SQL inside a ``store.connection()`` block still sees psycopg's own errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
import pytest

from timestep.errors import DatabaseError, StoreError, TimestepError
from timestep.session import TimestepSession
from timestep.store import Store

ITEM: Any = {"role": "user", "content": "hello"}


@asynccontextmanager
async def altered(store: Store, change: str, undo: str) -> AsyncIterator[None]:
    async with store.connection() as conn:
        await conn.execute(change)
    try:
        yield
    finally:
        async with store.connection() as conn:
            await conn.execute(undo)


def assert_wraps(error: DatabaseError, sqlstate: str | None, driver_error: type[psycopg.Error]) -> None:
    assert isinstance(error, StoreError) and isinstance(error, TimestepError)
    assert not isinstance(error, psycopg.Error)
    assert error.sqlstate == sqlstate
    assert isinstance(error.__cause__, driver_error)


async def test_a_refused_write_of_a_session_raises_database_error(store: Store) -> None:
    session = TimestepSession("refused", store=store)
    async with altered(store, "ALTER TABLE timestep_session_items ADD CONSTRAINT no_items CHECK (false) NOT VALID",
                       "ALTER TABLE timestep_session_items DROP CONSTRAINT no_items"):
        with pytest.raises(DatabaseError, match=r"SQLSTATE 23514 \(CheckViolation: .*no_items") as raised:
            await session.add_items([ITEM])
    assert_wraps(raised.value, "23514", psycopg.errors.CheckViolation)
    await session.add_items([ITEM])
    assert await session.get_items() == [ITEM]


async def test_a_session_whose_table_is_gone_raises_database_error(store: Store) -> None:
    session = TimestepSession("tableless", store=store)
    await session.add_items([ITEM])
    async with altered(store, "ALTER TABLE timestep_session_items RENAME TO timestep_items_aside",
                       "ALTER TABLE timestep_items_aside RENAME TO timestep_session_items"):
        with pytest.raises(DatabaseError, match="SQLSTATE 42P01") as raised:
            await session.get_items()
        assert_wraps(raised.value, "42P01", psycopg.errors.UndefinedTable)
        with pytest.raises(DatabaseError, match="SQLSTATE 42P01"):
            await TimestepSession.list_sessions(store)
    assert await session.get_items() == [ITEM]


async def test_raw_sql_sees_psycopgs_errors_inside_the_block_and_database_error_outside(store: Store) -> None:
    async with store.connection() as conn:
        with pytest.raises(psycopg.errors.UndefinedTable):  # caught where it happened, as with psycopg alone
            await conn.execute("SELECT * FROM no_such_table")
        cur = await conn.execute("SELECT 1")
        assert await cur.fetchone() == (1,)
    with pytest.raises(DatabaseError, match="SQLSTATE 22012") as raised:
        async with store.transaction() as conn:
            await conn.execute("INSERT INTO timestep_sessions (session_id) VALUES ('rolled back')")
            await conn.execute("SELECT 1 / 0")
    assert_wraps(raised.value, "22012", psycopg.errors.DivisionByZero)
    assert await TimestepSession.list_sessions(store) == []  # the transaction was rolled back


async def test_a_connection_lost_mid_use_raises_database_error_and_the_store_goes_on(store: Store) -> None:
    """The embedded server is stopped, a server's backend terminated, while a block holds the connection."""
    with pytest.raises(DatabaseError, match="the connection to the database failed") as raised:
        async with store.connection() as conn:
            if store.server is not None:
                await asyncio.to_thread(store.server.stop)
            else:
                async with await psycopg.AsyncConnection.connect(store.location.value, autocommit=True) as killer:
                    await killer.execute("SELECT pg_terminate_backend(%s)", (conn.info.backend_pid,))
            await conn.execute("SELECT 1")
    assert_wraps(raised.value, raised.value.sqlstate, psycopg.OperationalError)
    assert raised.value.sqlstate in (None, "57P01")  # a server may say why (admin_shutdown) before it hangs up
    session = TimestepSession("after", store=store)  # the pool replaces the connection (and the server)
    await session.add_items([ITEM])
    assert await session.get_items() == [ITEM]
