"""Migrations fail closed, are atomic, and are safe to run concurrently."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from tests.support.postgres_server import PostgresServer
from timestep.errors import SchemaError
from timestep.store import Store, open_store
from timestep.store.migrations import Migration, load_migrations, migrate, schema_status


async def test_database_with_a_newer_migration_is_refused_and_untouched(store_location: str, store: Store) -> None:
    async with store.transaction() as conn:
        await conn.execute("INSERT INTO timestep_sessions (session_id) VALUES ('keep')")
        await conn.execute(
            "INSERT INTO timestep_migrations (version, name, checksum) VALUES (999, 'from_the_future', 'x')"
        )
    try:
        with pytest.raises(SchemaError, match=r"0999_from_the_future.*upgrade timestep"):
            await open_store(store_location).open()
        async with store.connection() as conn:
            cur = await conn.execute("SELECT count(*) FROM timestep_sessions WHERE session_id = 'keep'")
            assert await cur.fetchone() == (1,)
    finally:
        async with store.connection() as conn:
            await conn.execute("DELETE FROM timestep_migrations WHERE version = 999")


async def test_edited_migration_is_refused(store_location: str, store: Store) -> None:
    async with store.connection() as conn:
        cur = await conn.execute("SELECT checksum FROM timestep_migrations WHERE version = 1")
        row = await cur.fetchone()
        assert row is not None
        await conn.execute("UPDATE timestep_migrations SET checksum = 'edited' WHERE version = 1")
    try:
        with pytest.raises(SchemaError, match="checksum mismatch"):
            await open_store(store_location).open()
    finally:
        async with store.connection() as conn:
            await conn.execute("UPDATE timestep_migrations SET checksum = %s WHERE version = 1", (row[0],))


async def test_failing_migration_leaves_the_version_unchanged(store: Store) -> None:
    broken = (
        *load_migrations(),
        Migration(len(load_migrations()) + 1, "broken", "CREATE TABLE timestep_half_done (id int); SELECT 1/0;"),
    )
    async with store.connection() as conn:
        with pytest.raises(psycopg.errors.DivisionByZero):
            await migrate(conn, broken)
        status = await schema_status(conn, broken)
        assert [m.name for m in status.pending] == ["broken"]
        cur = await conn.execute("SELECT to_regclass('timestep_half_done')")
        assert await cur.fetchone() == (None,)


async def test_rerunning_migrate_is_a_no_op(store: Store) -> None:
    async with store.connection() as conn:
        before = await schema_status(conn)
        after = await migrate(conn)
    assert before == after and after.pending == ()


async def test_concurrent_migrators_apply_each_migration_once(postgres: PostgresServer) -> None:
    postgres.psql("CREATE DATABASE timestep_concurrent_migrations")
    url = postgres.url("timestep_concurrent_migrations")
    stores = [open_store(url) for _ in range(4)]
    try:
        await asyncio.gather(*(s.open() for s in stores))
    finally:
        for s in stores:
            await s.close()
    rows = postgres.psql("SELECT version FROM timestep_migrations ORDER BY 1", "timestep_concurrent_migrations")
    assert rows.split() == [str(m.version) for m in load_migrations()]
