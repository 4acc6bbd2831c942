"""Bad settings and arguments get a ``timestep:`` message (or a usage error), never a traceback."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import cli, cli_env
from timestep.store import Store
from timestep.store.embedded_server import EmbeddedServer


def test_idle_timeouts_that_no_server_can_wait_for_are_refused(tmp_path: Path) -> None:
    location = tmp_path / "store"
    for value in ("nan", "inf", "-inf", "Infinity", "1e400", "0", "0.0001", "-5", "soon"):
        outcome = cli("runs", "list", store=str(location), env=cli_env(TIMESTEP_IDLE_TIMEOUT=value))
        assert outcome.code == 1, (value, outcome)
        assert outcome.stderr == (
            f"timestep: TIMESTEP_IDLE_TIMEOUT={value!r} must be a number of seconds from 0.001 to 1e+09 (the "
            "default is 30); set it to one, or unset it\n"
        ), value
    assert not location.exists()
    try:
        fine = cli("runs", "list", store=str(location), env=cli_env(TIMESTEP_IDLE_TIMEOUT="2.5"))
    finally:
        EmbeddedServer(location, 1).stop()
    assert (fine.code, fine.stdout) == (0, "No runs.\n")


def test_ids_the_store_cannot_hold_are_usage_errors_before_anything_opens(tmp_path: Path) -> None:
    """A byte that is not UTF-8 in an argument arrives as a lone surrogate; psycopg could not encode it."""
    location = tmp_path / "store"
    not_utf8 = "ab\udcffc"  # subprocess passes it on as the byte 0xff
    commands = [
        ("sessions", "show", not_utf8), ("sessions", "clear", not_utf8, "--yes"), ("runs", "show", not_utf8),
        ("runs", "list", "--session", not_utf8), ("approve", not_utf8), ("reject", "r", not_utf8),
        ("state", "export", not_utf8), ("usage", "--run", not_utf8), ("runs", "show", "r" * 256),
    ]
    for args in commands:
        outcome = cli(*args, store=str(location))
        assert outcome.code == 2, (args, outcome)
        assert "Traceback" not in outcome.stderr and "ids are 1 to 255 characters" in outcome.stderr, args
    assert not location.exists()


async def test_a_database_failure_is_a_message_and_exit_code_1(store: Store, store_location: str) -> None:
    async with store.connection() as conn:
        await conn.execute("ALTER TABLE timestep_runs RENAME TO timestep_runs_aside")
    try:
        outcome = cli("runs", "list", store=store_location)
    finally:
        async with store.connection() as conn:
            await conn.execute("ALTER TABLE timestep_runs_aside RENAME TO timestep_runs")
    assert outcome.code == 1, outcome
    assert outcome.stderr.startswith("timestep: ") and outcome.stderr.count("\n") == 1, outcome.stderr
    assert "the database failed a statement with SQLSTATE 42P01 (UndefinedTable: " in outcome.stderr
    assert "Traceback" not in outcome.stderr and outcome.stdout == ""
