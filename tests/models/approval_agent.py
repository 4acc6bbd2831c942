"""The agent both processes of the resume test build: one tool that needs approval."""

from __future__ import annotations

import json
from typing import Any

from agents import Agent, function_tool


@function_tool(needs_approval=True)
def book_seats(n: int) -> str:
    """Book n seats (a human must approve)."""
    return f"booked {n} seats"


def build_agent() -> Agent[None]:
    return Agent(name="booker", instructions="Book seats.", model="ollama/llama3", tools=[book_seats])


def outcome_json(result: Any) -> str:
    """What a worker process reports of a finished run: output, interruptions left, usage."""
    usage = result.context_wrapper.usage
    return json.dumps({
        "final_output": result.final_output,
        "interruptions": len(result.interruptions),
        "usage": [usage.requests, usage.input_tokens, usage.output_tokens],
    })
