"""Agent graphs for ``timestep resume --agent tests.cli.agents:...`` in the command-line tests."""

from __future__ import annotations

from typing import Any

from agents import Agent

from tests.runs.scenario import booking_turns, host


def resume_host() -> Agent[Any]:
    """The booking host with the turns left after its approval pause: the final answer."""
    return host(booking_turns()[2:])


not_an_agent = 42


def broken() -> Agent[Any]:
    raise RuntimeError("the agent factory failed")


def exits() -> Agent[Any]:
    raise SystemExit(3)
