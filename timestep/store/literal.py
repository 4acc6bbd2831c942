"""Statements with their values escaped into the text, to be sent as simple queries.

The statements that run on every turn (a run's writes, a session's appends and reads) are sent this way: on
the embedded engine a simple query costs about half as much as the parse-bind-execute exchange of a
statement with bound parameters, and prepared statements are not an option there (every client shares one
backend). Values are escaped by libpq (``PQescapeLiteral``), which follows the connection's encoding and
``standard_conforming_strings``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from psycopg import AsyncConnection
from psycopg.pq import Escaping

__all__ = ["Literals"]


class Literals:
    """Renders values as SQL literals for one connection."""

    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self._escape = Escaping(conn.pgconn).escape_literal

    def text(self, value: str | bytes | None) -> bytes:
        """A string (or NULL) as a quoted literal."""
        if value is None:
            return b"NULL"
        return self._escape(value.encode() if isinstance(value, str) else value)

    @staticmethod
    def integer(value: int) -> bytes:
        return str(int(value)).encode()

    def json_array(self, values: Iterable[str]) -> bytes:
        """JSON texts as a ``json[]`` value."""
        return b"ARRAY[" + b",".join(self.text(value) for value in values) + b"]::json[]"
