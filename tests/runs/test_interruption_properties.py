"""Property: a run interrupted for approvals and resumed stores what the same run stores without interruption.

Hypothesis draws model scripts (turns of free and gated tool calls with argument values) and a decision for
each gated call. The interrupted run goes through approve/reject and resume_run until it completes; the
baseline runs straight through with tools that return, for each gated call, what the decision would have
produced. Session items (outputs of one turn compared as a set), tool calls and usage must be equal.
"""

from __future__ import annotations

import uuid
from typing import Any

from agents import Agent, FunctionTool, function_tool
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from timestep import approve, reject, resume_run, run_agent
from timestep.session import TimestepSession
from timestep.store import Store
from timestep.testing import ScriptedModel, ScriptedTurn, TurnUsage

Call = tuple[str, int, bool]  # tool ("free" | "gated"), argument, approved
calls = st.tuples(st.sampled_from(["free", "gated"]), st.integers(-(10**12), 10**12), st.booleans())
scenarios = st.lists(st.lists(calls, min_size=1, max_size=3), min_size=1, max_size=3)


def script(scenario: list[list[Call]]) -> list[ScriptedTurn]:
    turns = [
        ScriptedModel.turn(
            *(ScriptedModel.tool_call(tool, {"x": x}, call_id=f"c{t}_{i}") for i, (tool, x, _) in enumerate(turn)),
            usage=TurnUsage(input_tokens=10 + t, output_tokens=2, cached_tokens=t, reasoning_tokens=1),
        )
        for t, turn in enumerate(scenario)
    ]
    return [*turns, ScriptedModel.turn(ScriptedModel.text("done"), usage=TurnUsage(input_tokens=5, output_tokens=1))]


def tools(gated_needs_approval: bool, decisions: dict[int, bool]) -> list[FunctionTool]:
    @function_tool
    def free(x: int) -> str:
        """Free."""
        return f"free {x}"

    @function_tool(needs_approval=gated_needs_approval)
    def gated(x: int) -> str:
        """Gated."""
        return f"gated {x}" if decisions.get(x, True) else f"refused {x}"

    return [free, gated]


async def stored(store: Store, run_id: str, session: TimestepSession) -> tuple[Any, ...]:
    async with store.connection() as conn:
        cur = await conn.execute(
            "SELECT call_id, tool_name, arguments, output FROM timestep_tool_calls WHERE run_id = %s ORDER BY call_id",
            (run_id,),
        )
        tool_calls = await cur.fetchall()
        cur = await conn.execute(
            "SELECT sum(requests), sum(input_tokens), sum(output_tokens), sum(cached_tokens), sum(reasoning_tokens)"
            " FROM timestep_usage WHERE run_id = %s",
            (run_id,),
        )
        usage = await cur.fetchone()
    return outputs_in_call_order(await session.get_items()), tool_calls, usage


def outputs_in_call_order(items: list[Any]) -> list[Any]:
    """Within a turn the SDK appends the outputs of calls approved later after the others; the set of
    outputs of each turn, not their order, is what must not change."""
    ordered: list[Any] = []
    batch: list[Any] = []
    for item in [*items, None]:
        if isinstance(item, dict) and item.get("type") == "function_call_output":
            batch.append(item)
            continue
        ordered += sorted(batch, key=lambda output: str(output["call_id"]))
        batch = []
        if item is not None:
            ordered.append(item)
    return ordered


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scenario=scenarios)
async def test_interrupted_runs_store_what_uninterrupted_runs_store(store: Store, scenario: list[list[Call]]) -> None:
    decisions = {x: approved for turn in scenario for tool, x, approved in turn if tool == "gated"}

    baseline_session = TimestepSession(f"base-{uuid.uuid4().hex}", store=store)
    baseline_agent = Agent(name="a", model=ScriptedModel(script(scenario)), tools=tools(False, decisions))
    baseline = await run_agent(baseline_agent, "go", session=baseline_session, store=store)
    assert baseline.final_output == "done"

    session = TimestepSession(f"int-{uuid.uuid4().hex}", store=store)
    agent = Agent(name="a", model=ScriptedModel(script(scenario)), tools=tools(True, {}))
    result = await run_agent(agent, "go", session=session, store=store)
    while result.interruptions:
        for item in result.interruptions:
            x = int(item.raw_item.arguments.split(":")[1].strip(" }"))
            if decisions[x]:
                await approve(result.run_id, item.raw_item.call_id, store=store)
            else:
                await reject(result.run_id, item.raw_item.call_id, message=f"refused {x}", store=store)
        result = await resume_run(agent, result.run_id, store=store)
    assert result.final_output == "done"

    assert await stored(store, result.run_id, session) == await stored(store, baseline.run_id, baseline_session)
