"""Migrations fail closed, are atomic, and are safe to run concurrently; the functions file is repeatable."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest

from tests.support.postgres_server import PostgresServer
from timestep.errors import SchemaError
from timestep.store import Store, open_store
from timestep.store.embedded_server import EmbeddedServer
from timestep.store.migrations import Functions, Migration, load_functions, load_migrations, migrate, schema_status

ROOT = Path(__file__).resolve().parents[2]
FUNCTION_NAMES = ["timestep_add_session_items", "timestep_last_session_items", "timestep_record_run_writes"]
# A function that the functions file replaces: answers 'stale' until the file is applied again.
STALE_FUNCTION = (
    "CREATE OR REPLACE FUNCTION timestep_last_session_items(p_session text, p_limit integer) RETURNS text "
    "LANGUAGE sql AS $$ SELECT 'stale' $$"
)
OPEN_AND_CLOSE = "import asyncio, sys\nfrom timestep.store import open_store\n" \
    "async def main():\n    async with open_store(sys.argv[1]):\n        pass\nasyncio.run(main())\n"


async def recorded_functions(store: Store) -> tuple[int, str] | None:
    async with store.connection() as conn:
        cur = await conn.execute("SELECT revision, checksum FROM timestep_schema_functions")
        rows = await cur.fetchall()
    assert len(rows) <= 1
    return (rows[0][0], rows[0][1]) if rows else None


async def last_items_answer(store: Store) -> str | None:
    async with store.connection() as conn:
        cur = await conn.execute("SELECT timestep_last_session_items('nobody', 1)")
        row = await cur.fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


@pytest.fixture
async def stale_functions(store: Store) -> AsyncIterator[Store]:
    """The store with a function replaced and a recorded checksum that is not the file's; restored after."""
    async with store.transaction() as conn:
        await conn.execute(STALE_FUNCTION)
        await conn.execute("UPDATE timestep_schema_functions SET checksum = 'stale'")
    try:
        yield store
    finally:
        async with store.connection() as conn:
            await conn.execute("DELETE FROM timestep_migrations WHERE version > %s", (len(load_migrations()),))
            await migrate(conn)


async def test_fresh_store_gets_the_schema(postgres: PostgresServer, tmp_path: Path) -> None:
    postgres.psql("CREATE DATABASE timestep_fresh_schema")
    locations = [str(tmp_path / "store"), postgres.url("timestep_fresh_schema")]
    try:
        for location in locations:
            async with open_store(location) as store:
                status = await store.schema_status()
                assert [m.version for m in status.applied] == [m.version for m in load_migrations()]
                assert status.up_to_date
                ours = load_functions()
                assert await recorded_functions(store) == (ours.revision, ours.checksum)
                async with store.connection() as conn:
                    cur = await conn.execute(
                        "SELECT proname FROM pg_proc WHERE proname LIKE 'timestep\\_%' ORDER BY proname"
                    )
                    assert [name for (name,) in await cur.fetchall()] == FUNCTION_NAMES
                assert await last_items_answer(store) is None
    finally:
        EmbeddedServer(Path(locations[0]), 1.0).stop()


async def test_database_with_a_newer_migration_is_refused_and_untouched(
    store_location: str, stale_functions: Store
) -> None:
    store = stale_functions
    async with store.transaction() as conn:
        await conn.execute("INSERT INTO timestep_sessions (session_id) VALUES ('keep')")
        await conn.execute(
            "INSERT INTO timestep_migrations (version, name, checksum) VALUES (999, 'from_the_future', 'x')"
        )
    with pytest.raises(SchemaError, match=r"0999_from_the_future.*upgrade timestep"):
        await open_store(store_location).open()
    async with store.connection() as conn:
        cur = await conn.execute("SELECT count(*) FROM timestep_sessions WHERE session_id = 'keep'")
        assert await cur.fetchone() == (1,)
    # nothing was applied, not even the functions file, which differs
    assert await recorded_functions(store) == (load_functions().revision, "stale")
    assert await last_items_answer(store) == "stale"


async def test_edited_migration_is_refused_and_untouched(store_location: str, stale_functions: Store) -> None:
    store = stale_functions
    async with store.connection() as conn:
        cur = await conn.execute("SELECT checksum FROM timestep_migrations WHERE version = 1")
        row = await cur.fetchone()
        assert row is not None
        await conn.execute("UPDATE timestep_migrations SET checksum = 'edited' WHERE version = 1")
    try:
        with pytest.raises(SchemaError, match="checksum mismatch"):
            await open_store(store_location).open()
        assert await recorded_functions(store) == (load_functions().revision, "stale")
        assert await last_items_answer(store) == "stale"
    finally:
        async with store.connection() as conn:
            await conn.execute("UPDATE timestep_migrations SET checksum = %s WHERE version = 1", (row[0],))


async def test_changed_functions_file_is_applied_again(store_location: str, stale_functions: Store) -> None:
    store = stale_functions
    async with open_store(store_location):
        pass
    ours = load_functions()
    assert await recorded_functions(store) == (ours.revision, ours.checksum)
    assert await last_items_answer(store) is None  # the file's function is back


async def test_edited_functions_file_of_the_same_revision_is_applied(store: Store) -> None:
    ours = load_functions()
    edited = Functions(ours.revision, ours.sql + "\n-- an edit\n")
    async with store.connection() as conn:
        before = await schema_status(conn, functions=edited)
        assert before.functions_pending and not before.pending
        after = await migrate(conn, functions=edited)
        assert after.up_to_date
        assert await recorded_functions(store) == (ours.revision, edited.checksum)
        assert not (await migrate(conn)).functions_pending  # and back to the file


async def test_functions_of_a_newer_timestep_are_refused_and_untouched(store_location: str, store: Store) -> None:
    ours = load_functions()
    async with store.transaction() as conn:
        await conn.execute(STALE_FUNCTION)
        await conn.execute(
            "UPDATE timestep_schema_functions SET revision = %s, checksum = 'newer'", (ours.revision + 1,)
        )
    try:
        with pytest.raises(SchemaError, match=rf"revision {ours.revision + 1}, newer.*upgrade timestep"):
            await open_store(store_location).open()
        assert await recorded_functions(store) == (ours.revision + 1, "newer")
        assert await last_items_answer(store) == "stale"
    finally:
        async with store.connection() as conn:
            await conn.execute("UPDATE timestep_schema_functions SET revision = %s", (ours.revision,))
            await migrate(conn)


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


async def test_failing_functions_file_leaves_the_functions_unchanged(stale_functions: Store) -> None:
    store = stale_functions
    broken = Functions(load_functions().revision, load_functions().sql + "\nSELECT 1/0;\n")
    async with store.connection() as conn:
        with pytest.raises(psycopg.errors.DivisionByZero):
            await migrate(conn, functions=broken)
    assert await recorded_functions(store) == (load_functions().revision, "stale")
    assert await last_items_answer(store) == "stale"  # the replacements before the error were rolled back


async def test_rerunning_migrate_is_a_no_op(store: Store) -> None:
    async with store.connection() as conn:
        before = await schema_status(conn)
        after = await migrate(conn)
    assert before == after and after.up_to_date


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
    rows = postgres.psql("SELECT checksum FROM timestep_schema_functions", "timestep_concurrent_migrations")
    assert rows.split() == [load_functions().checksum]


async def test_concurrent_processes_apply_a_changed_functions_file_once(
    store_location: str, stale_functions: Store
) -> None:
    store = stale_functions
    async with store.transaction() as conn:  # counts the writes of the functions' record
        await conn.execute("CREATE TABLE timestep_test_functions_log (at timestamptz DEFAULT clock_timestamp())")
        await conn.execute(
            "CREATE FUNCTION timestep_test_log_functions() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN INSERT INTO timestep_test_functions_log DEFAULT VALUES; RETURN NEW; END $$"
        )
        await conn.execute(
            "CREATE TRIGGER timestep_test_log AFTER INSERT OR UPDATE ON timestep_schema_functions"
            " FOR EACH ROW EXECUTE FUNCTION timestep_test_log_functions()"
        )
    try:
        processes = [
            subprocess.Popen([sys.executable, "-c", OPEN_AND_CLOSE, store_location], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(4)
        ]
        for process in processes:
            _, stderr = process.communicate(timeout=120)
            assert process.returncode == 0, stderr
        async with store.connection() as conn:
            cur = await conn.execute("SELECT count(*) FROM timestep_test_functions_log")
            assert await cur.fetchone() == (1,)
        ours = load_functions()
        assert await recorded_functions(store) == (ours.revision, ours.checksum)
        assert await last_items_answer(store) is None
    finally:
        async with store.transaction() as conn:
            await conn.execute("DROP TRIGGER IF EXISTS timestep_test_log ON timestep_schema_functions")
            await conn.execute("DROP FUNCTION IF EXISTS timestep_test_log_functions()")
            await conn.execute("DROP TABLE IF EXISTS timestep_test_functions_log")
