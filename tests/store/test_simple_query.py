"""Statements with escaped values sent as simple queries, on both engines."""

from __future__ import annotations

import psycopg
import pytest

from timestep.store import Store
from timestep.store.literal import Literals, simple_query


async def test_values_round_trip_through_literals(store: Store) -> None:
    tricky = "it's a \\ back'slash %s %b; DROP TABLE x; -- é ✓"
    async with store.connection() as conn:
        literals = Literals(conn)
        result = await simple_query(conn, b"SELECT " + literals.text(tricky) + b", " + literals.text(None))
    assert result is not None and result.ntuples == 1
    assert result.get_value(0, 0) == tricky.encode()
    assert result.get_value(0, 1) is None


async def test_a_statement_larger_than_the_socket_buffer_is_sent_whole(store: Store) -> None:
    """Eight megabytes cannot go out in one write: the statement waits for the socket to drain."""
    big = "x" * 8_000_000
    async with store.connection() as conn:
        result = await simple_query(conn, b"SELECT length(" + Literals(conn).text(big) + b")")
    assert result is not None and result.get_value(0, 0) == b"8000000"


async def test_server_errors_raise_psycopgs_error_and_leave_the_connection_usable(store: Store) -> None:
    async with store.connection() as conn:
        with pytest.raises(psycopg.errors.UndefinedTable, match="no_such_table"):
            await simple_query(conn, b"SELECT * FROM no_such_table")
        with pytest.raises(psycopg.errors.UniqueViolation):
            await simple_query(
                conn, b"INSERT INTO timestep_sessions (session_id) VALUES ('twice'), ('twice')"
            )
        cur = await conn.execute("SELECT count(*) FROM timestep_sessions WHERE session_id = 'twice'")
        assert await cur.fetchone() == (0,)  # the failed statement took its whole implicit transaction back
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


async def test_a_statement_on_a_closed_connection_raises_operational_error(store: Store) -> None:
    async with store.connection() as conn:
        await conn.close()
        with pytest.raises(psycopg.OperationalError):
            await simple_query(conn, b"SELECT 1")
