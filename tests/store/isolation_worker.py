"""One client process of the isolation test: a loop of one kind of work, checking every answer.

Usage: python -m tests.store.isolation_worker LOCATION ROLE ITERATIONS
Prints one JSON line: the number of operations, of errors and of wrong answers, and the first few of each.
An error is any exception where none is expected; a wrong answer is a result that differs from what the
client would get alone on a PostgreSQL server.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg

from timestep.session import TimestepSession
from timestep.store import Store, open_store


class Tally:
    def __init__(self) -> None:
        self.ops = 0
        self.errors: list[str] = []
        self.wrong: list[str] = []

    async def run(self, op: Callable[[int], Awaitable[None]], iterations: int) -> None:
        for i in range(iterations):
            self.ops += 1
            try:
                await op(i)
            except AssertionError as exc:
                self.wrong.append(str(exc))
            except Exception as exc:
                self.errors.append(f"{type(exc).__name__}: {exc}")

    def report(self) -> str:
        return json.dumps(
            {"ops": self.ops, "errors": len(self.errors), "wrong": len(self.wrong),
             "first_errors": self.errors[:5], "first_wrong": self.wrong[:5]}
        )


async def session_role(store: Store, name: str, tally: Tally, iterations: int) -> None:
    """Counts a session whose size only this worker changes, and pops what it added."""
    session = TimestepSession(name, store)
    base = await session.get_items()

    async def op(i: int) -> None:
        assert await session.get_items() == base, f"{name} read another session's items"
        await session.add_items([{"role": "user", "content": f"{name}-{i}"}])
        count = len(await session.get_items())
        assert count == len(base) + 1, f"{name} counted {count}, expected {len(base) + 1}"
        popped = await session.pop_item()
        assert popped == {"role": "user", "content": f"{name}-{i}"}, f"{name} popped {popped}"

    await tally.run(op, iterations)


async def params_role(store: Store, tally: Tally, iterations: int) -> None:
    async with store.connection() as conn:
        async def op(i: int) -> None:
            cur = await conn.execute("SELECT %s::text, %s::int + 1", (f"p{i}", i))
            row = await cur.fetchone()
            assert row == (f"p{i}", i + 1), f"params got {row} for {i}"

        await tally.run(op, iterations)


async def transaction_role(store: Store, worker: str, tally: Tally, iterations: int) -> None:
    async def op(i: int) -> None:
        async with store.transaction() as conn:
            await conn.execute("INSERT INTO isolation_probe (worker, i) VALUES (%s, %s)", (worker, i))
            cur = await conn.execute("SELECT count(*) FROM isolation_probe WHERE worker = %s", (worker,))
            row = await cur.fetchone()
            assert row == (i + 1,), f"transaction saw {row} rows, expected {i + 1}"

    await tally.run(op, iterations)


async def failing_role(store: Store, tally: Tally, iterations: int) -> None:
    async with store.connection() as conn:
        async def op(i: int) -> None:
            try:
                await conn.execute("SELECT 1 / %s::int", (0,))
            except psycopg.errors.DivisionByZero:
                pass
            else:
                raise AssertionError("a division by zero succeeded")
            cur = await conn.execute("SELECT %s::int * 2", (i,))
            row = await cur.fetchone()
            assert row == (2 * i,), f"after a failure got {row} for {i}"

        await tally.run(op, iterations)


async def session_state_role(store: Store, worker: str, tally: Tally, iterations: int) -> None:
    """Settings and named prepared statements of its own, checked on every iteration."""
    async with store.connection() as conn:
        await conn.execute(f"SET application_name = '{worker}'")
        cur = conn.cursor()

        async def op(i: int) -> None:
            await cur.execute("SELECT current_setting('application_name'), %s::int", (i,), prepare=True)
            row = await cur.fetchone()
            assert row == (worker, i), f"{worker} saw {row}"

        await tally.run(op, iterations)


async def main(location: str, role: str, iterations: int) -> None:
    tally = Tally()
    async with open_store(location) as store:
        kind, _, name = role.partition(":")
        jobs: dict[str, Callable[[], Awaitable[Any]]] = {
            "session": lambda: session_role(store, name, tally, iterations),
            "params": lambda: params_role(store, tally, iterations),
            "transaction": lambda: transaction_role(store, name, tally, iterations),
            "failing": lambda: failing_role(store, tally, iterations),
            "state": lambda: session_state_role(store, name, tally, iterations),
        }
        await jobs[kind]()
    print(tally.report(), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
