"""Statements with their values escaped into the text, to be sent as simple queries.

The statements that run on every turn (a run's writes, a session's appends and reads) are sent this way: on
the embedded engine a simple query costs about half as much as the parse-bind-execute exchange of a
statement with bound parameters, and prepared statements are not an option there (every client shares one
backend). Values are escaped by libpq (``PQescapeLiteral``), which follows the connection's encoding and
``standard_conforming_strings``.

``simple_query`` sends such a statement through psycopg's libpq wrapper (``psycopg.pq``) and waits on the
event loop itself: a round trip then costs about 25 us of CPU, against 55 us through ``conn.execute``, whose
cursor, lock and timed waits serve statements in general. A run pays it on every commit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from psycopg import AsyncConnection, OperationalError
from psycopg.errors import error_from_result
from psycopg.pq import Escaping, ExecStatus
from psycopg.pq.abc import PGresult

from timestep.errors import UnstorableValueError

__all__ = ["Literals", "send_simple_query", "simple_query", "simple_query_result"]


class Literals:
    """Renders values as SQL literals for one connection."""

    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self._escape = Escaping(conn.pgconn).escape_literal

    def text(self, value: str | bytes | None) -> bytes:
        """A string (or NULL) as a quoted literal. A NUL is refused: libpq's escaping would end the value there
        and send what precedes it, as if that were the value (callers check their values before; see
        ``timestep.storable``)."""
        if value is None:
            return b"NULL"
        encoded = value.encode() if isinstance(value, str) else value
        if b"\x00" in encoded:
            raise UnstorableValueError(
                f"a value with a NUL byte at position {encoded.index(0)} cannot be escaped into a statement; "
                "check it with timestep.storable first"
            )
        return self._escape(encoded)

    @staticmethod
    def integer(value: int) -> bytes:
        return str(int(value)).encode()

    def json_array(self, values: Iterable[str]) -> bytes:
        """JSON texts as a ``json[]`` value."""
        return b"ARRAY[" + b",".join(self.text(value) for value in values) + b"]::json[]"


async def simple_query(conn: AsyncConnection[Any], statement: bytes) -> PGresult | None:
    """Run ``statement`` (values already in it) on ``conn``, which the caller alone is using; return its last
    result, or raise the error the server answered with, as psycopg would."""
    send_simple_query(conn, statement)
    return await simple_query_result(conn)


def send_simple_query(conn: AsyncConnection[Any], statement: bytes) -> None:
    """Put ``statement`` on the wire (as much as the socket takes) without waiting; ``simple_query_result``
    sends the rest and waits for the answer."""
    conn.pgconn.send_query(statement)


async def simple_query_result(conn: AsyncConnection[Any]) -> PGresult | None:
    """The answer to the statement ``send_simple_query`` sent: its last result, or the server's error raised."""
    pgconn = conn.pgconn
    while pgconn.flush():  # a large statement fills the socket's buffer: wait until it drains
        await _socket_ready(pgconn.socket, writable=True)
        pgconn.consume_input()
    pgconn.consume_input()
    while pgconn.is_busy():
        await _socket_ready(pgconn.socket, writable=False)
        pgconn.consume_input()
    last: PGresult | None = None
    failed: PGresult | None = None
    while (result := pgconn.get_result()) is not None:
        if result.status == ExecStatus.FATAL_ERROR and failed is None:
            failed = result
        last = result
    if failed is not None:
        raise error_from_result(failed, encoding=conn.info.encoding)
    return last


async def _socket_ready(fd: int, *, writable: bool) -> None:
    """Wait until the server has answered (or, ``writable``, until the socket takes more of the statement)."""
    loop = asyncio.get_running_loop()
    ready = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    try:
        loop.add_reader(fd, wake)
        if writable:
            loop.add_writer(fd, wake)
        await ready
    except OSError as exc:
        raise OperationalError(f"the connection's socket failed: {exc}") from exc
    finally:
        loop.remove_reader(fd)
        if writable:
            loop.remove_writer(fd)
