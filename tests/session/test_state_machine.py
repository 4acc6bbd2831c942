"""A hypothesis state machine of session operations against an in-memory model, on both engines.

Hypothesis drives a synchronous machine, so the machine runs each coroutine on its own event loop, on which
the store is opened once per test (each example uses a fresh session id).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from timestep.session import TimestepSession
from timestep.store import Store, open_store

T = TypeVar("T")

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
items_strategy = st.lists(st.dictionaries(st.text(max_size=8), json_values, max_size=4), max_size=4)
operation_ids = st.none() | st.sampled_from(["op-a", "op-b", "op-c", "op-é"])
limits = st.none() | st.integers(min_value=-1, max_value=7)


class SessionMachine(RuleBasedStateMachine):
    loop: asyncio.AbstractEventLoop
    store: Store

    def __init__(self) -> None:
        super().__init__()
        self.session = TimestepSession(f"machine-{uuid.uuid4().hex}", self.store)
        self.items: list[dict[str, Any]] = []
        self.applied: dict[str, list[dict[str, Any]]] = {}

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    @initialize(items=items_strategy)
    def start(self, items: list[dict[str, Any]]) -> None:
        self.add(items, None)

    @rule(items=items_strategy, operation_id=operation_ids)
    def add(self, items: list[dict[str, Any]], operation_id: str | None) -> None:
        self.run(self.session.add_items(items, operation_id=operation_id))  # type: ignore[arg-type]
        if not items or (operation_id is not None and operation_id in self.applied):
            return
        self.items.extend(items)
        if operation_id is not None:
            self.applied[operation_id] = items

    @rule(data=st.data())
    def retry_an_applied_operation(self, data: st.DataObject) -> None:
        if not self.applied:
            return
        operation_id = data.draw(st.sampled_from(sorted(self.applied)))
        self.run(self.session.add_items(self.applied[operation_id], operation_id=operation_id))  # type: ignore[arg-type]

    @rule(limit=limits)
    def get(self, limit: int | None) -> None:
        got = self.run(self.session.get_items(limit))
        expected = self.items if limit is None or limit < 0 else self.items[-limit:] if limit else []
        assert got == expected

    @rule()
    def pop(self) -> None:
        got = self.run(self.session.pop_item())
        assert got == (self.items.pop() if self.items else None)

    @rule()
    def clear(self) -> None:
        self.run(self.session.clear_session())
        self.items.clear()  # applied operation ids are kept

    @invariant()
    def count_matches(self) -> None:
        assert self.run(self.session.count()) == len(self.items)


def test_session_matches_the_model(store_location: str) -> None:
    loop = asyncio.new_event_loop()
    store = open_store(store_location)
    try:
        loop.run_until_complete(store.open())

        class Machine(SessionMachine):
            pass

        Machine.loop, Machine.store = loop, store
        run_state_machine_as_test(
            Machine,
            settings=settings(
                max_examples=60,
                stateful_step_count=25,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
                database=None,
            ),
        )
    finally:
        loop.run_until_complete(store.close())
        loop.close()
