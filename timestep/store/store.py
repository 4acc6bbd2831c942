"""The ``Store``: one API over an embedded PGLite data directory or a PostgreSQL server.

A ``Store`` opens nothing when it is constructed; the first use (or ``async with``) starts or finds the
embedded server, opens a small connection pool and brings the schema up to date. Connections are in
autocommit mode: every write that matters goes through ``store.transaction()``.

Driver errors stop at this edge, as psycopg-pool's own errors are psycopg's: a ``psycopg.Error`` leaving
``open()``, ``connection()`` or ``transaction()`` is raised as ``timestep.errors.DatabaseError`` with its
``sqlstate`` and the driver's error as ``__cause__``. Inside the ``async with`` block a connection is plain
psycopg, so code there (timestep's own and the caller's raw SQL) catches psycopg's errors as usual.
"""

from __future__ import annotations

import asyncio
import logging
import os
import select
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, Literal

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from timestep.config import (
    Durability,
    StoreLocation,
    resolve_durability,
    resolve_idle_timeout,
    resolve_location,
)
from timestep.errors import DatabaseError, DatabaseUnavailableError, TimestepError
from timestep.redaction import redact_location
from timestep.store import durability as _durability
from timestep.store import maintenance, migrations
from timestep.store.embedded_server import EmbeddedServer

_CONNECT_TIMEOUT_S = 60.0
_log = logging.getLogger(__name__)


SchemaUse = Literal["migrate", "current", "any"]
"""What ``Store.open`` does with the schema: see there."""


class Store:
    """Where timestep keeps sessions, runs, snapshots, tool calls and usage.

    Errors: whatever the database or the connection to it fails with, once it leaves ``open()``,
    ``connection()`` or ``transaction()``, is a ``DatabaseError`` (a ``StoreError``, hence a
    ``TimestepError``) carrying the ``sqlstate`` (None for a lost connection) and the ``psycopg.Error``
    as ``__cause__``; so every public call that uses the store raises only ``TimestepError``s. Raw SQL in
    the block sees psycopg's errors: catch a specific one (``psycopg.errors.UniqueViolation``) inside the
    block, or ``DatabaseError`` outside it and look at ``sqlstate`` or ``__cause__``.
    """

    def __init__(self, location: StoreLocation, *, durability: Durability, max_connections: int = 4) -> None:
        self.location = location
        self.durability = durability
        self._max_connections = max_connections
        self._server = (
            EmbeddedServer(location.path, resolve_idle_timeout()) if location.kind == "embedded" else None
        )
        self._flusher = (
            _durability.WalFlusher(self._server.pgdata) if self._server is not None and durability == "full" else None
        )
        self._pool: AsyncConnectionPool[AsyncConnection[Any]] | None = None
        self._open_lock: asyncio.Lock | None = None
        self._maintenance: asyncio.Task[None] | None = None

    @property
    def kind(self) -> Literal["embedded", "server"]:
        return self.location.kind

    @property
    def server(self) -> EmbeddedServer | None:
        """The embedded server of this store's data directory (None for a PostgreSQL server URL)."""
        return self._server

    def __repr__(self) -> str:
        return f"<Store {self.kind} {redact_location(self.location.value)!r}>"

    async def open(self, *, schema: SchemaUse = "migrate") -> Store:
        """Start or find the server, open the pool and deal with the schema as ``schema`` says. Idempotent.

        ``"migrate"`` (apps, and whatever writes) brings the schema up to date. ``"current"`` (what only reads)
        uses it as it is and refuses one that is behind with a ``SchemaError``, so that looking at a store never
        upgrades a database that an older timestep still writes to; an empty database still gets the schema,
        as nobody's data is there. ``"any"`` checks nothing: for the commands that report and apply migrations.
        """
        if self._pool is not None:
            return self
        if self._open_lock is None:
            self._open_lock = asyncio.Lock()
        async with self._open_lock:
            if self._pool is None:
                pool = await self._open_pool()
                try:
                    async with pool.connection() as conn:
                        if schema == "migrate":
                            await migrations.migrate(conn)
                        elif schema == "current":
                            await migrations.require_current(conn, self)
                except psycopg.Error as exc:
                    await pool.close()
                    raise self._database_error(exc) from exc
                except BaseException:
                    await pool.close()
                    raise
                self._pool = pool
                if self._server is not None:
                    self._maintenance = asyncio.get_running_loop().create_task(self._maintain_periodically())
        return self

    async def close(self) -> None:
        maintenance, self._maintenance = self._maintenance, None
        if maintenance is not None:
            maintenance.cancel()  # a statement it is waiting on ends when the pool closes its connection
            await asyncio.wait({maintenance}, timeout=0.5)
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def __aenter__(self) -> Store:
        return await self.open()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection[Any]]:
        """A pooled connection in autocommit mode, for raw SQL.

        A ``psycopg.Error`` that leaves the block is raised as a ``DatabaseError`` from it."""
        try:
            conn = await self.acquire()
            try:
                yield conn
            finally:
                await self.release(conn)
            await self.make_durable()
        except psycopg.Error as exc:
            raise self._database_error(exc) from exc

    async def acquire(self) -> AsyncConnection[Any]:
        """A pooled connection kept until ``release``: for a writer whose commits come in quick succession.
        Call ``make_durable`` after each of its commits, as ``connection()`` does after each use."""
        pool = self._pool or (await self.open())._pool
        assert pool is not None
        try:
            return await pool.getconn()
        except PoolTimeout as exc:
            raise DatabaseUnavailableError(f"no connection to {self!r} could be made: {exc}") from exc

    @staticmethod
    def still_usable(conn: AsyncConnection[Any]) -> bool:
        """Whether a kept connection still has its server, judged as the pool judges one it hands out."""
        return _has_server(conn)

    async def release(self, conn: AsyncConnection[Any]) -> None:
        """Give back a connection from ``acquire``; one that outlived its pool (the store closed) is closed."""
        try:
            if self._pool is not None:
                await self._pool.putconn(conn)
                return
        except ValueError:  # it came from a pool this store closed since
            pass
        await conn.close()

    async def make_durable(self) -> None:
        """With ``durability="full"``, flush what the commits so far wrote to disk (see ``store.durability``)."""
        if self._flusher is not None:
            await asyncio.to_thread(self._flusher.flush)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection[Any]]:
        """A connection inside one transaction: committed when the block ends, rolled back on error.

        A ``psycopg.Error`` that leaves the block, or the commit's, is raised as a ``DatabaseError`` from it."""
        async with self.connection() as conn, conn.transaction():
            yield conn

    async def _maintain_periodically(self) -> None:
        """The embedded engine's stand-in for autovacuum, from a second after opening until closing."""
        delay = 1.0  # short-lived processes (the command line) leave it to longer-lived ones
        while True:
            await asyncio.sleep(delay)
            delay = maintenance.INTERVAL_S
            try:
                async with self.connection() as conn:
                    await maintenance.maintain(conn)
            except TimestepError as exc:  # a DatabaseError among them; the next round tries again
                _log.info("store maintenance of %r failed: %s", self, exc)

    def _database_error(self, exc: psycopg.Error) -> DatabaseError:
        return database_error(exc, repr(self))

    async def schema_status(self) -> migrations.SchemaStatus:
        async with self.connection() as conn:
            return await migrations.schema_status(conn)

    async def _open_pool(self) -> AsyncConnectionPool[AsyncConnection[Any]]:
        if self._server is None:
            await self._probe_server_url()
        else:  # start-up errors (Node, packages, directory) surface here, not as pool retries
            await asyncio.to_thread(self._server.ensure_running)
        pool: AsyncConnectionPool[AsyncConnection[Any]] = AsyncConnectionPool(
            self._conninfo,
            kwargs={"autocommit": True},
            min_size=1,
            max_size=self._max_connections,
            open=False,
            check=_check_connection,
            timeout=_CONNECT_TIMEOUT_S,
            reconnect_timeout=_CONNECT_TIMEOUT_S,
            name=f"timestep-{self.kind}",
        )
        try:
            await pool.open(wait=True, timeout=_CONNECT_TIMEOUT_S)
        except PoolTimeout as exc:
            await pool.close()
            raise DatabaseUnavailableError(f"could not connect to {self!r} within {_CONNECT_TIMEOUT_S:.0f} s") from exc
        except TimestepError:
            await pool.close()
            raise
        return pool

    async def _probe_server_url(self) -> None:
        """Fail fast with a clear message, rather than after the pool's reconnection attempts time out."""
        try:
            conn = await AsyncConnection.connect(self.location.value, connect_timeout=5)
        except psycopg.OperationalError as exc:
            raise DatabaseUnavailableError(
                f"the PostgreSQL server at {redact_location(self.location.value)} does not answer ({exc}); check "
                "that it runs and that the URL (host, port, user, password, database) is right"
            ) from exc
        await conn.close()

    async def _conninfo(self) -> str:
        """Called by the pool for every new connection: starts the embedded server again if it died."""
        if self._server is None:
            return self.location.value
        await asyncio.to_thread(self._server.ensure_running)
        return self._server.conninfo()


async def _check_connection(conn: AsyncConnection[Any]) -> None:
    """The pool's check: discard a connection whose server went away, without a round trip."""
    if not _has_server(conn):
        await conn.close()  # a closed connection is dropped by the pool rather than handed out again
        raise psycopg.OperationalError("the server closed the connection")


def _has_server(conn: AsyncConnection[Any]) -> bool:
    """Whether an idle connection still has its server: its socket does not read as end-of-file (or reset).

    Readable data is not enough to tell: PGLite may leave a notice behind, which libpq reads with the next
    result.
    """
    if conn.closed or conn.broken:
        return False
    readable, _, _ = select.select([conn.fileno()], [], [], 0)
    if not readable:
        return True
    with socket.socket(fileno=os.dup(conn.fileno())) as sock:
        try:
            return bool(sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
        except BlockingIOError:
            return True
        except OSError:
            return False


def database_error(exc: psycopg.Error, where: str) -> DatabaseError:
    """The ``DatabaseError`` a driver error means to timestep's callers; the caller chains it (``from exc``)."""
    detail = f"{type(exc).__name__}: {' '.join(str(exc).split()) or 'no message'}"
    if exc.sqlstate is None or exc.sqlstate.startswith(("08", "57P")):  # no answer, or the server hung up
        return DatabaseError(
            f"{where}: the connection to the database failed ({detail}); check that its server runs "
            "(`timestep doctor`), then retry",
            sqlstate=exc.sqlstate,
        )
    return DatabaseError(
        f"{where}: the database failed a statement with SQLSTATE {exc.sqlstate} ({detail}); "
        "`timestep doctor` checks the store and its schema",
        sqlstate=exc.sqlstate,
    )


def open_store(
    location: str | os.PathLike[str] | None = None, *, durability: str | None = None
) -> Store:
    """A store for a data directory path, a ``postgresql://`` URL, or by default ``TIMESTEP_DATABASE_URL``
    else the default data directory. Nothing is opened until first use or ``async with``.

    ``durability`` applies to the embedded store: "process" (the default) keeps every commit through a crash
    of any process; "full" also through power loss, at the cost measured in ``scripts/bench_store.py``. A
    PostgreSQL server's own settings decide its durability."""
    return Store(resolve_location(location), durability=resolve_durability(durability))
