"""Hypothesis strategies for tool-argument JSON text and whole scenario specs."""

from __future__ import annotations

import hashlib
import itertools
import json
from typing import Any

from hypothesis import strategies as st

TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=12)
_DIGITS = st.text(alphabet="0123456789", min_size=1, max_size=25)


@st.composite
def number_literals(draw: st.DrawFn) -> str:
    """Any JSON number spelling: big integers, trailing zeros, signed exponents, negative zero."""
    sign = draw(st.sampled_from(["", "-"]))
    integer = draw(st.one_of(st.just("0"), _DIGITS.map(lambda d: "1" + d if d.startswith("0") else d)))
    fraction = draw(st.one_of(st.just(""), _DIGITS.map(lambda d: "." + d)))
    exponent = draw(
        st.one_of(
            st.just(""),
            st.tuples(st.sampled_from("eE"), st.sampled_from(["", "+", "-"]), st.integers(0, 400)).map(
                lambda t: f"{t[0]}{t[1]}{t[2]}"
            ),
        )
    )
    return f"{sign}{integer}{fraction}{exponent}"


def _string_literal(s: str, ascii_only: bool) -> str:
    return json.dumps(s, ensure_ascii=ascii_only)


STRING_LITERALS = st.builds(_string_literal, TEXT, st.booleans())
SEPARATORS = st.sampled_from([",", ", ", " ,\n"])


def _object_text(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.builds(
        lambda kv, sep: "{" + sep.join(f"{k}:{v}" for k, v in kv) + "}",
        st.lists(st.tuples(STRING_LITERALS, children), max_size=4),
        SEPARATORS,
    )


_LEAVES = st.one_of(number_literals(), st.sampled_from(["true", "false", "null"]), STRING_LITERALS)
JSON_TEXTS = st.recursive(
    _LEAVES,
    lambda children: st.one_of(
        st.builds(lambda xs, sep: "[" + sep.join(xs) + "]", st.lists(children, max_size=4), SEPARATORS),
        _object_text(children),
    ),
    max_leaves=10,
)
OBJECT_TEXTS = _object_text(JSON_TEXTS)
"""Valid JSON objects: what a model sends as function arguments (both SDKs parse them before running)."""
ARGUMENT_TEXTS = st.one_of(
    OBJECT_TEXTS,
    JSON_TEXTS,
    TEXT,
    st.sampled_from(
        [
            '{"a":"\\ud800"}',
            '{"a":NaN}',
            "{",
            '{"a":1,"a":2}',
            '{"10":1,"9":2,"b":3,"A":4}',
            '{"x":"\\u0000openai-agents-json:number:1e0"}',
            "[01]",
            '{"a":-}',
        ]
    ),
)

_SAFE_FLOATS = st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not (f == 0 and str(f)[0] == "-"))
CONTEXT_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**53) + 1, 2**53 - 1), _SAFE_FLOATS, TEXT),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.text("abcxyz_", min_size=1, max_size=5), children, max_size=3),
    ),
    max_leaves=8,
)
_AGENT_NAMES = ["triage", "billing", "refunds", "ops_desk", "agent_2", "Booking Desk", "Zürich Ops"]
_TOOL_NAMES = ["book", "charge", "notify", "lookup", "send_mail"]


def _usage(draw: st.DrawFn) -> dict[str, int]:
    input_tokens = draw(st.integers(0, 5000))
    output_tokens = draw(st.integers(0, 5000))
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cached_tokens": draw(st.integers(0, input_tokens)),
        "reasoning_tokens": draw(st.integers(0, output_tokens)),
    }


@st.composite
def scenario_specs(draw: st.DrawFn) -> dict[str, Any]:
    """A handoff chain ending in an agent whose tools run and then await approval in one turn."""
    agent_names = draw(st.lists(st.sampled_from(_AGENT_NAMES), min_size=1, max_size=3, unique=True))
    tool_names = draw(st.lists(st.sampled_from(_TOOL_NAMES), min_size=1, max_size=3, unique=True))
    approval = draw(st.lists(st.booleans(), min_size=len(tool_names), max_size=len(tool_names)))
    approval[draw(st.integers(0, len(tool_names) - 1))] = True
    tools = [
        {"name": n, "description": f"The {n} tool.", "needs_approval": a, "output": draw(TEXT)}
        for n, a in zip(tool_names, approval, strict=True)
    ]
    agents = [{"name": n, "instructions": f"You are {n}.", "tools": [], "handoffs": []} for n in agent_names]
    for here, there in itertools.pairwise(agents):
        here["handoffs"] = [there["name"]]
    agents[-1]["tools"] = tool_names
    turns = [
        {"items": [{"handoff": there["name"], "call_id": f"call_h{i}"}], "usage": _usage(draw)}
        for i, there in enumerate(agents[1:])
    ]
    plain = [t["name"] for t in tools if not t["needs_approval"]]
    if plain and draw(st.booleans()):
        turns.append(
            {
                "items": [
                    {
                        "tool_call": draw(st.sampled_from(plain)),
                        "call_id": "call_early",
                        "arguments": draw(OBJECT_TEXTS),
                    }
                ],
                "usage": _usage(draw),
            }
        )
    calls = draw(st.lists(st.sampled_from(tool_names), min_size=1, max_size=4))
    calls.append(draw(st.sampled_from([t["name"] for t in tools if t["needs_approval"]])))
    items: list[dict[str, Any]] = [{"text": draw(TEXT)}] if draw(st.booleans()) else []
    items += [
        {"tool_call": name, "call_id": f"call_{i}", "arguments": draw(OBJECT_TEXTS)} for i, name in enumerate(calls)
    ]
    turns.append({"items": items, "usage": _usage(draw)})
    needing = [
        i for i in items if "tool_call" in i and next(t for t in tools if t["name"] == i["tool_call"])["needs_approval"]
    ]
    before, after = [], []
    sticky_tools: set[str] = set()
    for item in needing:
        # An always-approve/reject decision is the only decision for its tool: the SDKs differ in what a
        # later always-reject does to earlier per-call rejection messages (TypeScript drops them).
        if item["tool_call"] in sticky_tools:
            continue
        always = draw(st.booleans()) and all(
            d["call_id"] != i["call_id"] for d in before + after for i in needing if i["tool_call"] == item["tool_call"]
        )
        decision: dict[str, Any] = {"call_id": item["call_id"], "approve": draw(st.booleans()), "always": always}
        if always:
            sticky_tools.add(item["tool_call"])
        if not decision["approve"] and draw(st.booleans()):
            decision["message"] = draw(TEXT)
        when = draw(st.sampled_from(["before", "after", "open"]))
        if when != "open":  # an open approval makes the resume interrupt again at once
            (before if when == "before" else after).append(decision)
    user_turns = draw(st.lists(TEXT, min_size=1, max_size=3))
    conversation: str | list[dict[str, Any]] = (
        user_turns[0]
        if draw(st.booleans())
        else [{"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(user_turns)]
    )
    if isinstance(conversation, list) and draw(st.booleans()):  # an earlier tool call in the run input
        conversation[1:1] = [
            {
                "type": "function_call",
                "call_id": "call_prior",
                "name": draw(st.sampled_from(tool_names)),
                "arguments": draw(OBJECT_TEXTS),
            },
            {"type": "function_call_output", "call_id": "call_prior", "output": draw(TEXT)},
        ]
    digest = hashlib.sha256(json.dumps([agent_names, calls, user_turns]).encode()).hexdigest()[:32]
    return {
        "start_agent": agent_names[0],
        "agents": agents,
        "tools": tools,
        "input": conversation,
        # No context, or a non-empty mapping (TypeScript cannot tell an empty mapping from no context).
        "context": draw(
            st.none()
            | st.dictionaries(st.text("abcdefgh_", min_size=1, max_size=6), CONTEXT_VALUES, min_size=1, max_size=4)
        ),
        "trace": {
            "id": f"trace_{digest}",
            "workflow_name": draw(TEXT) or "wf",
            "group_id": draw(st.one_of(st.none(), TEXT)),
        },
        "max_turns": 10,
        "turns": turns,
        "decided_before_save": before,
        "decisions": after,
        "resume_turns": [{"items": [{"text": draw(TEXT)}], "usage": _usage(draw)}],
    }
