"""The agent both processes of the resume test build: one tool that needs approval."""

from __future__ import annotations

from agents import Agent, function_tool


@function_tool(needs_approval=True)
def book_seats(n: int) -> str:
    """Book n seats (a human must approve)."""
    return f"booked {n} seats"


def build_agent() -> Agent[None]:
    return Agent(name="booker", instructions="Book seats.", model="ollama/llama3", tools=[book_seats])
