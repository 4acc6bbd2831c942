"""RunStateStore: files and database snapshots, either SDK's format, and refusal of bad snapshots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from agents import Agent, RunConfig, RunState, set_trace_processors, set_tracing_disabled

from tests.runs.scenario import booking_turns, host
from timestep import RunStateStore, run_agent
from timestep.errors import RunStateError, SnapshotTooLargeError, UnsupportedSchemaVersionError
from timestep.store import Store


async def interrupted_state(store: Store) -> tuple[Agent[Any], RunState[Any, Any], str]:
    agent = host(booking_turns())
    result = await run_agent(agent, "Book a table for two — für zwei", context={"guest": "Zoë"}, store=store)
    return agent, result.state, result.run_id


async def test_file_store_round_trips_and_replaces_atomically(tmp_path: Path, store: Store) -> None:
    agent, state, _ = await interrupted_state(store)
    path = tmp_path / "state.json"
    states = RunStateStore(path, agent)
    await states.save(state)
    first = path.read_bytes()
    loaded = await states.load()
    assert [i.raw_item.call_id for i in loaded.get_interruptions()] == ["b1"]  # type: ignore[union-attr]
    await states.save(loaded)
    assert orjson.loads(path.read_bytes()) == orjson.loads(first)  # same state; key order may differ
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temporary file left behind


async def test_database_snapshots_list_load_delete(store: Store) -> None:
    agent, state, run_id = await interrupted_state(store)
    states = RunStateStore(agent, run_id=run_id, store=store)
    checkpoint = await states.save(state)
    snapshots = await states.list_snapshots()
    assert [(s.kind, s.language, s.sdk_version, s.schema_version) for s in snapshots] == [
        ("interrupted", "python", "0.24.0", "1.21"), ("checkpoint", "python", "0.24.0", "1.21"),
    ]
    loaded = await states.load(checkpoint)
    assert loaded.get_interruptions()[0].name == "book"
    assert await states.delete(checkpoint) == 1
    assert len(await states.list_snapshots()) == 1


async def test_tracing_api_key_is_never_stored(store: Store) -> None:
    set_trace_processors([])  # traces are made but exported nowhere
    set_tracing_disabled(False)
    try:
        result = await run_agent(
            host(booking_turns()), "hi", run_config=RunConfig(tracing={"api_key": "sk-trace-secret"}), store=store
        )
    finally:
        set_tracing_disabled(True)
    assert "sk-trace-secret" in orjson.dumps(result.state.to_json(include_tracing_api_key=True)).decode()
    async with store.connection() as conn:
        cur = await conn.execute("SELECT state::text FROM timestep_run_snapshots WHERE run_id = %s", (result.run_id,))
        row = await cur.fetchone()
    assert row is not None and "sk-trace-secret" not in row[0] and '"trace":{' in row[0]


async def test_typescript_format_is_written_and_read_back(tmp_path: Path, store: Store) -> None:
    agent, state, _ = await interrupted_state(store)
    path = tmp_path / "ts.json"
    await RunStateStore(path, agent, format="typescript").save(state)
    payload = orjson.loads(path.read_bytes())
    assert payload["$schemaVersion"] == "1.22" and "currentAgent" in payload
    loaded = await RunStateStore(path, agent).load()  # the reader detects the format
    assert [i.name for i in loaded.get_interruptions()] == ["book"]


@pytest.mark.parametrize(
    ("mutate", "error", "message"),
    [
        (lambda text: text[: len(text) // 2], RunStateError, "not valid JSON"),
        (lambda text: "[1, 2]", RunStateError, "JSON object"),
        (lambda text: text.replace('"$schemaVersion":"1.21"', '"$schemaVersion":"9.0"'),
         UnsupportedSchemaVersionError, r"'9\.0'.*supported: 1\.0.*1\.21"),
        (lambda text: text.replace('"current_agent"', '"someone"'), RunStateError, "names no current agent"),
    ],
)
async def test_bad_snapshots_are_refused_and_left_untouched(
    store: Store, tmp_path: Path, mutate: Any, error: type[Exception], message: str
) -> None:
    agent, state, _ = await interrupted_state(store)
    path = tmp_path / "state.json"
    await RunStateStore(path, agent).save(state)
    path.write_text(mutate(path.read_text()))
    before = path.read_bytes()
    with pytest.raises(error, match=message):
        await RunStateStore(path, agent).load()
    assert path.read_bytes() == before


async def test_oversize_snapshot_is_refused_and_nothing_is_stored(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent, state, run_id = await interrupted_state(store)
    states = RunStateStore(agent, run_id=run_id, store=store)
    monkeypatch.setenv("TIMESTEP_MAX_SNAPSHOT_BYTES", "1000")
    with pytest.raises(SnapshotTooLargeError, match="TIMESTEP_MAX_SNAPSHOT_BYTES"):
        await states.save(state)
    monkeypatch.delenv("TIMESTEP_MAX_SNAPSHOT_BYTES")
    assert len(await states.list_snapshots()) == 1
