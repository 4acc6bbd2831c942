"""The public API is typed: no ``Any`` in the signature of a public function, and the names ``timestep``
exports are the ones it lists."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Iterator
from typing import Any

import pytest

import timestep

FUNCTIONS = sorted(name for name in timestep.__all__ if inspect.isfunction(getattr(timestep, name)))


def _parts(hint: object) -> Iterator[object]:
    yield hint
    for arg in typing.get_args(hint):
        yield from _parts(arg)
    origin = getattr(hint, "__value__", None)  # a type alias
    if origin is not None:
        yield from _parts(origin)


def _signatures(function: Any) -> list[dict[str, object]]:
    overloads = typing.get_overloads(function) or [function]
    namespace = vars(inspect.getmodule(function))
    return [typing.get_type_hints(f, globalns=namespace) for f in [*overloads, function]]


def test_the_public_functions_are_the_ones_expected() -> None:
    assert FUNCTIONS == [
        "approve", "consume_result", "default_store", "idempotency_key", "open_store", "recover",
        "recover_orphaned_runs", "reject", "resume_run", "run_agent",
    ]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_no_public_function_takes_or_returns_any(name: str) -> None:
    for hints in _signatures(getattr(timestep, name)):
        untyped = [param for param, hint in hints.items() if any(part is Any for part in _parts(hint))]
        assert untyped == [], f"{name}: {untyped} typed as Any"


def test_the_stream_flag_chooses_the_result_type() -> None:
    for name in ("run_agent", "resume_run", "recover"):
        returns = {str(h["stream"]): h["return"] for h in _signatures(getattr(timestep, name))[:3]}
        assert returns == {
            "typing.Literal[False]": timestep.TimestepRunResult,
            "typing.Literal[True]": timestep.TimestepStreamingResult,
            "<class 'bool'>": timestep.TimestepRunResult | timestep.TimestepStreamingResult,
        }, name
