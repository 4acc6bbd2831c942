"""Malformed and adversarial input: always a TranslationError naming the problem, never a partial result."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyruntime import FIXTURES, load_scenarios

from timestep.errors import TimestepError, TranslationError
from timestep.translate import convert, detect_format, to_python, to_typescript

Mutation = Callable[[dict[str, Any]], None]
NAMES = sorted(load_scenarios())
FIXTURE = "handoff_mixed_approvals"


@pytest.fixture
def python_state(fixture_text: Callable[[str, str], str]) -> dict[str, Any]:
    state: dict[str, Any] = json.loads(fixture_text("python", FIXTURE))
    return state


@pytest.fixture
def typescript_state(fixture_text: Callable[[str, str], str]) -> dict[str, Any]:
    state: dict[str, Any] = json.loads(fixture_text("typescript", FIXTURE))
    return state


def test_translation_error_is_a_timestep_error() -> None:
    assert issubclass(TranslationError, TimestepError)


@pytest.mark.parametrize("cut", [0, 1, 10, 100, 1000, -2])
def test_truncated_json(fixture_text: Callable[[str, str], str], cut: int) -> None:
    text = fixture_text("python", FIXTURE)
    with pytest.raises(TranslationError, match="not valid JSON"):
        convert(text[:cut], "typescript")


@pytest.mark.parametrize("text", ["[]", "42", '"x"', "null", "{}", '{"current_agent": {}, "currentAgent": {}}'])
def test_not_a_run_state(text: str) -> None:
    with pytest.raises(TranslationError):
        convert(text, "python")


def test_nan_is_not_json() -> None:
    with pytest.raises(TranslationError, match="not valid JSON"):
        convert('{"a": NaN}', "python")


@pytest.mark.parametrize("version", ["1.20", "1.22", "2.0", None, 1.21])
def test_unsupported_python_schema(python_state: dict[str, Any], version: Any) -> None:
    python_state["$schemaVersion"] = version
    with pytest.raises(TranslationError, match=r"supported: Python openai-agents==0\.24\.0 \(schema 1\.21\)"):
        to_typescript(python_state)


@pytest.mark.parametrize("version", ["1.21", "1.23"])
def test_unsupported_typescript_schema(typescript_state: dict[str, Any], version: str) -> None:
    typescript_state["$schemaVersion"] = version
    with pytest.raises(TranslationError, match=r"@openai/agents@0\.20\.0 \(schema 1\.22\)"):
        to_python(typescript_state)


def test_detect_format(python_state: dict[str, Any], typescript_state: dict[str, Any]) -> None:
    assert detect_format(python_state) == "python"
    assert detect_format(typescript_state) == "typescript"
    with pytest.raises(TranslationError, match="already in the python format"):
        convert(json.dumps(python_state), "python")
    with pytest.raises(TranslationError, match="expected a python RunState"):
        to_typescript(typescript_state)
    with pytest.raises(TranslationError, match="unknown target"):
        convert(json.dumps(python_state), "rust")  # type: ignore[arg-type]


def _py_reasoning(s: dict[str, Any]) -> None:
    s["generated_items"].insert(
        2,
        {
            "type": "reasoning_item",
            "raw_item": {"type": "reasoning", "id": "rs_1", "summary": []},
            "agent": {"name": "booking_desk"},
        },
    )


def _py_hosted(s: dict[str, Any]) -> None:
    s["model_responses"][1]["output"].append({"type": "web_search_call", "id": "ws_1", "status": "completed"})


def _py_output_call_id(s: dict[str, Any]) -> None:
    s["generated_items"][7]["raw_item"]["call_id"] = "call_nobody"


def _py_fingerprint(s: dict[str, Any]) -> None:
    s["context"]["tool_invocations"]["call_book_1"]["fingerprint"] = "0" * 64


def _py_extra_record(s: dict[str, Any]) -> None:
    s["context"]["tool_invocations"]["call_ghost"] = dict(s["context"]["tool_invocations"]["call_book_1"])


def _py_guardrail(s: dict[str, Any]) -> None:
    s["input_guardrail_results"] = [{"guardrail": {"name": "g"}, "output": {"tripwire_triggered": False}}]


def _py_context_object(s: dict[str, Any]) -> None:
    s["context"]["context_meta"] = {
        "original_type": "dataclass",
        "serialized_via": "asdict",
        "requires_deserializer": True,
        "omitted": False,
    }


def _py_sticky(s: dict[str, Any]) -> None:
    decision = s["context"]["function_tool_approvals"][1]["decision"]
    decision["approved"] = True
    decision["sticky_scope"] = "0" * 64


def _py_big_int(s: dict[str, Any]) -> None:
    s["context"]["context"]["order"] = 2**60


def _py_unknown_field(s: dict[str, Any]) -> None:
    s["sandbox"] = {"backend": "docker"}


def _py_agent_tool(s: dict[str, Any]) -> None:
    s["generated_items"][3]["tool_origin"] = {"type": "agent_as_tool", "agent_name": "x"}


def _py_wrong_type(s: dict[str, Any]) -> None:
    s["current_turn"] = "2"


def _py_structured_output(s: dict[str, Any]) -> None:
    s["generated_items"][7]["raw_item"]["output"] = [{"type": "input_image", "image_url": "x"}]


def _py_completed_run(s: dict[str, Any]) -> None:
    s["current_step"] = {"type": "next_step_final_output", "output": "x"}


def _py_hosted_approval(s: dict[str, Any]) -> None:
    s["context"]["approvals"] = {"mcp_tool": {"approved": ["x"], "rejected": []}}


def _py_namespaced(s: dict[str, Any]) -> None:
    s["generated_items"][8]["tool_lookup_key"] = {"kind": "namespaced", "namespace": "ns", "name": "book"}


def _py_duplicate_call(s: dict[str, Any]) -> None:
    s["generated_items"][4]["raw_item"]["call_id"] = "call_lookup_1"


PYTHON_CASES: list[tuple[Mutation, str]] = [
    (_py_reasoning, r"generated_items\[2\]\.raw_item: item type 'reasoning'"),
    (_py_hosted, r"model_responses\[1\]\.output\[5\].*'web_search_call'"),
    (_py_output_call_id, "no matching"),
    (_py_fingerprint, "call_book_1.*does not match its call"),
    (_py_extra_record, "call_ghost"),
    (_py_guardrail, "input guardrail results"),
    (_py_context_object, "only mapping"),
    (_py_sticky, "sticky decision scope does not match"),
    (_py_big_int, r"context\.context\.order.*2\*\*53"),
    (_py_unknown_field, r"^\$: unsupported field\(s\) sandbox"),
    (_py_agent_tool, r"generated_items\[3\].*agent-as-tool"),
    (_py_wrong_type, r"current_turn: expected a non-negative integer, got a string"),
    (_py_structured_output, "structured tool outputs"),
    (_py_completed_run, "only states saved at an interruption"),
    (_py_hosted_approval, "hosted or legacy tool approvals"),
    (_py_namespaced, "bare"),
    (_py_duplicate_call, "used by two calls"),
]


@pytest.mark.parametrize(("mutate", "message"), PYTHON_CASES, ids=[m.__name__ for m, _ in PYTHON_CASES])
def test_python_input_refused(python_state: dict[str, Any], mutate: Mutation, message: str) -> None:
    mutate(python_state)
    python_state["session_items"] = copy.deepcopy(python_state["generated_items"])
    before = copy.deepcopy(python_state)
    with pytest.raises(TranslationError, match=message):
        to_typescript(python_state)
    assert python_state == before


def _ts_reasoning(s: dict[str, Any]) -> None:
    s["generatedItems"].insert(
        2,
        {
            "type": "reasoning_item",
            "rawItem": {"type": "reasoning", "content": []},
            "agent": {"name": "booking_desk"},
        },
    )


def _ts_completed_tampered(s: dict[str, Any]) -> None:
    s["completedToolInvocations"][1]["invocations"]["call_lookup_1"] = "{}"


def _ts_completed_missing(s: dict[str, Any]) -> None:
    s["completedToolInvocations"] = s["completedToolInvocations"][:1]


def _ts_unbound_approval(s: dict[str, Any]) -> None:
    s["context"]["approvalInvocations"] = []


def _ts_pending_agent_tool(s: dict[str, Any]) -> None:
    s["pendingAgentToolRuns"] = {"call_x": "{}"}


def _ts_sticky(s: dict[str, Any]) -> None:
    s["context"]["functionApprovals"][0]["approvals"]['["bare","notify"]']["stickyRejectMessage"] = "no"


def _ts_hosted_mcp(s: dict[str, Any]) -> None:
    s["modelResponses"][1]["output"].append({"type": "hosted_tool_call", "name": "mcp", "status": "completed"})


def _ts_ambiguous(s: dict[str, Any]) -> None:
    s["ambiguousToolInvocationCallIds"] = [{"agentIdentity": "booking_desk", "callIds": ["call_book_1"]}]


def _ts_output_mismatch(s: dict[str, Any]) -> None:
    s["generatedItems"][7]["rawItem"]["callId"] = "call_book_1"


def _ts_sandbox(s: dict[str, Any]) -> None:
    s["sandbox"] = {}


def _ts_session_write(s: dict[str, Any]) -> None:
    s["currentTurnSessionInputItems"] = []


def _ts_image_input(s: dict[str, Any]) -> None:
    s["originalInput"][0]["content"] = [{"type": "input_image", "image": "https://x"}]


TYPESCRIPT_CASES: list[tuple[Mutation, str]] = [
    (_ts_reasoning, r"generatedItems\[2\]\.rawItem: item type 'reasoning'"),
    (_ts_completed_tampered, "call_lookup_1.*does not match"),
    (_ts_completed_missing, "completed tool invocation records do not match"),
    (_ts_unbound_approval, "no matching invocation binding"),
    (_ts_pending_agent_tool, "nested agent-as-tool"),
    (_ts_sticky, "per-call decision carries a sticky rejection message"),
    (_ts_hosted_mcp, r"modelResponses\[1\]\.output\[5\].*'hosted_tool_call'"),
    (_ts_ambiguous, "ambiguous"),
    (_ts_output_mismatch, "records do not match the tool outputs"),
    (_ts_sandbox, r"unsupported field\(s\) sandbox"),
    (_ts_session_write, "pending session input"),
    (_ts_image_input, r"originalInput\[0\]\.content\[0\]: unsupported field\(s\) image"),
]


@pytest.mark.parametrize(("mutate", "message"), TYPESCRIPT_CASES, ids=[m.__name__ for m, _ in TYPESCRIPT_CASES])
def test_typescript_input_refused(typescript_state: dict[str, Any], mutate: Mutation, message: str) -> None:
    mutate(typescript_state)
    before = copy.deepcopy(typescript_state)
    with pytest.raises(TranslationError, match=message):
        to_python(typescript_state)
    assert typescript_state == before


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=5)),
    lambda children: st.one_of(
        st.lists(children, max_size=2), st.dictionaries(st.text(max_size=3), children, max_size=2)
    ),
    max_leaves=4,
)


@settings(max_examples=1000, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), language=st.sampled_from(["python", "typescript"]), name=st.sampled_from(NAMES))
def test_random_corruption_is_refused_or_translated(data: st.DataObject, language: str, name: str) -> None:
    """Replace or delete any one value anywhere: the result is a TranslationError or a full translation."""
    state = json.loads((FIXTURES / language / f"{name}.json").read_text("utf-8"))
    path = data.draw(st.sampled_from(_paths(state)[1:]))
    parent = state
    for key in path[:-1]:
        parent = parent[key]
    if isinstance(parent, dict) and data.draw(st.booleans()):
        del parent[path[-1]]
    else:
        parent[path[-1]] = data.draw(JSON_VALUES)
    target = "typescript" if language == "python" else "python"
    try:
        result = convert(json.dumps(state), target)  # type: ignore[arg-type]
    except TranslationError:
        return
    assert detect_format(json.loads(result)) == target
