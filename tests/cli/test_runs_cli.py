"""``timestep runs``, ``approve``, ``reject`` and ``resume`` on both engines, as subprocesses."""

from __future__ import annotations

from tests.cli.conftest import cli, seed_interrupted, store_fingerprint
from timestep.store import Store

LISTING_KEYS = {"run_id", "agent", "status", "session_id", "language", "pending_approvals", "created_at",
                "updated_at"}
SHOW_KEYS = {"run_id", "agent", "status", "session_id", "language", "owner", "error", "input", "final_output",
             "created_at", "updated_at", "finished_at", "items", "tool_calls", "pending_approvals", "snapshots",
             "usage"}


async def test_runs_list_and_show(store: Store, store_location: str) -> None:
    empty = cli("runs", "list", store=store_location)
    assert (empty.code, empty.stdout.strip()) == (0, "No runs.")
    assert cli("runs", "list", "--json", store=store_location).json == {"runs": []}

    run_id = await seed_interrupted(store)
    table = cli("runs", "list", store=store_location)
    assert table.code == 0 and run_id in table.stdout and "interrupted" in table.stdout
    runs = cli("runs", "list", "--status", "interrupted", "--json", store=store_location).json["runs"]
    assert [set(r) for r in runs] == [LISTING_KEYS]
    assert runs[0] | {"created_at": None, "updated_at": None} == {
        "run_id": run_id, "agent": "host", "status": "interrupted", "session_id": "app", "language": "python",
        "pending_approvals": 1, "created_at": None, "updated_at": None,
    }
    assert cli("runs", "list", "--status", "completed", "--json", store=store_location).json == {"runs": []}
    assert cli("runs", "list", "--session", "other", "--json", store=store_location).json == {"runs": []}

    shown = cli("runs", "show", run_id, "--json", store=store_location).json
    assert set(shown) == SHOW_KEYS
    assert shown["pending_approvals"] == ["b1"]
    assert [(c["call_id"], c["status"]) for c in shown["tool_calls"]] == [("w1", "completed"),
                                                                          ("b1", "pending_approval")]
    assert [s["kind"] for s in shown["snapshots"]] == ["interrupted"]
    assert [i["kind"] for i in shown["items"]] == ["input", "tool_call", "tool_call_output", "tool_call",
                                                   "tool_approval"]
    assert (shown["usage"]["input_tokens"], shown["usage"]["cached_tokens"], shown["usage"]["output_tokens"],
            shown["usage"]["reasoning_tokens"]) == (30, 4, 8, 2)
    text = cli("runs", "show", run_id, store=store_location)
    assert text.code == 0
    assert "Waiting for approval: b1" in text.stdout and "weather" in text.stdout


async def test_approve_resume_to_completion(store: Store, store_location: str) -> None:
    run_id = await seed_interrupted(store)
    approved = cli("approve", run_id, "b1", "--by", "alice", "--json", store=store_location).json
    assert approved == {"run_id": run_id, "decision": "approved", "call_ids": ["b1"], "by": "alice",
                        "message": None}
    again = cli("approve", run_id, "b1", store=store_location)
    assert again.code == 1 and "already approved by alice" in again.stderr

    resumed = cli("resume", run_id, "--agent", "tests.cli.agents:resume_host", "--json", store=store_location).json
    assert resumed == {"run_id": run_id, "status": "completed", "final_output": "Booked for two at 19:00.",
                       "pending_approvals": []}
    shown = cli("runs", "show", run_id, "--json", store=store_location).json
    assert shown["status"] == "completed" and shown["pending_approvals"] == []
    assert [c["decided_by"] for c in shown["tool_calls"] if c["call_id"] == "b1"] == ["alice"]


async def test_reject_with_message(store: Store, store_location: str) -> None:
    run_id = await seed_interrupted(store)
    rejected = cli("reject", run_id, "b1", "--message", "fully booked", "--by", "bob", "--json",
                   store=store_location).json
    assert rejected == {"run_id": run_id, "decision": "rejected", "call_ids": ["b1"], "by": "bob",
                        "message": "fully booked"}
    calls = cli("runs", "show", run_id, "--json", store=store_location).json["tool_calls"]
    assert [(c["decision"], c["decision_message"]) for c in calls if c["call_id"] == "b1"] == [
        ("rejected", "fully booked")
    ]
    table = cli("runs", "show", run_id, store=store_location).stdout
    assert "rejected by bob: fully booked" in table  # the message the model was given, beside the decision


async def test_bad_decisions_change_nothing(store: Store, store_location: str) -> None:
    run_id = await seed_interrupted(store)
    before = await store_fingerprint(store)
    cases = [
        (("approve", "no-such-run"), 1, "no run 'no-such-run'"),
        (("approve", run_id, "zz", "b1"), 1, "no tool call 'zz' awaiting approval (pending: b1)"),
        (("approve", run_id, "b1", "--all"), 2, "give CALL ids or --all"),
        (("reject", run_id, "w1"), 1, "no tool call 'w1' awaiting approval"),
        (("reject", "no-such-run", "b1"), 1, "no run 'no-such-run'"),
        (("reject", run_id), 2, "the following arguments are required: CALL"),
        (("runs", "show", "no-such-run"), 1, "no run 'no-such-run'"),
        (("runs", "list", "--status", "sleeping"), 2, "invalid choice"),
        (("runs", "list", "--limit", "0"), 2, "at least 1"),
    ]
    for args, code, message in cases:
        outcome = cli(*args, store=store_location)
        assert outcome.code == code, (args, outcome)
        assert message in outcome.stderr, (args, outcome.stderr)
        if code == 1:
            assert outcome.stderr.startswith("timestep: ") and outcome.stdout == ""
    assert await store_fingerprint(store) == before


async def test_resume_errors_change_nothing(embedded_store: Store, embedded_dir: object) -> None:
    location = str(embedded_dir)
    run_id = await seed_interrupted(embedded_store)
    before = await store_fingerprint(embedded_store)
    undecided = cli("resume", run_id, "--agent", "tests.cli.agents:resume_host", store=location)
    assert undecided.code == 1 and "still waits for decisions on b1 (book)" in undecided.stderr
    cases = [
        ("nomodule_xyz:agent", "cannot import module 'nomodule_xyz'"),
        ("tests.cli.agents", "must be module:attribute"),
        ("tests.cli.agents:missing", "module 'tests.cli.agents' has no attribute 'missing'"),
        ("tests.cli.agents:not_an_agent", "is a int, not an agents.Agent"),
        ("tests.cli.agents:broken", "the agent factory failed"),
    ]
    for path, message in cases:
        outcome = cli("resume", run_id, "--agent", path, store=location)
        assert outcome.code == 1 and message in outcome.stderr, (path, outcome.stderr)
    assert cli("resume", "no-such-run", "--agent", "tests.cli.agents:resume_host", store=location).code == 1
    assert await store_fingerprint(embedded_store) == before
