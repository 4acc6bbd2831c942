"""Concurrent and multi-process use of one session."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

import pytest

from timestep.session import TimestepSession
from timestep.store import Store

ROOT = Path(__file__).resolve().parents[2]


def assert_calls_contiguous(items: list[Any], writers: list[str], calls: int) -> None:
    """Every add_items call's three items are adjacent and in order; each writer's calls are in order."""
    assert len(items) == len(writers) * calls * 3
    for start in range(0, len(items), 3):
        chunk = items[start : start + 3]
        assert [i["part"] for i in chunk] == [0, 1, 2], chunk
        assert len({(i["writer"], i["call"]) for i in chunk}) == 1, chunk
    for writer in writers:
        assert [i["call"] for i in items[::3] if i["writer"] == writer] == list(range(calls))


async def test_concurrent_pops_never_return_the_same_item(store: Store) -> None:
    session = TimestepSession("s", store)
    numbered: list[Any] = [{"n": n} for n in range(60)]
    await session.add_items(numbered)

    async def popper() -> list[int]:
        got: list[int] = []
        while (item := await session.pop_item()) is not None:
            got.append(cast(dict[str, int], item)["n"])
        return got

    results = await asyncio.gather(*(popper() for _ in range(6)))
    popped = [n for result in results for n in result]
    assert sorted(popped) == list(range(60))  # each item exactly once
    for result in results:
        assert result == sorted(result, reverse=True)  # each caller sees newest first
    assert await session.get_items() == []


async def test_concurrent_adds_do_not_interleave(store: Store) -> None:
    session = TimestepSession("s", store)
    writers = [f"w{n}" for n in range(6)]

    async def writer(name: str) -> None:
        for call in range(10):
            items: list[Any] = [{"writer": name, "call": call, "part": p} for p in range(3)]
            await session.add_items(items)

    await asyncio.gather(*(writer(w) for w in writers))
    assert_calls_contiguous(await session.get_items(), writers, 10)


async def test_concurrent_adds_and_pops(store: Store) -> None:
    session = TimestepSession("s", store)
    first: list[Any] = [{"n": -1}]
    await session.add_items(first)
    added: list[list[Any]] = [[{"n": 3 * c + p} for p in range(3)] for c in range(20)]

    async def adder() -> None:
        for items in added:
            await session.add_items(items)

    async def popper() -> list[Any]:
        got: list[Any] = []
        for _ in range(15):
            item = await session.pop_item()
            if item is not None:
                got.append(item)
            await asyncio.sleep(0)
        return got

    _, pops_a, pops_b = await asyncio.gather(adder(), popper(), popper())
    remaining: list[Any] = await session.get_items()
    everything = sorted(i["n"] for i in [*remaining, *pops_a, *pops_b])
    assert everything == list(range(-1, 60))
    assert [i["n"] for i in remaining] == sorted(i["n"] for i in remaining)


async def test_concurrent_pops_clears_and_deletes_do_not_deadlock(store: Store) -> None:
    """Every writer locks items before the session row, so mixing them never ends in a deadlock error."""
    session = TimestepSession("s", store)
    batch: list[Any] = [{"n": n} for n in range(5)]

    async def adder() -> None:
        for _ in range(40):
            await session.add_items(batch)

    async def popper() -> None:
        for _ in range(60):
            await session.pop_item()

    async def clearer() -> None:
        for n in range(20):
            await (session.clear_session() if n % 4 else session.delete())
            await asyncio.sleep(0)

    await asyncio.wait_for(asyncio.gather(adder(), popper(), popper(), clearer()), timeout=60)
    items = await session.get_items()
    assert all(item in batch for item in items)
    assert len(items) == await session.count()


@pytest.mark.slow
async def test_two_processes_add_to_one_session(embedded_store: Store) -> None:
    location = str(embedded_store.location.value)
    writers, calls = ["p1", "p2"], 25
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.session.add_worker",
            location,
            "shared",
            writer,
            str(calls),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for writer in writers
    ]
    outputs = [await asyncio.wait_for(p.communicate(), timeout=120) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err.decode()
        assert out.decode().strip() == "done"
    items = await TimestepSession("shared", embedded_store).get_items()
    assert_calls_contiguous(items, writers, calls)  # the retried writes were applied once
