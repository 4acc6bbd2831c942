"""The count of items already saved to the session, which the two SDKs define differently.

Python's ``current_turn_persisted_item_count`` counts the current turn's items (the current response's range)
saved to the session, approval requests excluded; TypeScript's ``currentTurnPersistedItemCount`` counts all
generated items saved so far, approval requests included. Each scenario is run natively in both SDKs with a
session, to its interruption and, where the resume interrupts again, to that second interruption too: each
state, translated, must carry the count the other SDK itself saved, and translating back must restore it.
"""

from __future__ import annotations

import copy
import json
import subprocess
from typing import Any

import pytest
from agents import RunConfig, Runner, RunState, SQLiteSession
from conftest import JS_DIR, _node_env, _require_node
from pyruntime import _apply, _turns, build_graph, input_items, load_scenarios

from timestep.errors import TranslationError
from timestep.testing import ScriptedModel
from timestep.translate import to_python, to_typescript

SPECS = load_scenarios()
NAMES = sorted(SPECS)

# Each scenario natively in TypeScript with a MemorySession: its first interruption (after the decisions
# taken before saving) and, if resuming with the scenario's decisions interrupts again, that state.
_JS = """
import { MemorySession, RunState, run } from '@openai/agents';
import { buildGraph, inputItems } from './scenario.mjs';
import { ScriptedModel } from './scripted.mjs';
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const specs = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const decide = (state, decisions) => {
  const pending = new Map(state.getInterruptions().map((i) => [i.rawItem.callId, i]));
  for (const d of decisions) {
    const item = pending.get(d.call_id);
    if (d.approve) state.approve(item, { alwaysApprove: Boolean(d.always) });
    else {
      const message = d.message === undefined ? {} : { message: d.message };
      state.reject(item, { alwaysReject: Boolean(d.always), ...message });
    }
  }
};
const out = {};
for (const [name, spec] of Object.entries(specs)) {
  const session = new MemorySession();
  const first = buildGraph(spec, new ScriptedModel(spec.turns, { idPrefix: 'scripted' }));
  const result = await run(first.start, inputItems(spec), {
    maxTurns: spec.max_turns,
    session,
    ...(spec.context === null ? {} : { context: structuredClone(spec.context) }),
  });
  decide(result.state, spec.decided_before_save ?? []);
  const states = [result.state.toString()];
  const second = buildGraph(spec, new ScriptedModel(spec.resume_turns, { idPrefix: 'resume' }));
  const state = await RunState.fromString(second.start, states[0]);
  decide(state, spec.decisions);
  const again = await run(second.start, state, { maxTurns: spec.max_turns, session });
  if (again.interruptions.length > 0) states.push(again.state.toString());
  out[name] = states;
}
process.stdout.write(JSON.stringify(out));
"""


@pytest.fixture(scope="module")
def typescript_states() -> dict[str, list[dict[str, Any]]]:
    proc = subprocess.run(
        [_require_node(), "--input-type=module", "-e", _JS],
        input=json.dumps(SPECS).encode(),
        cwd=JS_DIR,
        capture_output=True,
        timeout=300,
        check=False,
        env={**_node_env(), "OPENAI_AGENTS_DISABLE_TRACING": "1"},
    )
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")[-4000:]
    return {name: [json.loads(s) for s in states] for name, states in json.loads(proc.stdout).items()}


async def python_states(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The Python counterpart of ``_JS`` for one scenario, with an in-memory SQLite session."""
    session = SQLiteSession("persisted-count")
    config = RunConfig(tracing_disabled=True)
    first = build_graph(spec, ScriptedModel(_turns(spec["turns"]), id_prefix="scripted"))
    result = await Runner.run(
        first.start,
        input_items(spec),
        context=copy.deepcopy(spec["context"]),
        max_turns=spec["max_turns"],
        session=session,
        run_config=config,
    )
    state = result.to_state()
    _apply(state, spec.get("decided_before_save", []))
    states = [state.to_string()]
    second = build_graph(spec, ScriptedModel(_turns(spec["resume_turns"]), id_prefix="resume"))
    resumed = await RunState.from_string(second.start, states[0])
    _apply(resumed, spec["decisions"])
    again = await Runner.run(second.start, resumed, max_turns=spec["max_turns"], session=session, run_config=config)
    if again.interruptions:
        states.append(again.to_state().to_string())
    return [json.loads(s) for s in states]


@pytest.mark.parametrize("name", NAMES)
async def test_counts_translate_to_what_the_other_sdk_saves(
    name: str, typescript_states: dict[str, list[dict[str, Any]]]
) -> None:
    py_states = await python_states(SPECS[name])
    ts_states = typescript_states[name]
    assert len(py_states) == len(ts_states)
    for py, ts in zip(py_states, ts_states, strict=True):
        py_count = py["current_turn_persisted_item_count"]
        ts_count = ts["currentTurnPersistedItemCount"]
        # What the SDKs themselves save: every generated item in TypeScript, the current range's non-approval
        # items in Python.
        assert ts_count == len(ts["generatedItems"])
        own = py["current_response_generated_item_ownership"]
        in_range = py["generated_items"][own["start"] : own["end"]]
        assert py_count == sum(1 for i in in_range if i["type"] != "tool_approval_item") > 0

        translated = to_typescript(py)
        assert translated["currentTurnPersistedItemCount"] == ts_count
        assert to_python(translated)["current_turn_persisted_item_count"] == py_count
        # A resume that interrupts again leaves TypeScript's marker that the session's compaction already ran
        # for this count; the translator refuses it (it cannot carry it), and it does not bear on the count.
        assert ts.pop("currentTurnSessionWriteCompactedItemCount", ts_count) == ts_count
        from_ts = to_python(ts)
        assert from_ts["current_turn_persisted_item_count"] == py_count
        assert to_typescript(from_ts)["currentTurnPersistedItemCount"] == ts_count


@pytest.fixture
def session_state(typescript_states: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    state = to_python(typescript_states["multi_turn_tools"][0])
    assert state["current_response_generated_item_ownership"]["start"] == 4
    assert [i["type"] for i in state["generated_items"][4:]] == [
        "message_output_item",
        "tool_call_item",
        "tool_approval_item",
    ]
    assert state["current_turn_persisted_item_count"] == 2
    return state


@pytest.mark.parametrize(("python", "typescript"), [(0, 0), (1, 5), (2, 7)])
def test_each_count_of_the_current_turn(session_state: dict[str, Any], python: int, typescript: int) -> None:
    """0 (no session) stays 0; a part of the turn ends after that many of its non-approval items; the whole
    turn is the whole history, approval request included."""
    session_state["current_turn_persisted_item_count"] = python
    translated = to_typescript(session_state)
    assert translated["currentTurnPersistedItemCount"] == typescript
    assert to_python(translated)["current_turn_persisted_item_count"] == python


def test_a_count_beyond_the_current_turn_is_refused(session_state: dict[str, Any]) -> None:
    session_state["current_turn_persisted_item_count"] = 3
    with pytest.raises(TranslationError) as err:
        to_typescript(session_state)
    assert err.value.path == "$.current_turn_persisted_item_count"


@pytest.mark.parametrize("count", [3, 8])
def test_a_typescript_count_python_cannot_express_is_refused(
    typescript_states: dict[str, list[dict[str, Any]]], count: int
) -> None:
    """Fewer saved items than the earlier turns hold, or more than the history has."""
    state = copy.deepcopy(typescript_states["multi_turn_tools"][0])
    state["currentTurnPersistedItemCount"] = count
    with pytest.raises(TranslationError) as err:
        to_python(state)
    assert err.value.path == "$.currentTurnPersistedItemCount"
