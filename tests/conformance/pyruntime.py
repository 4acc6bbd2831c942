"""Builds a live Python agent graph from a scenario spec (conformance/scenarios/*.json) and runs it.

The TypeScript twin is ``conformance/js/scenario.mjs``; both must treat a spec identically so that a
resume after translation can be compared with a native resume in the same SDK.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents import Agent, FunctionTool, RunConfig, Runner, RunState, ToolApprovalItem
from agents.tool_context import ToolContext
from agents.tracing import Span, Trace, TracingProcessor, set_trace_processors, set_tracing_disabled, trace
from agents.tracing.processors import default_processor
from openai.types.responses import ResponseOutputItem

from timestep.testing import ScriptedModel, ScriptedTurn, TurnUsage

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "conformance" / "scenarios"
FIXTURES = ROOT / "conformance" / "fixtures"
PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {},
    "required": [],
    "additionalProperties": True,
}


class _TraceRecorder(TracingProcessor):
    """Keeps the trace ids of started traces and spans, so a resume can report which trace it continued.

    Spans count too: the SDK reattaches a trace it already started in this process without starting it again.
    """

    def __init__(self) -> None:
        self.started: list[str] = []

    def on_trace_start(self, trace: Trace) -> None:
        self.started.append(trace.trace_id)

    def on_trace_end(self, trace: Trace) -> None:
        pass

    def on_span_start(self, span: Span[Any]) -> None:
        self.started.append(span.trace_id)

    def on_span_end(self, span: Span[Any]) -> None:
        pass

    def shutdown(self) -> None:
        pass

    def force_flush(self) -> None:
        pass


TRACES = _TraceRecorder()


@contextmanager
def _tracing() -> Iterator[None]:
    """Tracing on for one scenario run (the trace id is part of what a resume must carry), recorded only in
    memory (no exporter, so no network), then back to the SDK's default processor and to what the
    environment asks for (the test suite turns tracing off by default)."""
    set_trace_processors([TRACES])
    set_tracing_disabled(False)
    try:
        yield
    finally:
        set_tracing_disabled(os.environ.get("OPENAI_AGENTS_DISABLE_TRACING", "false").lower() in ("1", "true"))
        set_trace_processors([default_processor()])


def load_scenarios() -> dict[str, dict[str, Any]]:
    """Every committed scenario spec by name (file stem)."""
    return {p.stem: json.loads(p.read_text("utf-8")) for p in sorted(SCENARIOS.glob("*.json"))}


@dataclass
class Graph:
    start: Agent[Any]
    executed: list[dict[str, Any]] = field(default_factory=list)


def _turns(specs: list[Mapping[str, Any]]) -> list[ScriptedTurn]:
    turns = []
    for spec in specs:
        items: list[ResponseOutputItem] = []
        for item in spec["items"]:
            if "text" in item:
                items.append(ScriptedModel.text(item["text"]))
            elif "tool_call" in item:
                items.append(ScriptedModel.tool_call(item["tool_call"], item["arguments"], call_id=item["call_id"]))
            else:
                items.append(ScriptedModel.handoff(item["handoff"], call_id=item["call_id"]))
        usage = spec.get("usage", {})
        turns.append(ScriptedModel.turn(*items, usage=TurnUsage(**usage)))
    return turns


def build_graph(spec: Mapping[str, Any], model: ScriptedModel) -> Graph:
    """Agents, tools and handoffs of ``spec``, all answering through ``model``."""
    graph_log: list[dict[str, Any]] = []

    def make_tool(tool: Mapping[str, Any]) -> FunctionTool:
        async def invoke(ctx: ToolContext[Any], _args: str) -> str:
            graph_log.append({"tool": tool["name"], "call_id": ctx.tool_call_id})
            return str(tool["output"])

        return FunctionTool(
            name=tool["name"],
            description=tool["description"],
            params_json_schema=PARAMETERS,
            on_invoke_tool=invoke,
            strict_json_schema=False,
            needs_approval=bool(tool["needs_approval"]),
        )

    tools = {t["name"]: make_tool(t) for t in spec["tools"]}
    agents = {
        a["name"]: Agent(
            name=a["name"],
            instructions=a["instructions"],
            model=model,
            tools=[tools[name] for name in a["tools"]],
        )
        for a in spec["agents"]
    }
    for a in spec["agents"]:
        agents[a["name"]].handoffs = [agents[name] for name in a["handoffs"]]
    return Graph(agents[spec["start_agent"]], graph_log)


def input_items(spec: Mapping[str, Any]) -> str | list[Any]:
    """The scenario input as Responses input items (EasyInputMessage shape)."""
    if isinstance(spec["input"], str):
        return str(spec["input"])
    items: list[Any] = []
    for m in spec["input"]:
        if m.get("type") in ("function_call", "function_call_output"):
            items.append(dict(m))
        else:
            items.append({"role": m["role"], "content": m["content"]})
    return items


def _apply(state: RunState[Any, Any], decisions: list[Mapping[str, Any]]) -> None:
    pending: dict[str, ToolApprovalItem] = {}
    for item in state.get_interruptions():
        call_id = getattr(item.raw_item, "call_id", None) or item.raw_item.get("call_id")  # type: ignore[union-attr]
        pending[str(call_id)] = item
    for d in decisions:
        item = pending.get(d["call_id"])
        if item is None:
            raise LookupError(f"no pending approval for call id {d['call_id']}")
        always = bool(d.get("always"))
        if d["approve"]:
            state.approve(item, always_approve=always)
        else:
            state.reject(item, always_reject=always, rejection_message=d.get("message"))


async def run_to_interruption(spec: Mapping[str, Any], *, traced: bool = True) -> str:
    """Run ``spec`` natively to its interruption, apply the decisions taken before saving, serialize.

    ``traced=False`` runs with tracing disabled, as many applications (and test suites) do: no trace is saved.
    """
    model = ScriptedModel(_turns(spec["turns"]), id_prefix="scripted")
    graph = build_graph(spec, model)
    t = spec["trace"]
    run = Runner.run(
        graph.start,
        input_items(spec),
        context=copy.deepcopy(spec["context"]),
        max_turns=spec["max_turns"],
        run_config=RunConfig(tracing_disabled=not traced),
    )
    with _tracing(), trace(t["workflow_name"], trace_id=t["id"], group_id=t["group_id"], disabled=not traced):
        result = await run
    if not result.interruptions:
        raise AssertionError("scenario did not interrupt")
    state = result.to_state()
    _apply(state, spec.get("decided_before_save", []))
    return state.to_string()


def _usage_totals(usage: Any) -> dict[str, int]:
    return {
        "requests": usage.requests,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        "cached_tokens": usage.input_tokens_details.cached_tokens,
        "reasoning_tokens": usage.output_tokens_details.reasoning_tokens,
    }


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if hasattr(value, "model_dump"):
        return value.model_dump(exclude_unset=True)
    return copy.deepcopy(value)


async def resume(spec: Mapping[str, Any], state_text: str, decisions: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Load ``state_text``, apply ``decisions``, resume, and report what happened (JSON-ready)."""
    model = ScriptedModel(_turns(spec["resume_turns"]), id_prefix="resume")
    graph = build_graph(spec, model)
    state = await RunState.from_string(graph.start, state_text)
    _apply(state, decisions)
    before = len(TRACES.started)
    with _tracing():
        result = await Runner.run(graph.start, state, max_turns=spec["max_turns"], run_config=RunConfig())
    interrupted = bool(result.interruptions)
    started = TRACES.started[before:]
    return {
        "final_output": result.final_output if not interrupted else None,
        "executed": graph.executed,
        "model_inputs": [_plain(call.input) for call in model.calls],
        "usage": _usage_totals(result.context_wrapper.usage),
        "context": result.context_wrapper.context,
        "last_agent": result.last_agent.name,
        "trace_id": started[0] if started else None,
        "interruptions": [
            getattr(i.raw_item, "call_id", None) or i.raw_item.get("call_id")  # type: ignore[union-attr]
            for i in result.interruptions
        ],
        "state": result.to_state().to_string() if interrupted else None,
    }
