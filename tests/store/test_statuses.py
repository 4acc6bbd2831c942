"""The statuses and kinds the library names are exactly those the schema's CHECK constraints allow."""

from __future__ import annotations

import re
from enum import StrEnum

import pytest

from tests.support.queries import fetch
from timestep.durable.statuses import FINISHED, RunStatus, SnapshotKind, ToolCallStatus
from timestep.store import Store

COLUMNS: list[tuple[str, str, type[StrEnum]]] = [
    ("timestep_runs", "status", RunStatus),
    ("timestep_tool_calls", "status", ToolCallStatus),
    ("timestep_run_snapshots", "kind", SnapshotKind),
]


async def allowed_values(store: Store, table: str, column: str) -> set[str]:
    """The values a CHECK constraint of ``table`` allows in ``column``, as the database states it."""
    rows = await fetch(
        store,
        "SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid"
        " WHERE t.relname = %s AND c.contype = 'c'",
        table,
    )
    for (definition,) in rows:
        if re.search(rf"\b{column}\b", definition):
            return set(re.findall(r"'([^']*)'::text", definition))
    raise AssertionError(f"no CHECK constraint on {table}.{column}")


@pytest.mark.parametrize(("table", "column", "enum"), COLUMNS, ids=[f"{t}.{c}" for t, c, _ in COLUMNS])
async def test_each_enum_is_what_the_schema_allows(store: Store, table: str, column: str, enum: type[StrEnum]) -> None:
    assert await allowed_values(store, table, column) == {member.value for member in enum}


def test_finished_runs_are_those_with_nothing_left_to_resume() -> None:
    assert set(RunStatus) - FINISHED == {RunStatus.RUNNING, RunStatus.INTERRUPTED}
