"""``timestep db``, ``server`` and ``doctor`` on fresh stores, as subprocesses."""

from __future__ import annotations

import fcntl
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.cli.conftest import cli, cli_env
from tests.support.postgres_server import PostgresServer
from timestep.store.embedded_server import EmbeddedServer
from timestep.store.migrations import load_functions, load_migrations

LATEST = len(load_migrations())
FUNCTIONS = load_functions().revision


@pytest.fixture
def fresh_dir(tmp_path: Path) -> Iterator[str]:
    directory = tmp_path / "store"
    try:
        yield str(directory)
    finally:
        EmbeddedServer(directory, 1.0).stop()


@pytest.fixture
def fresh_url(postgres: PostgresServer) -> str:
    name = f"cli_{uuid.uuid4().hex[:12]}"
    postgres.psql(f"CREATE DATABASE {name}")
    return postgres.url(name)


@pytest.mark.parametrize("kind", ["embedded", "server"])
def test_db_status_and_migrate(kind: str, request: pytest.FixtureRequest) -> None:
    location = request.getfixturevalue("fresh_dir" if kind == "embedded" else "fresh_url")
    status = cli("db", "status", "--json", store=location).json
    assert (status["kind"], status["current_version"], status["latest_version"]) == (kind, 0, LATEST)
    assert [m["version"] for m in status["pending"]] == list(range(1, LATEST + 1))
    assert status["functions"] == {"revision": FUNCTIONS, "applied_revision": None, "pending": True,
                                   "applied_now": False}
    assert cli("db", "status", "--json", store=location).json["current_version"] == 0  # status changed nothing
    migrated = cli("db", "migrate", "--json", store=location).json
    assert (migrated["current_version"], migrated["pending"]) == (LATEST, [])
    assert migrated["applied_now"] == list(range(1, LATEST + 1))
    assert migrated["functions"] == {"revision": FUNCTIONS, "applied_revision": FUNCTIONS, "pending": False,
                                     "applied_now": True}
    again = cli("db", "migrate", store=location)
    assert again.code == 0 and "Up to date." in again.stdout
    assert "schema version" in cli("db", "status", store=location).stdout


def test_server_status_and_stop(fresh_dir: str, fresh_url: str) -> None:
    idle = cli("server", "status", "--json", store=fresh_dir).json
    assert (idle["running"], idle["pid"]) == (False, None)
    assert cli("db", "migrate", store=fresh_dir).code == 0  # starts the server
    running = cli("server", "status", "--json", store=fresh_dir).json
    assert running["running"] is True and running["pid"] > 0
    assert "is running" in cli("server", "status", store=fresh_dir).stdout
    stopped = cli("server", "stop", "--json", store=fresh_dir).json
    assert (stopped["stopped"], stopped["pid"]) == (True, running["pid"])
    assert cli("server", "status", "--json", store=fresh_dir).json["running"] is False
    assert "No server was running" in cli("server", "stop", store=fresh_dir).stdout
    on_url = cli("server", "status", store=fresh_url)
    assert on_url.code == 1 and "is a PostgreSQL server" in on_url.stderr


def test_doctor(fresh_dir: str, tmp_path: Path) -> None:
    healthy = cli("doctor", "--json", store=fresh_dir)
    report = healthy.json
    assert report["ok"] is True
    names = [c["name"] for c in report["checks"]]
    assert names == ["timestep", "node", "npm packages", "data directory", "lock owner", "server", "schema",
                     "price table"]
    assert all(set(c) == {"name", "outcome", "detail", "fix"} for c in report["checks"])
    assert "No problems found." in cli("doctor", store=fresh_dir).stdout

    no_node = cli("doctor", "--json", store=fresh_dir, env=cli_env(TIMESTEP_NODE=str(tmp_path / "no-node")))
    assert no_node.code == 1
    checks = {c["name"]: c for c in json.loads(no_node.stdout)["checks"]}
    assert checks["node"]["outcome"] == "problem" and "install node.js" in checks["node"]["fix"].lower()

    bad_prices = tmp_path / "prices.json"
    bad_prices.write_text("[]")
    priced = cli("doctor", store=fresh_dir, env=cli_env(TIMESTEP_PRICES=str(bad_prices)))
    assert priced.code == 1 and "price table" in priced.stdout

    unreachable = cli("doctor", "--json", store=f"postgresql://nobody@/none?host={tmp_path}")
    assert unreachable.code == 1
    assert "does not answer" in unreachable.stdout and "check that it runs" in unreachable.stdout


def test_doctor_names_a_lock_owner_that_does_not_answer(tmp_path: Path) -> None:
    data_dir = tmp_path / "store"
    data_dir.mkdir()
    with open(data_dir / "server.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        outcome = cli("doctor", "--json", store=str(data_dir))
        stuck = cli("server", "status", store=str(data_dir))
    assert outcome.code == 1
    checks = {c["name"]: c for c in json.loads(outcome.stdout)["checks"]}
    assert checks["lock owner"]["outcome"] == "problem" and str(os.getpid()) in checks["lock owner"]["detail"]
    assert "timestep server stop" in checks["server"]["fix"]
    assert checks["schema"]["outcome"] == "skipped"
    assert stuck.code == 0 and f"Process {os.getpid()} owns" in stuck.stdout


@pytest.mark.parametrize("kind", ["embedded", "server"])
def test_commands_that_only_read_leave_a_schema_that_is_behind_as_it_is(
    kind: str, request: pytest.FixtureRequest
) -> None:
    """An older timestep may still write to the store: looking at it must not upgrade it under that app."""
    location = request.getfixturevalue("fresh_dir" if kind == "embedded" else "fresh_url")
    assert cli("runs", "list", store=location).stdout == "No runs.\n"  # an empty database gets the schema
    conninfo = location if kind == "server" else EmbeddedServer(Path(location), 5.0).conninfo()
    with psycopg.connect(conninfo, autocommit=True) as conn:  # as an older timestep's functions would be
        conn.execute("UPDATE timestep_schema_functions SET checksum = 'older'")
    for args in [("runs", "list"), ("sessions", "list"), ("usage",), ("runs", "show", "r1")]:
        refused = cli(*args, store=location)
        assert refused.code == 1 and "Traceback" not in refused.stderr, (args, refused)
        assert "behind this timestep (pending: functions.sql)" in refused.stderr and "timestep db migrate" in (
            refused.stderr
        ), args
    assert cli("db", "status", "--json", store=location).json["functions"]["pending"] is True  # still as it was
    assert cli("db", "migrate", store=location).code == 0
    assert cli("runs", "list", store=location).stdout == "No runs.\n"
