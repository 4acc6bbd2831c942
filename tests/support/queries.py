"""Reading what a store holds, for tests that check it from their own connection."""

from __future__ import annotations

from typing import Any

from timestep.store import Store


async def fetch(store: Store, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Every row ``sql`` returns, read on a connection of its own."""
    async with store.connection() as conn:
        return await (await conn.execute(sql, params)).fetchall()
