"""``TimestepSession``: the Agents SDK ``Session`` protocol on the timestep store.

Every operation is one autocommit statement, so one round trip:

- ``add_items`` upserts the session row (which locks it until the statement commits, so concurrent writers
  to one session never interleave their items), records the operation id if one is given, and inserts the
  items in order; a write whose operation id was already recorded inserts nothing.
- ``get_items`` reads the last N items as one JSON array text value, parsed once with orjson.
- ``pop_item`` locks the session row, then deletes and returns the newest item: concurrent callers queue up
  on the row and never receive the same item.
- ``clear_session`` deletes the items but keeps the session row and its recorded operation ids: a write
  retried after a clear is still applied at most once. ``delete`` removes the session entirely.

Inside a run of the same store (``run_agent``), ``add_items`` queues the items on the run's writer, to be
committed with the run's next step; reads and other writes through the session first wait for them. A
journaled run commits them behind it (its recovery drops and replays the items of an attempt that died);
other runs wait for the commit.

The class implements the protocol structurally (the SDK marks ``SessionABC`` internal) and does not import
the SDK at run time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

import orjson

from timestep.durable.writer import RunWriter, current_run_writer
from timestep.errors import SessionItemError, UnstorableValueError
from timestep.storable import check_id, checked_json
from timestep.store import Store, resolve_store
from timestep.store.literal import Literals, simple_query

if TYPE_CHECKING:
    from agents.items import TResponseInputItem
    from agents.memory.session_settings import SessionSettings

__all__ = ["SessionInfo", "TimestepSession", "current_run_id"]

current_run_id: ContextVar[str | None] = ContextVar("timestep_current_run_id", default=None)
"""The run whose items are being added; ``add_items`` tags the rows it inserts with it."""

_T = TypeVar("_T")

# -- SQL: one statement per operation ---------------------------------------------------------------------

# One call, one statement: the function (schema/functions.sql) upserts the session row, records the operation
# id and appends the items in order, with plans the backend keeps between calls. It and the reads run on every turn
# or run, so they go as simple queries (see timestep.store.literal).
_ADD_ITEMS = b"SELECT timestep_add_session_items(%b, %b, %b, %b)"


# The last N items (all of them when N is NULL) as one JSON array text, joined from their stored text. The
# function (schema/functions.sql) keeps its plan between calls (planning this query costs more than running
# it) and reads by the session index.
_GET_LAST = b"SELECT timestep_last_session_items(%b, %b)"

# Every write locks the session row first (add_items by its upsert), so writers to one session queue up
# behind each other and can never deadlock. A pop that waited may hold a snapshot in which the item it
# should return was popped meanwhile: FOR UPDATE skips such deleted rows and takes the next one.
_POP_ITEM = """
WITH s AS (
    SELECT session_id FROM timestep_sessions WHERE session_id = %(session_id)s FOR NO KEY UPDATE
), d AS (
    DELETE FROM timestep_session_items
    WHERE id = (
        SELECT id FROM timestep_session_items WHERE session_id = (SELECT session_id FROM s)
        ORDER BY id DESC LIMIT 1 FOR UPDATE
    )
    RETURNING item::text AS item
), touched AS (
    UPDATE timestep_sessions SET updated_at = now()
    WHERE session_id = %(session_id)s AND EXISTS (SELECT 1 FROM d)
)
SELECT item FROM d
"""

_CLEAR = """
WITH s AS (
    UPDATE timestep_sessions SET updated_at = now() WHERE session_id = %(session_id)s RETURNING session_id
)
DELETE FROM timestep_session_items WHERE session_id = (SELECT session_id FROM s)
"""

_DELETE = "DELETE FROM timestep_sessions WHERE session_id = %(session_id)s"  # items and operations cascade

_COUNT = "SELECT count(*) FROM timestep_session_items WHERE session_id = %s"

_LIST = """
SELECT s.session_id, count(i.id), s.created_at, s.updated_at
FROM timestep_sessions AS s LEFT JOIN timestep_session_items AS i ON i.session_id = s.session_id
GROUP BY s.session_id
ORDER BY s.updated_at DESC, s.created_at DESC, s.session_id
"""


@dataclass(frozen=True)
class SessionInfo:
    """One session of the store: its id, how many items it holds, when it was created and last written."""

    session_id: str
    item_count: int
    created_at: datetime
    updated_at: datetime


class TimestepSession:
    """Conversation history of one session, kept in a timestep store (the default store when none is given).

    Pass it as ``session=`` to ``Runner.run``; it satisfies ``agents.memory.Session``. Nothing is opened
    when it is constructed. ``session_id`` (and an ``operation_id``) is 1 to 255 characters without NUL or
    lone surrogates: any other raises ``InvalidIdError`` (see ``timestep.storable``).
    """

    session_settings: SessionSettings | None = None

    def __init__(
        self,
        session_id: str,
        store: Store | None = None,
        *,
        session_settings: SessionSettings | None = None,
    ) -> None:
        self.session_id = check_id(session_id, "session id")
        self.session_settings = session_settings
        self._store = store

    def __repr__(self) -> str:
        return f"<TimestepSession {self.session_id!r}>"

    @property
    def store(self) -> Store:
        """The store this session writes to (the running loop's default store when none was given)."""
        return resolve_store(self._store)

    async def get_items(self, limit: int | None = None) -> list[TResponseInputItem]:
        """The latest ``limit`` items (all when None) in the order they were added.

        When ``limit`` is None the session settings' limit applies. ``limit=0`` gives no items and a negative
        limit gives all of them, as ``SQLiteSession`` does.
        """
        if limit is None and self.session_settings is not None:
            limit = self.session_settings.limit
        if limit == 0:
            return []
        await self._settle()
        async with self.store.connection() as conn:
            literals = Literals(conn)
            count = b"NULL" if limit is None or limit < 0 else literals.integer(limit)
            result = await simple_query(conn, _GET_LAST % (literals.text(self.session_id), count))
        items = result.get_value(0, 0) if result is not None and result.ntuples else None
        if items is None:
            return []
        return cast("list[TResponseInputItem]", orjson.loads(items))

    async def add_items(self, items: list[TResponseInputItem], *, operation_id: str | None = None) -> None:
        """Append ``items`` in one atomic write.

        With an ``operation_id``, the write is applied at most once per session: repeating it (a retry after
        a lost acknowledgement, say) changes nothing, even after ``clear_session``.
        """
        if operation_id is not None:
            check_id(operation_id, "operation id")
        encoded = encode_items(items)
        if not encoded:
            return
        writer = self._run_writer()
        if writer is not None:
            writer.add_session_items(self.session_id, operation_id, encoded)
            if writer.write_behind:
                writer.commit_soon()
            else:
                await _await_mutation(writer.flush())
            return
        await _await_mutation(self._append(encoded, operation_id))

    async def pop_item(self) -> TResponseInputItem | None:
        """Remove and return the newest item, or None when the session is empty.

        Concurrent callers never receive the same item: they take their turns on the session row.
        """
        await self._settle()
        row = await _await_mutation(self._fetch_one(_POP_ITEM, {"session_id": self.session_id}))
        if row is None:
            return None
        return cast("TResponseInputItem", orjson.loads(row[0]))

    async def clear_session(self) -> None:
        """Delete every item; the session and its applied operation ids remain."""
        await self._settle()
        await _await_mutation(self._execute(_CLEAR, {"session_id": self.session_id}))

    async def delete(self) -> None:
        """Delete the session with its items and its applied operation ids."""
        await self._settle()
        await _await_mutation(self._execute(_DELETE, {"session_id": self.session_id}))

    async def count(self) -> int:
        """How many items the session holds."""
        await self._settle()
        row = await self._fetch_one(_COUNT, (self.session_id,))
        return int(row[0]) if row is not None else 0

    @staticmethod
    async def list_sessions(store: Store | None = None) -> list[SessionInfo]:
        """Every session of the store, the most recently written first."""
        async with resolve_store(store).connection() as conn:
            cur = await conn.execute(_LIST)
            rows = await cur.fetchall()
        return [SessionInfo(str(r[0]), int(r[1]), r[2], r[3]) for r in rows]

    def _run_writer(self) -> RunWriter | None:
        """The writer of the run this call is part of, when that run writes to this session's store."""
        writer = current_run_writer.get()
        return writer if writer is not None and writer.store is self.store else None

    async def _settle(self) -> None:
        """Wait for items the current run queued, so that this call sees them."""
        writer = self._run_writer()
        if writer is not None and writer.has_uncommitted_session_items:
            await writer.flush()

    async def _append(self, encoded: list[str], operation_id: str | None) -> None:
        async with self.store.connection() as conn:
            literals = Literals(conn)
            await simple_query(conn, _ADD_ITEMS % (
                literals.text(self.session_id), literals.text(operation_id), literals.text(current_run_id.get()),
                literals.json_array(encoded),
            ))

    async def _execute(self, query: str, params: Any) -> None:
        async with self.store.connection() as conn:
            await conn.execute(query, params)

    async def _fetch_one(self, query: str, params: Any) -> tuple[Any, ...] | None:
        async with self.store.connection() as conn:
            cur = await conn.execute(query, params)
            return await cur.fetchone()


def encode_items(items: object) -> list[str]:
    """Each item as JSON text; a ``SessionItemError`` naming the first item that cannot be stored."""
    if isinstance(items, (str, bytes, Mapping)) or not hasattr(items, "__iter__"):
        raise SessionItemError(f"add_items expects a list of items (mappings), not {type(items).__name__}", index=0)
    encoded: list[str] = []
    for index, item in enumerate(cast("list[object]", items)):
        if not isinstance(item, Mapping):
            raise SessionItemError(
                f"item {index} is a {type(item).__name__}, not a mapping; session items are JSON objects "
                "such as {'role': 'user', 'content': '...'} (convert SDK objects with to_input_item())",
                index=index,
            )
        try:
            text = orjson.dumps(item if isinstance(item, dict) else dict(item))
        except (TypeError, orjson.JSONEncodeError) as exc:
            raise SessionItemError(
                f"item {index} is not JSON-serialisable ({exc}); store plain JSON values only", index=index
            ) from exc
        try:
            encoded.append(checked_json(text, f"item {index}"))
        except UnstorableValueError as exc:
            raise SessionItemError(str(exc), index=index) from exc
    return encoded


async def _await_mutation(awaitable: Awaitable[_T]) -> _T:
    """Finish a write even if the caller is cancelled, then re-raise the cancellation.

    A cancelled caller therefore never leaves it unknown whether its write happened: the write completes
    (or fails) and only then does the cancellation propagate.
    """
    task = asyncio.ensure_future(awaitable)
    cancelled: asyncio.CancelledError | None = None
    while not task.done():
        try:
            await asyncio.wait({task})
        except asyncio.CancelledError as exc:
            cancelled = cancelled or exc
    if cancelled is not None:
        if not task.cancelled():
            task.exception()  # retrieved, so an error of the write is not reported as never retrieved
        raise cancelled
    return task.result()
