"""Property tests: the binding algorithms against both real SDKs, and generated scenarios end to end.

Node start-up dominates, so each test first lets Hypothesis generate all its cases (checking everything
Python-side there, with shrinking), then sends the whole batch to one Node process.
"""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

import pytest
from agents._tool_invocation import tool_invocation_identity_and_scope
from conftest import drop_descriptions, node_json, run_js
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyruntime import resume, run_to_interruption
from strategies import ARGUMENT_TEXTS, scenario_specs

from timestep.errors import TranslationError
from timestep.translate import convert
from timestep.translate.fingerprints import (
    js_fingerprint,
    js_function_tool_key,
    python_fingerprint,
    python_scope,
)

TOOL_NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True)


def _slow(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@_slow(80)
@given(name=TOOL_NAMES, arguments=ARGUMENT_TEXTS, handoff=st.booleans())
def test_python_bindings_match_the_python_sdk(name: str, arguments: str, handoff: bool) -> None:
    raw = {"type": "function_call", "call_id": "c", "name": name, "arguments": arguments}
    try:
        identity = tool_invocation_identity_and_scope(raw, invocation_role="handoff" if handoff else None)
    except UnicodeEncodeError:  # the SDK cannot bind such a call either: the translator refuses it
        with pytest.raises(TranslationError, match="lone surrogate"):
            python_fingerprint(python_scope(name, handoff=handoff), arguments)
        return
    assert identity is not None
    _, _, scope, fingerprint = identity
    assert python_scope(name, handoff=handoff) == scope
    assert python_fingerprint(scope, arguments) == fingerprint


def test_typescript_bindings_match_the_typescript_sdk() -> None:
    cases: list[tuple[str, str]] = []

    @_slow(400)
    @given(name=TOOL_NAMES, arguments=ARGUMENT_TEXTS)
    def collect(name: str, arguments: str) -> None:
        cases.append((js_function_tool_key(name), arguments))

    collect()
    cases.append(("handoff:transfer_to_x", '{"reason":"ü","n":[1,2.50,-0]}'))
    expected = node_json("fingerprint.mjs", cases)
    assert [js_fingerprint(key, arguments) for key, arguments in cases] == expected


def _as_doubles(value: Any) -> Any:
    """JavaScript has one number type: 1e16 comes back as 10000000000000000, an int in Python."""
    if isinstance(value, dict):
        return {k: _as_doubles(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_doubles(v) for v in value]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return value


def _neutral(item: dict[str, Any]) -> tuple[Any, ...]:
    """A model input item in an SDK-independent form, to compare what each SDK's model was sent."""
    kind = item.get("type", "message")
    if kind == "message":
        content = item["content"]
        text = content if isinstance(content, str) else [part["text"] for part in content]
        return ("message", item["role"], text if isinstance(text, list) else [text])
    if kind == "function_call":
        # Each SDK names handoff tools its own way: Python lowercases (transfer_to_booking_desk), TypeScript
        # keeps the case (transfer_to_Booking_Desk). Histories carry whichever SDK ran the handoff.
        name = item["name"].lower() if item["name"].startswith("transfer_to_") else item["name"]
        return ("call", item.get("call_id", item.get("callId")), name, item["arguments"])
    output = item["output"]
    text = output if isinstance(output, str) else output["text"]
    if text.replace(" ", "").startswith('{"assistant":'):
        text = json.dumps(json.loads(text), separators=(",", ":"))
    return ("output", item.get("call_id", item.get("callId")), text)


def _as_python(text: str) -> str:
    return text if "current_agent" in json.loads(text) else convert(text, "python")


def _compare_with_python(got: dict[str, Any], want: dict[str, Any], spec: dict[str, Any]) -> None:
    for key in ("final_output", "executed", "usage", "last_agent", "trace_id", "interruptions"):
        assert got[key] == want[key], (key, spec)
    # TypeScript has no "no context": a run without one sees {}.
    assert _as_doubles(got["context"] or {}) == _as_doubles(want["context"] or {}), spec
    assert [[_neutral(i) for i in call] for call in got["model_inputs"]] == [
        [_neutral(i) for i in call] for call in want["model_inputs"]
    ], spec
    assert (got["state"] is None) == (want["state"] is None), spec
    if want["state"] is not None:
        # Interrupted again (approvals left open): both new states must finish the run identically. (Their
        # item order may differ: after a same-turn re-interruption Python lists the pending approvals before
        # outputs of tools that already ran, TypeScript after them; neither is sent to the model.)
        approve_rest = [{"call_id": c, "approve": True} for c in want["interruptions"]]
        finished = asyncio.run(resume(spec, _as_python(want["state"]), approve_rest))
        translated = asyncio.run(resume(spec, _as_python(got["state"]), approve_rest))
        _compare_with_python(translated, finished, spec)


def test_generated_scenarios_resume_across_sdks() -> None:
    """Each generated scenario runs natively in both SDKs to its interruption; each state, translated,
    resumes in the other SDK exactly as the Python state resumes natively."""
    specs: list[dict[str, Any]] = []
    jobs: list[dict[str, Any]] = []
    native: list[dict[str, Any]] = []

    @_slow(80)
    @given(spec=scenario_specs())
    def collect(spec: dict[str, Any]) -> None:
        state_text = asyncio.run(run_to_interruption(spec))
        state = json.loads(state_text)
        pristine = copy.deepcopy(state)
        translated = convert(state_text, "typescript")
        assert state == pristine
        back = json.loads(convert(translated, "python"))
        assert drop_descriptions(back) == drop_descriptions(state)
        n = len(specs)
        specs.append(spec)
        native.append(asyncio.run(resume(spec, state_text, spec["decisions"])))
        jobs.append({"id": f"{n}/resume", "spec": spec, "state": translated, "decisions": spec["decisions"]})
        jobs.append({"id": f"{n}/interrupt", "mode": "interrupt", "spec": spec})

    collect()
    results = {r["id"]: r for r in run_js(jobs)}
    for n, spec in enumerate(specs):
        resumed, interrupted = results[f"{n}/resume"], results[f"{n}/interrupt"]
        assert resumed["ok"], (resumed.get("error"), spec)
        _compare_with_python(resumed["result"], native[n], spec)
        assert interrupted["ok"], (interrupted.get("error"), spec)
        in_python = asyncio.run(resume(spec, convert(interrupted["result"]["state"], "python"), spec["decisions"]))
        _compare_with_python(in_python, native[n], spec)
