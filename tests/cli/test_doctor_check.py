"""``timestep doctor --check``: damaged tables and indexes are found and named, an intact store passes."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

from tests.cli.conftest import cli, seed_interrupted
from tests.support.postgres_server import PostgresServer
from timestep.store import Store, open_store
from timestep.store.embedded_server import EmbeddedServer


async def test_an_intact_store_passes(store: Store, store_location: str) -> None:
    await seed_interrupted(store)
    await seed_interrupted(store, session="other")
    outcome = cli("doctor", "--check", "--json", store=store_location)
    report = outcome.json
    assert report["ok"] is True and report["findings"] == []
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["amcheck"]["outcome"] == "ok"
    assert checks["tables"]["outcome"] == checks["indexes"]["outcome"] == "ok"
    assert "10 tables" in checks["tables"]["detail"]  # timestep_migrations and timestep_schema_functions too
    if store.kind == "embedded":  # PGLite's clusters are made with data checksums on
        assert checks["data checksums"]["outcome"] == "ok"
    text = cli("doctor", "--check", store=store_location)
    assert text.code == 0 and "No problems found." in text.stdout


def damage(path: Path, offset: int) -> None:
    fd = os.open(path, os.O_RDWR)
    try:
        os.pwrite(fd, b"\xde\xad\xbe\xef" * 16, offset)
    finally:
        os.close(fd)


async def test_a_truncated_table_and_a_damaged_index_page_are_named(tmp_path: Path) -> None:
    data_dir = tmp_path / "store"
    try:
        async with open_store(data_dir) as store:
            for _ in range(3):
                await seed_interrupted(store)
            async with store.connection() as conn:
                await conn.execute("VACUUM ANALYZE timestep_runs")  # pg_class.relpages now says 1
                cur = await conn.execute("SELECT pg_relation_filepath('timestep_runs'),"
                                         " pg_relation_filepath('timestep_tool_calls_pkey')")
                row = await cur.fetchone()
        assert row is not None
        runs_file, index_file = (data_dir / "pgdata" / path for path in row)
        assert cli("doctor", "--check", store=str(data_dir)).code == 0
        EmbeddedServer(data_dir, 1.0).stop()
        assert runs_file.stat().st_size == 8192 and index_file.stat().st_size >= 2 * 8192
        os.truncate(runs_file, 0)
        damage(index_file, 8192 + 6000)  # block 1: the first page of entries, after the metapage

        # PostgreSQL reads a truncated table as an empty one, without an error:
        assert "No runs." in cli("runs", "list", store=str(data_dir)).stdout
        outcome = cli("doctor", "--check", "--json", store=str(data_dir))
    finally:
        EmbeddedServer(data_dir, 1.0).stop()
    assert outcome.code == 1
    report = json.loads(outcome.stdout)
    assert report["ok"] is False
    findings = report["findings"]
    on_runs = [f for f in findings if f["relation"] == "timestep_runs"]
    assert any("cut short" in f["message"] and f["block"] == 0 for f in on_runs), findings
    assert any("through index timestep_runs_pkey" in f["message"] and "could not read" in f["message"]
               for f in on_runs), findings
    on_index = [f for f in findings if f["relation"] == "timestep_tool_calls_pkey"]
    assert on_index and on_index[0]["kind"] == "index" and on_index[0]["block"] == 1, findings
    assert "bt_index_check" in on_index[0]["message"]
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["tables"]["outcome"] == "problem" and "timestep_runs" in checks["tables"]["detail"]
    assert checks["indexes"]["outcome"] == "problem" and "timestep_tool_calls_pkey" in checks["indexes"]["detail"]
    text = cli("doctor", "--check", store=str(data_dir))
    EmbeddedServer(data_dir, 1.0).stop()
    assert text.code == 1 and "timestep_runs" in text.stdout and "corruption found" in text.stdout


def test_a_role_that_may_not_install_amcheck_is_told_the_fix(postgres: PostgresServer) -> None:
    name = f"plain_{uuid.uuid4().hex[:12]}"
    postgres.psql(f"CREATE ROLE {name} LOGIN")
    postgres.psql(f"CREATE DATABASE {name} OWNER {name}")
    url = postgres.url(name).replace("postgres@", f"{name}@", 1)
    assert cli("db", "migrate", store=url).code == 0
    outcome = cli("doctor", "--check", "--json", store=url)
    assert outcome.code == 1
    checks = {c["name"]: c for c in json.loads(outcome.stdout)["checks"]}
    assert checks["amcheck"]["outcome"] == "problem"
    assert "superuser" in checks["amcheck"]["fix"] and f"CREATE EXTENSION amcheck; in database {name}" in \
        checks["amcheck"]["fix"].replace("`", "")
    assert "tables" not in checks
