"""A run crosses between the Python and the TypeScript SDK through the store, in separate processes.

Python to TypeScript: a scenario is interrupted with ``timestep.run_agent``, handed over with a TypeScript
snapshot, decided with ``timestep.approve``/``reject`` and resumed by ``node conformance/js/store_run.mjs
resume``. TypeScript to Python: ``store_run.mjs start`` interrupts it in Node, and a second Python process
decides and resumes it with ``timestep.resume_run``. Either way the store ends with the run completed, its
final output, every tool call once (approved tools executed once, rejected ones never), the usage of every
model request and a session without duplicates. Runs on the embedded engine and on a PostgreSQL server.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import JS_DIR, _node_env, _require_node
from pyruntime import ROOT, SCENARIOS, _turns, build_graph, input_items, load_scenarios

import timestep
from tests.support.queries import fetch
from timestep.run_state_store import RunStateStore
from timestep.session import TimestepSession
from timestep.store import Store
from timestep.testing import ScriptedModel

SPECS = load_scenarios()

# (scenario, decisions): each decision approves, or rejects with the message the model is given instead.
CASES = {
    "approve": ("multi_turn_tools", [{"call_id": "call_publish_1", "approve": True}]),
    "reject": ("single_rejection", [{"call_id": "call_delete_1", "approve": False, "message": "Not today."}]),
    "handoff_mixed": (
        "handoff_mixed_approvals",
        [
            {"call_id": "call_book_1", "approve": True},
            {"call_id": "call_charge_1", "approve": False, "message": "Karte abgelehnt - bitte bar zahlen"},
            {"call_id": "call_notify_1", "approve": True},
        ],
    ),
}


def store_run(*args: str) -> tuple[int, dict[str, Any]]:
    """``node store_run.mjs ARGS`` in its own process: exit code and its one JSON line."""
    proc = subprocess.run(
        [_require_node(), str(JS_DIR / "store_run.mjs"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=_node_env(),
    )
    lines = proc.stdout.strip().splitlines()
    assert lines, f"store_run.mjs printed nothing: {proc.stderr[-3000:]}"
    return proc.returncode, json.loads(lines[-1])


def python_resume(location: str, run_id: str, scenario: str, decisions: list[dict[str, Any]]) -> dict[str, Any]:
    """Decide and resume in a separate Python process."""
    proc = subprocess.run(
        [sys.executable, "-m", "tests.conformance.store_path_app", location, run_id, scenario, json.dumps(decisions)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "OPENAI_AGENTS_DISABLE_TRACING": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return dict(json.loads(proc.stdout.splitlines()[-1]))


async def interrupt_in_python(store: Store, spec: dict[str, Any], session_id: str) -> tuple[str, Any]:
    """Run the scenario with ``timestep.run_agent`` to its interruption; the run id and its graph's start."""
    graph = build_graph(spec, ScriptedModel(_turns(spec["turns"]), id_prefix="scripted"))
    result = await timestep.run_agent(
        graph.start,
        input_items(spec),
        session=TimestepSession(session_id, store=store),
        store=store,
        context=copy.deepcopy(spec["context"]),
        max_turns=spec["max_turns"],
    )
    assert result.interruptions
    return str(result.run_id), (graph.start, result.state)


async def decide(store: Store, run_id: str, decisions: list[dict[str, Any]]) -> None:
    for d in decisions:
        if d["approve"]:
            await timestep.approve(run_id, d["call_id"], store=store)
        else:
            await timestep.reject(run_id, d["call_id"], message=d.get("message"), store=store)


def calls_of(spec: dict[str, Any]) -> list[str]:
    return [i["call_id"] for t in spec["turns"] for i in t["items"] if "tool_call" in i or "handoff" in i]


def final_text(spec: dict[str, Any]) -> str:
    return str([i["text"] for i in spec["resume_turns"][-1]["items"] if "text" in i][-1])


async def assert_completed(
    store: Store,
    run_id: str,
    spec: dict[str, Any],
    decisions: list[dict[str, Any]],
    session_id: str,
    language: str,
    finished_in: str,
) -> None:
    """What the store must hold once the run finished in the other language."""
    final = final_text(spec)
    [(status, owner, output, run_language)] = await fetch(
        store, "SELECT status, owner, final_output::text, language FROM timestep_runs WHERE run_id = %s", run_id
    )
    assert (status, owner, json.loads(output), run_language) == ("completed", None, final, language)

    tools = {t["name"]: t for t in spec["tools"]}
    decided = {d["call_id"]: d for d in decisions}
    names = {i["call_id"]: i.get("tool_call") for t in spec["turns"] for i in t["items"] if "call_id" in i}
    found = {
        r[0]: r[1:]
        for r in await fetch(
            store,
            "SELECT call_id, status, output, needs_approval, decision FROM timestep_tool_calls WHERE run_id = %s",
            run_id,
        )
    }
    assert sorted(found) == sorted(calls_of(spec))
    for call_id, (call_status, call_output, needs_approval, decision) in found.items():
        name = names[call_id]
        if name is None:  # a handoff
            assert call_status == "completed" and call_output
        elif call_id in decided and not decided[call_id]["approve"]:
            assert (call_status, decision, needs_approval) == ("rejected", "rejected", True)
            assert call_output == decided[call_id]["message"]
        else:
            assert (call_status, call_output) == ("completed", tools[name]["output"])
            assert needs_approval == bool(tools[name]["needs_approval"])

    turns = spec["turns"] + spec["resume_turns"]
    [totals] = await fetch(
        store,
        "SELECT sum(requests), sum(input_tokens), sum(output_tokens), sum(cached_tokens),"
        " sum(reasoning_tokens), sum(total_tokens) FROM timestep_usage WHERE run_id = %s",
        run_id,
    )
    usage = [t.get("usage", {}) for t in turns]
    expected = [
        len(turns),
        *(
            sum(u.get(k, 0) for u in usage)
            for k in ("input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens")
        ),
        sum(u.get("input_tokens", 0) + u.get("output_tokens", 0) for u in usage),
    ]
    assert [int(v) for v in totals] == expected

    [(kind, snapshot_language)] = await fetch(
        store, "SELECT kind, language FROM timestep_run_snapshots WHERE run_id = %s ORDER BY id DESC LIMIT 1", run_id
    )
    assert kind == "final"
    assert snapshot_language == finished_in

    items = await TimestepSession(session_id, store=store).get_items()
    encoded = [json.dumps(i, sort_keys=True) for i in items]
    assert len(set(encoded)) == len(encoded), "a session item was written twice"
    assert [i["call_id"] for i in items if i.get("type") == "function_call"] == calls_of(spec)
    assert Counter(i["call_id"] for i in items if i.get("type") == "function_call_output") == Counter(calls_of(spec))
    assert items[-1]["role"] == "assistant" and items[-1]["content"][0]["text"] == final
    assert await fetch(
        store,
        "SELECT count(*) FROM timestep_session_items WHERE session_id = %s AND run_id IS DISTINCT FROM %s",
        session_id,
        run_id,
    ) == [(0,)]


def approved(decisions: list[dict[str, Any]]) -> list[str]:
    return [d["call_id"] for d in decisions if d["approve"]]


@pytest.mark.parametrize("case", sorted(CASES))
async def test_python_run_resumes_in_typescript(case: str, store: Store, store_location: str) -> None:
    name, decisions = CASES[case]
    spec = SPECS[name]
    run_id, (agent, state) = await interrupt_in_python(store, spec, f"s-{case}")
    await RunStateStore(agent, run_id=run_id, store=store, format="typescript").save(state, kind="interrupted")
    await decide(store, run_id, decisions)

    code, outcome = store_run(
        "resume", "--store", store_location, "--run", run_id, "--spec", str(SCENARIOS / f"{name}.json")
    )

    assert code == 0, outcome
    assert (outcome["status"], outcome["final_output"]) == ("completed", final_text(spec))
    assert [e["call_id"] for e in outcome["executed"]] == approved(decisions)
    await assert_completed(store, run_id, spec, decisions, f"s-{case}", "python", "typescript")


@pytest.mark.parametrize("case", ["approve", "handoff_mixed"])
async def test_typescript_run_resumes_in_python(case: str, store: Store, store_location: str) -> None:
    name, decisions = CASES[case]
    spec = SPECS[name]
    code, started = store_run(
        "start", "--store", store_location, "--spec", str(SCENARIOS / f"{name}.json"), "--session", f"s-{case}"
    )
    assert code == 0, started
    run_id = started["run_id"]
    pending = {d["call_id"] for d in decisions}
    assert set(started["interruptions"]) == pending
    assert await fetch(store, "SELECT status, owner, language FROM timestep_runs WHERE run_id = %s", run_id) == [
        ("interrupted", None, "typescript")
    ]
    assert sorted(
        r[0]
        for r in await fetch(
            store,
            "SELECT call_id FROM timestep_tool_calls WHERE run_id = %s AND status = 'pending_approval'"
            " AND needs_approval",
            run_id,
        )
    ) == sorted(pending)

    resumed = python_resume(store_location, run_id, name, decisions)

    assert resumed["final_output"] == final_text(spec)
    assert [e["call_id"] for e in resumed["executed"]] == approved(decisions)
    await assert_completed(store, run_id, spec, decisions, f"s-{case}", "typescript", "python")


async def _unchanged(store: Store, run_id: str) -> list[Any]:
    return [
        await fetch(
            store, "SELECT status, owner, error, updated_at, lease_until FROM timestep_runs WHERE run_id = %s", run_id
        ),
        await fetch(
            store,
            "SELECT call_id, status, decision, output FROM timestep_tool_calls WHERE run_id = %s ORDER BY call_id",
            run_id,
        ),
        await fetch(store, "SELECT id FROM timestep_run_snapshots WHERE run_id = %s ORDER BY id", run_id),
        await fetch(store, "SELECT count(*) FROM timestep_usage WHERE run_id = %s", run_id),
        await fetch(store, "SELECT count(*) FROM timestep_session_items"),
    ]


async def test_a_python_snapshot_is_refused_and_nothing_changes(store: Store, store_location: str) -> None:
    spec = SPECS["single_rejection"]
    run_id, _ = await interrupt_in_python(store, spec, "s-python")
    await timestep.approve(run_id, store=store)
    before = await _unchanged(store, run_id)

    code, outcome = store_run(
        "resume", "--store", store_location, "--run", run_id, "--spec", str(SCENARIOS / "single_rejection.json")
    )

    assert code == 1 and outcome["code"] == "wrong_format"
    assert "python's format" in outcome["error"] and 'format="typescript"' in outcome["error"]
    assert await _unchanged(store, run_id) == before


async def test_a_run_with_undecided_calls_is_refused(store: Store, store_location: str) -> None:
    spec = SPECS["handoff_mixed_approvals"]
    run_id, (agent, state) = await interrupt_in_python(store, spec, "s-undecided")
    await RunStateStore(agent, run_id=run_id, store=store, format="typescript").save(state, kind="interrupted")
    await timestep.approve(run_id, "call_book_1", store=store)
    before = await _unchanged(store, run_id)

    code, outcome = store_run(
        "resume", "--store", store_location, "--run", run_id, "--spec", str(SCENARIOS / "handoff_mixed_approvals.json")
    )

    assert code == 1 and outcome["code"] == "not_resumable"
    assert "call_charge_1 (charge)" in outcome["error"] and "call_notify_1 (notify)" in outcome["error"]
    assert await _unchanged(store, run_id) == before


async def test_a_failed_resume_gives_the_run_back_or_marks_it_failed(
    store: Store, store_location: str, tmp_path: Path
) -> None:
    """An error before the model was asked or a tool ran leaves the run interrupted; after, it failed."""
    spec = SPECS["single_rejection"]
    run_id, (agent, state) = await interrupt_in_python(store, spec, "s-fail")
    await RunStateStore(agent, run_id=run_id, store=store, format="typescript").save(state, kind="interrupted")
    await timestep.approve(run_id, store=store)

    renamed = tmp_path / "renamed.json"
    renamed.write_text(json.dumps({**spec, "start_agent": "other", "agents": [{**spec["agents"][0], "name": "other"}]}))
    code, outcome = store_run("resume", "--store", store_location, "--run", run_id, "--spec", str(renamed))
    assert code == 1 and outcome["status"] == "interrupted", outcome
    assert await fetch(store, "SELECT status, owner FROM timestep_runs WHERE run_id = %s", run_id) == [
        ("interrupted", None)
    ]

    unscripted = tmp_path / "unscripted.json"
    unscripted.write_text(json.dumps({**spec, "resume_turns": []}))
    code, outcome = store_run("resume", "--store", store_location, "--run", run_id, "--spec", str(unscripted))
    assert code == 1 and outcome["status"] == "failed", outcome
    [(status, owner, error)] = await fetch(
        store, "SELECT status, owner, error FROM timestep_runs WHERE run_id = %s", run_id
    )
    assert (status, owner) == ("failed", None) and "ScriptedModel(resume) was called 1 times" in error


async def test_a_run_interrupted_again_in_typescript_finishes_in_python(store: Store, store_location: str) -> None:
    spec = SPECS["handoff_chain_reinterrupt"]
    run_id, (agent, state) = await interrupt_in_python(store, spec, "s-again")
    await RunStateStore(agent, run_id=run_id, store=store, format="typescript").save(state, kind="interrupted")
    await timestep.approve(run_id, store=store)

    code, outcome = store_run(
        "resume",
        "--store",
        store_location,
        "--run",
        run_id,
        "--spec",
        str(SCENARIOS / "handoff_chain_reinterrupt.json"),
    )

    assert code == 0, outcome
    assert (outcome["status"], outcome["interruptions"]) == ("interrupted", ["call_close_1"])
    assert await fetch(store, "SELECT status, owner FROM timestep_runs WHERE run_id = %s", run_id) == [
        ("interrupted", None)
    ]
    assert await fetch(
        store,
        "SELECT status, needs_approval FROM timestep_tool_calls WHERE run_id = %s AND call_id = 'call_close_1'",
        run_id,
    ) == [("pending_approval", True)]
    assert await fetch(
        store, "SELECT kind, language FROM timestep_run_snapshots WHERE run_id = %s ORDER BY id DESC LIMIT 1", run_id
    ) == [("interrupted", "typescript")]

    rest = {**spec, "turns": spec["turns"] + spec["resume_turns"][:1], "resume_turns": spec["resume_turns"][1:]}
    await timestep.approve(run_id, store=store)
    graph = build_graph(rest, ScriptedModel(_turns(rest["resume_turns"]), id_prefix="resume"))
    result = await timestep.resume_run(graph.start, run_id, store=store, max_turns=spec["max_turns"])

    assert result.final_output == "Refunded and closed."
    assert graph.executed == [{"tool": "close_ticket", "call_id": "call_close_1"}]
    decisions = [{"call_id": "call_refund_1", "approve": True}, {"call_id": "call_close_1", "approve": True}]
    await assert_completed(store, run_id, rest, decisions, "s-again", "python", "python")
