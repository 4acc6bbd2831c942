"""Every fixture, translated into the other SDK, resumes exactly like that SDK's own run of the scenario.

For each scenario the other SDK's native fixture is the reference: same final output, same tools executed
on resume (never one that already ran), same model input, usage totals (with cached and reasoning tokens),
context, last agent, trace id, and the same new state when the run interrupts again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from conftest import drop_descriptions, normalize, run_js
from pyruntime import load_scenarios, resume, run_to_interruption

from timestep.translate import convert

NAMES = sorted(load_scenarios())


def _already_completed(state: dict[str, Any], *, raw: str, call_id: str) -> set[str]:
    outputs = {"tool_call_output_item", "handoff_output_item"}
    return {
        i[raw][call_id]
        for i in state["generatedItems" if raw == "rawItem" else "generated_items"]
        if i["type"] in outputs
    }


def _expected_executed(spec: dict[str, Any]) -> list[str]:
    approved = {d["call_id"] for d in spec["decided_before_save"] + spec["decisions"] if d["approve"]}
    calls = [i["call_id"] for t in spec["turns"] for i in t["items"] if "tool_call" in i]
    return [c for c in calls if c in approved]


def _comparable(result: dict[str, Any]) -> dict[str, Any]:
    """The result with its new state parsed, in the terms the two runs must agree on."""
    out = dict(result)
    if out["state"] is not None:
        state = json.loads(out["state"])
        span = state.get("currentAgentSpan")
        if span is not None:
            # The agent span's ids and clock times are per process, and its tool and handoff lists describe
            # the agent's code (TypeScript re-reads them when it starts the next span): compare what it binds.
            state["currentAgentSpan"] = {"trace_id": span["trace_id"], "agent": span["span_data"]["name"]}
        out["state"] = drop_descriptions(state)
    return normalize(out)


@pytest.fixture(scope="module")
def js_results(scenarios: dict[str, dict[str, Any]], fixture_text: Callable[[str, str], str]) -> dict[str, Any]:
    jobs = []
    for name in NAMES:
        spec = scenarios[name]
        jobs.append(
            {
                "id": f"{name}/native",
                "spec": spec,
                "state": fixture_text("typescript", name),
                "decisions": spec["decisions"],
            }
        )
        jobs.append(
            {
                "id": f"{name}/translated",
                "spec": spec,
                "state": convert(fixture_text("python", name), "typescript"),
                "decisions": spec["decisions"],
            }
        )
    return {r["id"]: r for r in run_js(jobs)}


@pytest.mark.parametrize("name", NAMES)
def test_python_state_resumes_in_typescript_like_native(
    name: str,
    js_results: dict[str, Any],
    scenarios: dict[str, dict[str, Any]],
    fixture_text: Callable[[str, str], str],
) -> None:
    native, translated = js_results[f"{name}/native"], js_results[f"{name}/translated"]
    assert native["ok"], native.get("error")
    assert translated["ok"], translated.get("error")
    spec = scenarios[name]
    ran_before = _already_completed(json.loads(fixture_text("python", name)), raw="raw_item", call_id="call_id")
    executed = [e["call_id"] for e in translated["result"]["executed"]]
    assert not ran_before & set(executed), "a tool that already ran was executed again"
    assert executed[: len(_expected_executed(spec))] == _expected_executed(spec)
    assert translated["result"]["trace_id"] == spec["trace"]["id"]
    assert _comparable(translated["result"]) == _comparable(native["result"])


@pytest.mark.parametrize("name", NAMES)
async def test_typescript_state_resumes_in_python_like_native(
    name: str, scenarios: dict[str, dict[str, Any]], fixture_text: Callable[[str, str], str]
) -> None:
    spec = scenarios[name]
    native = await resume(spec, fixture_text("python", name), spec["decisions"])
    translated = await resume(spec, convert(fixture_text("typescript", name), "python"), spec["decisions"])
    ran_before = _already_completed(json.loads(fixture_text("typescript", name)), raw="rawItem", call_id="callId")
    executed = [e["call_id"] for e in translated["executed"]]
    assert not ran_before & set(executed), "a tool that already ran was executed again"
    assert executed[: len(_expected_executed(spec))] == _expected_executed(spec)
    assert translated["trace_id"] == spec["trace"]["id"]
    assert _comparable(translated) == _comparable(native)


@pytest.mark.parametrize("name", NAMES)
def test_fixture_round_trips(name: str, fixture_text: Callable[[str, str], str]) -> None:
    """Python -> TypeScript -> Python keeps every field but descriptions of tools that ran earlier; the other
    way only TypeScript's per-process span and its copy of the run input for session persistence are not
    carried (Python has neither)."""
    python = json.loads(fixture_text("python", name))
    back_py = json.loads(convert(convert(json.dumps(python), "typescript"), "python"))
    assert drop_descriptions(back_py) == drop_descriptions(python)
    typescript = json.loads(fixture_text("typescript", name))
    back = json.loads(convert(convert(json.dumps(typescript), "python"), "typescript"))
    for state in (typescript, back):
        state.pop("currentAgentSpan")
        state.pop("currentTurnSessionInputItems", None)
    # Python does not record which call a sticky approval was given on, so the way back binds it to every
    # pending call it covers: a superset of TypeScript's bindings.
    bindings = {e["agentIdentity"]: e["invocations"] for e in back["context"].pop("approvalInvocations")}
    for entry in typescript["context"].pop("approvalInvocations"):
        assert entry["invocations"].items() <= bindings.pop(entry["agentIdentity"]).items()
    assert not bindings
    assert normalize(back) == normalize(typescript)


@pytest.mark.parametrize("name", NAMES)
async def test_states_saved_after_a_resume_translate_like_native(
    name: str,
    js_results: dict[str, Any],
    scenarios: dict[str, dict[str, Any]],
    fixture_text: Callable[[str, str], str],
) -> None:
    """When a resume interrupts again, each SDK's new state, translated, equals the other SDK's own."""
    spec = scenarios[name]
    python_new = (await resume(spec, fixture_text("python", name), spec["decisions"]))["state"]
    typescript_new = js_results[f"{name}/native"]["result"]["state"]
    assert (python_new is None) == (typescript_new is None)
    if python_new is None:
        return
    from_typescript = _comparable({"state": convert(typescript_new, "python")})
    assert from_typescript == _comparable({"state": python_new})
    from_python = _comparable({"state": convert(python_new, "typescript")})["state"]
    native = _comparable({"state": typescript_new})["state"]
    for state in (from_python, native):
        state.pop("currentTurnSessionInputItems", None)
    assert from_python == native


async def test_untraced_python_state_resumes_in_typescript(scenarios: dict[str, dict[str, Any]]) -> None:
    """A run saved with tracing disabled has no trace: TypeScript resumes it (in a new trace) all the same."""
    spec = scenarios["handoff_mixed_approvals"]
    state = await run_to_interruption(spec, traced=False)
    assert json.loads(state)["trace"] is None
    translated = json.loads(convert(state, "typescript"))
    assert translated["trace"] is None and "currentAgentSpan" not in translated
    [result] = run_js(
        [{"id": "untraced", "spec": spec, "state": json.dumps(translated), "decisions": spec["decisions"]}]
    )
    assert result["ok"], result.get("error")
    native = await resume(spec, state, spec["decisions"])
    for key in ("final_output", "executed", "usage", "last_agent"):
        assert result["result"][key] == native[key], key
    assert result["result"]["trace_id"] != spec["trace"]["id"]
