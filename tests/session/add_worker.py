"""A separate process that appends to one session, for the multi-process tests.

Usage: python -m tests.session.add_worker LOCATION SESSION_ID WRITER CALLS
Each call adds three items tagged with the writer and call number, under an operation id; every call is
sent twice, as a client retrying after a lost acknowledgement would.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from timestep.session import TimestepSession
from timestep.store import open_store


async def main(location: str, session_id: str, writer: str, calls: int) -> None:
    async with open_store(location) as store:
        session = TimestepSession(session_id, store)
        for call in range(calls):
            items: list[Any] = [{"writer": writer, "call": call, "part": part} for part in range(3)]
            for _ in range(2):
                await session.add_items(items, operation_id=f"{writer}-{call}")
    print("done", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
