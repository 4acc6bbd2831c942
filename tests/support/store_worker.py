"""A separate process that writes rows to a store, announcing each commit on stdout.

Usage: python -m tests.support.store_worker LOCATION WRITER COUNT
Each row is committed in its own transaction; after a commit the worker prints ``committed <key>``. A write
that fails because the server went away is retried (the insert is idempotent), as an application would.
"""

from __future__ import annotations

import asyncio
import sys

import psycopg

from timestep.errors import DatabaseError
from timestep.store import open_store


async def main(location: str, writer: str, count: int) -> None:
    async with open_store(location) as store:
        for i in range(count):
            key = f"{writer}-{i:05d}"
            for attempt in range(50):
                try:
                    async with store.transaction() as conn:
                        await conn.execute(
                            "INSERT INTO timestep_sessions (session_id) VALUES (%s) ON CONFLICT DO NOTHING",
                            (key,),
                        )
                    break
                except DatabaseError as exc:  # the store raises the driver's error as its cause
                    if attempt == 49 or not isinstance(exc.__cause__, psycopg.OperationalError):
                        raise
                    await asyncio.sleep(0.05)
            print(f"committed {key}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
