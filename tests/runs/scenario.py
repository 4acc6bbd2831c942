"""A small agent graph for run tests: a host that books tables (gated) and checks the weather (free)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agents import Agent, function_tool

from timestep.testing import ScriptedModel, ScriptedTurn, TurnUsage

EXECUTED: list[tuple[str, dict[str, Any]]] = []


@function_tool(needs_approval=True)
def book(party: int, when: str) -> str:
    """Book a table."""
    EXECUTED.append(("book", {"party": party, "when": when}))
    return f"booked {party} at {when}"


@function_tool
def weather(city: str) -> str:
    """Today's weather."""
    EXECUTED.append(("weather", {"city": city}))
    return f"sunny in {city}"


def host(turns: Sequence[ScriptedTurn | Sequence[Any]]) -> Agent[Any]:
    return Agent(name="host", instructions="Help with bookings.", model=ScriptedModel(turns), tools=[book, weather])


def booking_turns() -> list[ScriptedTurn]:
    """Weather first, then a booking that needs approval, then the answer."""
    return [
        ScriptedModel.turn(ScriptedModel.tool_call("weather", {"city": "Lyon"}, call_id="w1"),
                           usage=TurnUsage(input_tokens=10, output_tokens=3, cached_tokens=4)),
        ScriptedModel.turn(ScriptedModel.tool_call("book", {"party": 2, "when": "19:00"}, call_id="b1"),
                           usage=TurnUsage(input_tokens=20, output_tokens=5, reasoning_tokens=2)),
        ScriptedModel.turn(ScriptedModel.text("Booked for two at 19:00."),
                           usage=TurnUsage(input_tokens=30, output_tokens=7)),
    ]
