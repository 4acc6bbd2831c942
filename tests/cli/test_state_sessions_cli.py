"""``timestep state export|import|convert`` and ``timestep sessions list|show|clear``, as subprocesses."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from tests.cli.conftest import cli, seed_interrupted, store_fingerprint
from timestep.store import Store


async def stored_state(store: Store, run_id: str) -> str:
    async with store.connection() as conn:
        cur = await conn.execute(
            "SELECT state::text FROM timestep_run_snapshots WHERE run_id = %s ORDER BY id DESC LIMIT 1", (run_id,)
        )
        row = await cur.fetchone()
    assert row is not None
    return str(row[0])


async def test_export_convert_import(store: Store, store_location: str, tmp_path: Path) -> None:
    run_id = await seed_interrupted(store)
    exported = cli("state", "export", run_id, store=store_location)
    assert exported.code == 0
    assert json.loads(exported.stdout) == json.loads(await stored_state(store, run_id))

    ts_file = tmp_path / "state.ts.json"
    written = cli("state", "export", run_id, "--format", "typescript", "-o", str(ts_file), "--json",
                  store=store_location).json
    assert written == {"path": str(ts_file), "format": "typescript", "size_bytes": ts_file.stat().st_size - 1,
                       "run_id": run_id, "snapshot_id": written["snapshot_id"]}
    assert "currentAgent" in json.loads(ts_file.read_text())

    back = cli("state", "convert", "--to", "python", input=ts_file.read_text())  # stdin to stdout
    assert back.code == 0 and json.loads(back.stdout)["current_agent"] == {"name": "host"}
    out = tmp_path / "back.json"
    assert cli("state", "convert", "--to", "python", str(ts_file), str(out)).code == 0
    assert json.loads(out.read_text()) == json.loads(back.stdout)

    imported = cli("state", "import", str(ts_file), "--run-id", "imported-1", "--json", store=store_location).json
    assert (imported["run_id"], imported["format"], imported["pending_approvals"]) == (
        "imported-1", "typescript", ["b1"]
    )
    from_stdin = cli("state", "import", "-", "--run-id", "imported-2", "--json", input=exported.stdout,
                     store=store_location).json
    assert (from_stdin["format"], from_stdin["pending_approvals"]) == ("python", ["b1"])
    listed = cli("runs", "list", "--status", "interrupted", "--json", store=store_location).json["runs"]
    assert {(r["run_id"], r["pending_approvals"]) for r in listed} == {
        (run_id, 1), ("imported-1", 1), ("imported-2", 1)
    }
    original = cli("runs", "show", run_id, "--json", store=store_location).json
    for imported_id, language in (("imported-1", "typescript"), ("imported-2", "python")):
        shown = cli("runs", "show", imported_id, "--json", store=store_location).json
        assert [s["language"] for s in shown["snapshots"]] == [language]
        assert [(i["kind"], i["text"]) for i in shown["items"]] == [(i["kind"], i["text"]) for i in original["items"]]


async def test_bad_state_input_changes_nothing(embedded_store: Store, embedded_dir: Path, tmp_path: Path) -> None:
    store, store_location = embedded_store, str(embedded_dir)
    run_id = await seed_interrupted(store)
    before = await store_fingerprint(store)
    malformed = tmp_path / "malformed.json"
    malformed.write_text('{"current_agent": {"name": "host"}, ')
    out = tmp_path / "out.json"
    cases = [
        (("state", "import", str(malformed)), "not valid JSON"),
        (("state", "import", str(tmp_path / "missing.json")), "cannot read"),
        (("state", "import", str(tmp_path)), "cannot read"),
        (("state", "export", "no-such-run"), "no run 'no-such-run'"),
        (("state", "export", run_id, "--snapshot", "999"), "has no snapshot 999"),
        (("state", "convert", "--to", "typescript", str(malformed), str(out)), "not valid JSON"),
        (("state", "convert", "--to", "python", str(tmp_path / "missing.json")), "cannot read"),
    ]
    for args, message in cases:
        outcome = cli(*args, store=store_location)
        assert outcome.code == 1 and message in outcome.stderr, (args, outcome)
    assert not out.exists()
    garbage = cli("state", "convert", "--to", "python", input="[1, 2")
    assert garbage.code == 1 and "not valid JSON" in garbage.stderr
    same = cli("state", "convert", "--to", "python", input=await stored_state(store, run_id))
    assert same.code == 1 and "already in the python format" in same.stderr
    assert cli("state", "convert", "IN").code == 2  # --to is required
    assert await store_fingerprint(store) == before


async def test_sessions(store: Store, store_location: str) -> None:
    assert cli("sessions", "list", "--json", store=store_location).json == {"sessions": []}
    run_id = await seed_interrupted(store, session="chat-1")
    listed = cli("sessions", "list", "--json", store=store_location).json["sessions"]
    assert [(s["session_id"], s["items"]) for s in listed] == [("chat-1", 4)]
    assert set(listed[0]) == {"session_id", "items", "created_at", "updated_at"}
    shown = cli("sessions", "show", "chat-1", "--json", store=store_location).json
    assert shown["item_count"] == 4 and len(shown["items"]) == 4
    assert shown["items"][0] == {"content": "Book a table for two", "role": "user"}
    assert [r["run_id"] for r in shown["runs"]] == [run_id]
    last = cli("sessions", "show", "chat-1", "--limit", "1", store=store_location)
    assert last.code == 0 and "last 1 of 4 items" in last.stdout

    before = await store_fingerprint(store)
    unconfirmed = cli("sessions", "clear", "chat-1", store=store_location)  # stdin is not a terminal
    assert unconfirmed.code == 1 and "pass --yes" in unconfirmed.stderr
    for args in (("show", "nope"), ("clear", "nope", "--yes")):
        missing = cli("sessions", *args, store=store_location)
        assert missing.code == 1 and "no session 'nope'" in missing.stderr
    assert await store_fingerprint(store) == before

    cleared = cli("sessions", "clear", "chat-1", "--yes", "--json", store=store_location).json
    assert cleared == {"session_id": "chat-1", "removed_items": 4}
    assert cli("sessions", "show", "chat-1", "--json", store=store_location).json["item_count"] == 0


async def test_malformed_states_are_refused_by_path(embedded_store: Store, embedded_dir: Path, tmp_path: Path) -> None:
    store, store_location = embedded_store, str(embedded_dir)
    run_id = await seed_interrupted(store)
    before = await store_fingerprint(store)
    state = json.loads(await stored_state(store, run_id))
    interruption = "$.current_step.data.interruptions[0]"

    def variant(change: Callable[[dict[str, Any]], None]) -> str:
        copy = json.loads(json.dumps(state))
        change(copy)
        return json.dumps(copy)

    def step_data(copy: dict[str, Any]) -> dict[str, Any]:
        return cast(dict[str, Any], copy["current_step"]["data"])

    deep_list = "[" * 200_000 + "]" * 200_000
    deep_context = variant(lambda s: s["context"].update(context={"deep": "DEEP"})).replace(
        '"DEEP"', '{"a":' * 1000 + "1" + "}" * 1000)
    imports = [
        (variant(lambda s: step_data(s).update(interruptions=["x"])),
         f"{interruption}: expected an object, got a string"),
        (variant(lambda s: step_data(s)["interruptions"][0].update(raw_item="x")),
         f"{interruption}.raw_item: expected an object, got a string"),
        (variant(lambda s: step_data(s)["interruptions"][0]["raw_item"].update(call_id=["b1"])),
         f"{interruption}.raw_item.call_id: expected a string, got an array"),
        (variant(lambda s: step_data(s).update(interruptions=5)), "interruptions: expected an array, got int"),
        (variant(lambda s: s["current_step"].update(data="x")), "$.current_step.data: expected an object"),
        (variant(lambda s: s.update(current_agent="host")), "$.current_agent: expected an object, got a string"),
        (variant(lambda s: s.update({"$schemaVersion": ["1.21"]})), "$.$schemaVersion: expected a version string"),
        (deep_list, "the snapshot is not valid JSON"),
    ]
    for text, message in imports:
        path = tmp_path / "state.json"
        path.write_text(text)
        outcome = cli("state", "import", str(path), store=store_location)
        assert outcome.code == 1, (message, outcome.stderr[-2000:])
        assert outcome.stderr.startswith(f"timestep: {path}: ") and message in outcome.stderr, outcome.stderr
    conversions = [(deep_list, "nested too deeply to read"), (deep_context, "nested too deeply to translate")]
    for text, message in conversions:
        outcome = cli("state", "convert", "--to", "typescript", input=text)
        assert outcome.code == 1 and outcome.stderr.startswith("timestep: standard input: "), outcome.stderr[-2000:]
        assert message in outcome.stderr
    assert await store_fingerprint(store) == before
