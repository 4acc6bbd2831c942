"""Shared fixtures: every store test runs on the embedded PGLite engine and on a PostgreSQL server."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.support.postgres_server import PostgresServer, start_postgres
from timestep.store import Store, open_store
from timestep.store.embedded_server import EmbeddedServer

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
BACKENDS = ("embedded", "server")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = start_postgres()
    if server is None:
        message = "PostgreSQL's binaries (initdb, pg_ctl) are not installed: apt-get install postgresql"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def embedded_dir() -> Iterator[Path]:
    """One embedded data directory for the whole run; tests start from emptied tables."""
    root = Path(tempfile.mkdtemp(prefix="timestep-test-"))
    try:
        yield root / "store"
    finally:
        EmbeddedServer(root / "store", 1.0).stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def server_url(postgres: PostgresServer) -> str:
    postgres.psql("CREATE DATABASE timestep_test")
    return postgres.url("timestep_test")


@pytest.fixture(params=BACKENDS)
def store_location(request: pytest.FixtureRequest) -> str:
    if request.param == "embedded":
        return str(request.getfixturevalue("embedded_dir"))
    return str(request.getfixturevalue("server_url"))


@pytest.fixture
async def store(store_location: str) -> AsyncIterator[Store]:
    """An open store with every timestep table emptied."""
    async with open_store(store_location) as opened:
        await empty_tables(opened)
        yield opened


async def empty_tables(store: Store) -> None:
    async with store.connection() as conn:
        cur = await conn.execute(
            "SELECT string_agg(quote_ident(tablename), ', ') FROM pg_tables"
            " WHERE schemaname = current_schema() AND tablename LIKE 'timestep\\_%'"
            " AND tablename NOT IN ('timestep_migrations', 'timestep_schema_functions')"
        )
        row = await cur.fetchone()
        assert row and row[0]
        await conn.execute(f"TRUNCATE {row[0]} RESTART IDENTITY CASCADE")


@pytest.fixture
async def embedded_store(embedded_dir: Path) -> AsyncIterator[Store]:
    """An open embedded store with every timestep table emptied, for tests of the PGLite engine itself."""
    async with open_store(embedded_dir) as opened:
        await empty_tables(opened)
        yield opened


os.environ.setdefault("OPENAI_AGENTS_DISABLE_TRACING", "1")  # tests make no network calls
# No test may touch the user's own default store: anything that falls back to it gets a throwaway one.
os.environ["TIMESTEP_HOME"] = tempfile.mkdtemp(prefix="timestep-default-home-")
os.environ.pop("TIMESTEP_DATABASE_URL", None)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Stop the throwaway default store's server, if a test started it, and remove the directory."""
    home = Path(os.environ["TIMESTEP_HOME"])
    EmbeddedServer(home, 1.0).stop()
    shutil.rmtree(home, ignore_errors=True)
