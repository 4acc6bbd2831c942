"""Time ``TimestepSession`` against the SDK's ``SQLiteSession`` (file-backed), side by side in one process.

Two operations, as the runner uses them on every turn:
- ``add_items`` of 4 items (a user message, a function call, its output, an assistant message), appended to
  a session that grows as the benchmark runs;
- ``get_items(limit=100)`` on a session of 200 items.

Engines: the embedded store (PGLite, default durability), a PostgreSQL server (fsync on, a throwaway cluster
from the machine's binaries, when they are installed) and ``SQLiteSession`` on a file in a temporary
directory. Rounds alternate between engines (each operation timed in its own loop) so that machine noise
hits all of them alike; the figure is the median per operation.

Usage: python scripts/bench_session.py [--quick] [--markdown]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agents.memory import Session, SQLiteSession  # noqa: E402

from tests.support.postgres_server import start_postgres  # noqa: E402
from timestep.session import TimestepSession  # noqa: E402
from timestep.store import Store, open_store  # noqa: E402

TARGETS = {"add_items (4 items)": 1.5, "get_items(limit=100)": 2.0}
SESSION_ITEMS = 200
READ_LIMIT = 100


def turn_items(n: int) -> list[Any]:
    """Four items of one agent turn, about 250 bytes each."""
    call_id = f"call_{n:06d}"
    return [
        {"role": "user", "content": f"Turn {n}: what is the weather in Zürich today, and should I cycle?"},
        {
            "type": "function_call",
            "id": f"fc_{n:06d}",
            "call_id": call_id,
            "name": "get_weather",
            "arguments": '{"city": "Zürich", "units": "metric"}',
            "status": "completed",
        },
        {"type": "function_call_output", "call_id": call_id, "output": '{"temp_c": 14, "rain_mm": 0.2}'},
        {
            "id": f"msg_{n:06d}",
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [
                {"type": "output_text", "text": "14 °C and nearly dry: a fine day to cycle.", "annotations": []}
            ],
        },
    ]


@dataclass
class Engine:
    name: str
    make: Callable[[str], Session]
    samples: dict[str, list[float]]


async def timed(operation: Awaitable[Any]) -> float:
    start = time.perf_counter()
    await operation
    return time.perf_counter() - start


async def prepare(engine: Engine) -> tuple[Session, Session]:
    writer = engine.make("bench-add")
    reader = engine.make("bench-get")
    await writer.clear_session()
    await reader.clear_session()
    for n in range(SESSION_ITEMS // 4):
        await reader.add_items(turn_items(n))
    assert len(await reader.get_items(limit=READ_LIMIT)) == READ_LIMIT
    return writer, reader


async def measure(engines: list[Engine], rounds: int, per_round: int) -> None:
    """Each round runs every engine in turn (the order rotating), each operation in its own loop."""
    sessions = [await prepare(engine) for engine in engines]
    counter = 0
    for round_number in range(rounds + 1):  # round 0 warms up and is not counted
        shift = round_number % len(engines)
        order = list(zip(engines, sessions, strict=True))
        for engine, (writer, reader) in order[shift:] + order[:shift]:
            adds, gets = [], []
            for _ in range(per_round):
                counter += 1
                adds.append(await timed(writer.add_items(turn_items(counter))))
            for _ in range(per_round):
                gets.append(await timed(reader.get_items(limit=READ_LIMIT)))
            if round_number:
                engine.samples["add_items (4 items)"].extend(adds)
                engine.samples["get_items(limit=100)"].extend(gets)


def report(engines: list[Engine], markdown: bool) -> None:
    baseline = next(e for e in engines if e.name.startswith("SQLiteSession"))
    medians = {e.name: {op: statistics.median(s) * 1000 for op, s in e.samples.items()} for e in engines}
    ours = [e for e in engines if e is not baseline]
    header = ["operation", *(e.name for e in engines), *(f"ratio {e.name}" for e in ours), "target"]
    rows = []
    for op, target in TARGETS.items():
        base = medians[baseline.name][op]
        ratios = [medians[e.name][op] / base for e in ours]
        verdicts = ", ".join(
            f"{e.name}: {'met' if r <= target else 'not met'}" for e, r in zip(ours, ratios, strict=True)
        )
        rows.append(
            [
                op,
                *(f"{medians[e.name][op]:.3f} ms" for e in engines),
                *(f"{r:.2f}x" for r in ratios),
                f"≤ {target}x ({verdicts})",
            ]
        )
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for row in rows:
            print("| " + " | ".join(row) + " |")
    else:
        widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
        for row in [header, *rows]:
            print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
    samples = len(baseline.samples["add_items (4 items)"])
    print(
        f"\nMedians of {samples} operations per cell; {platform.python_version()} on {platform.machine()}, "
        "SQLiteSession on a file (WAL)."
    )


async def main(quick: bool, markdown: bool) -> None:
    rounds, per_round = (3, 50) if quick else (10, 100)
    tmp = Path(tempfile.mkdtemp(prefix="timestep-bench-session-"))
    postgres = start_postgres()
    stores: list[Store] = [open_store(tmp / "embedded")]
    if postgres is not None:
        stores.append(open_store(postgres.url()))
    sqlite_sessions: list[SQLiteSession] = []

    def sqlite_session(session_id: str) -> Session:
        session = SQLiteSession(session_id, tmp / "sqlite.db")
        sqlite_sessions.append(session)
        return session

    try:
        for store in stores:
            await store.open()
        engines = [
            Engine(
                "TimestepSession embedded" if store.kind == "embedded" else "TimestepSession PostgreSQL",
                lambda sid, store=store: TimestepSession(sid, store),  # type: ignore[misc]
                {op: [] for op in TARGETS},
            )
            for store in stores
        ]
        engines.append(Engine("SQLiteSession file", sqlite_session, {op: [] for op in TARGETS}))
        if postgres is None:
            print("PostgreSQL's binaries are not installed: the server column is left out.", file=sys.stderr)
        await measure(engines, rounds, per_round)
        report(engines, markdown)
    finally:
        for session in sqlite_sessions:
            session.close()
        for store in stores:
            await store.close()
            if store.server is not None:
                store.server.stop()
        if postgres is not None:
            postgres.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer rounds, for a smoke test")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown for the README")
    args = parser.parse_args()
    asyncio.run(main(args.quick, args.markdown))
