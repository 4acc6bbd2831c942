"""The schema from ``schema/``: numbered SQL migrations, then the repeatable file of functions.

Numbered migrations (``NNNN_name.sql``: tables, columns, indexes) are applied in order, each once, in one
transaction with its record. Fail closed: a database that has a migration this library does not know (newer
timestep), or whose applied migration differs from the file (edited after release), is refused and left
untouched.

``functions.sql`` holds every function as ``CREATE OR REPLACE`` and is applied again, as a whole and in one
transaction, whenever its checksum differs from the one the database recorded; a changed file is not an error.
It carries a revision number, recorded with the checksum: a database whose functions have a higher revision
than this library's file was written by a newer timestep and is refused, so that an older timestep never puts
its functions back over newer ones (numbered migrations of a newer timestep are refused already).

Concurrent migrators are serialised by a transaction-scoped advisory lock, taken only when something is
pending; each one reads the state again once it holds the lock.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import AsyncConnection

from timestep.errors import MigrationLockTimeout, SchemaError

_FILE_PATTERN = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
FUNCTIONS_FILE = "functions.sql"
_FUNCTIONS_NAME = "functions"  # its row in timestep_schema_functions
_REVISION_PATTERN = re.compile(r"^-- timestep functions revision: (\d+)$", re.MULTILINE)
_LOCK_KEY = 0x74696D65  # "time": one advisory lock key for timestep migrations
LOCK_TIMEOUT_S = 60


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


@dataclass(frozen=True)
class AppliedMigration:
    version: int
    name: str
    checksum: str


@dataclass(frozen=True)
class Functions:
    """The repeatable file of functions, with the revision its header declares."""

    revision: int
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


@dataclass(frozen=True)
class AppliedFunctions:
    revision: int
    checksum: str


@dataclass(frozen=True)
class SchemaStatus:
    applied: tuple[AppliedMigration, ...]
    pending: tuple[Migration, ...]
    functions: AppliedFunctions | None  # what the database recorded; None before they were first applied
    functions_pending: bool  # this library's functions file differs from what the database recorded

    @property
    def current_version(self) -> int:
        return max((m.version for m in self.applied), default=0)

    @property
    def latest_version(self) -> int:
        return max((m.version for m in self.pending), default=self.current_version)

    @property
    def up_to_date(self) -> bool:
        return not self.pending and not self.functions_pending


def schema_dir() -> Path:
    """The ``schema/`` folder: inside the installed package, or at the top of a source checkout."""
    package_root = Path(__file__).resolve().parent.parent
    for candidate in (package_root / "schema", package_root.parent / "schema"):
        if candidate.is_dir():
            return candidate
    raise SchemaError(f"timestep's schema files are missing (looked beside {package_root}); reinstall timestep")


def load_migrations(directory: Path | None = None) -> tuple[Migration, ...]:
    migrations = []
    for path in sorted((directory or schema_dir()).glob("*.sql")):
        if path.name == FUNCTIONS_FILE:
            continue
        match = _FILE_PATTERN.match(path.name)
        if not match:
            raise SchemaError(f"schema file {path.name} is not named NNNN_name.sql")
        migrations.append(Migration(int(match.group(1)), match.group(2), path.read_text()))
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise SchemaError(f"schema files must be numbered 1, 2, 3, ... without gaps; found {versions}")
    return tuple(migrations)


def load_functions(directory: Path | None = None) -> Functions:
    path = (directory or schema_dir()) / FUNCTIONS_FILE
    try:
        sql = path.read_text()
    except FileNotFoundError:
        raise SchemaError(f"timestep's schema file {FUNCTIONS_FILE} is missing from {path.parent}") from None
    match = _REVISION_PATTERN.search(sql)
    if not match:
        raise SchemaError(f"schema file {FUNCTIONS_FILE} has no '-- timestep functions revision: N' line")
    return Functions(int(match.group(1)), sql)


async def schema_status(
    conn: AsyncConnection,
    migrations: tuple[Migration, ...] | None = None,
    functions: Functions | None = None,
) -> SchemaStatus:
    """Read-only: what is applied, what is pending; raises when the database is ahead or was edited."""
    known = migrations if migrations is not None else load_migrations()
    ours = functions if functions is not None else load_functions()
    applied = await _applied(conn)
    by_version = {m.version: m for m in known}
    for row in applied:
        migration = by_version.get(row.version)
        if migration is None:
            raise SchemaError(
                f"the database has schema migration {row.version:04d}_{row.name}, which this version of "
                f"timestep does not know (it knows up to {len(known):04d}); upgrade timestep to use this store"
            )
        if migration.checksum != row.checksum:
            raise SchemaError(
                f"schema migration {row.version:04d}_{row.name} in the database differs from the file "
                f"{row.version:04d}_{migration.name}.sql of this timestep (checksum mismatch); "
                "the store was written by a different build of timestep, refusing to touch it"
            )
    recorded = await _applied_functions(conn)
    if recorded is not None and recorded.revision > ours.revision:
        raise SchemaError(
            f"the database's timestep functions are revision {recorded.revision}, newer than this version of "
            f"timestep knows (revision {ours.revision}); upgrade timestep to use this store"
        )
    done = {row.version for row in applied}
    return SchemaStatus(
        tuple(applied),
        tuple(m for m in known if m.version not in done),
        recorded,
        recorded is None or recorded.checksum != ours.checksum,
    )


async def require_current(conn: AsyncConnection, store: object) -> None:
    """Refuse a schema that is behind this library, without changing it; an empty database gets the schema."""
    status = await schema_status(conn)
    if status.up_to_date:
        return
    if not status.applied and status.functions is None:
        await migrate(conn)  # nothing of timestep's is there yet: creating it disturbs no one
        return
    behind = [f"{m.version:04d}_{m.name}" for m in status.pending]
    if status.functions_pending:
        behind.append("functions.sql")
    raise SchemaError(
        f"the schema of {store!r} is behind this timestep (pending: {', '.join(behind)}), and this command only "
        "reads: it leaves the schema as it is, in case an older timestep still uses the store; apply them with "
        "`timestep db migrate` (an app, or a command that writes, does so on first use)"
    )


async def migrate(
    conn: AsyncConnection,
    migrations: tuple[Migration, ...] | None = None,
    functions: Functions | None = None,
) -> SchemaStatus:
    """Apply every pending migration, then the functions file if it changed; a no-op (no lock taken) when the
    schema is current."""
    known = migrations if migrations is not None else load_migrations()
    ours = functions if functions is not None else load_functions()
    status = await schema_status(conn, known, ours)
    while not status.up_to_date:
        async with conn.transaction():
            await _lock(conn)
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS timestep_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS timestep_schema_functions ("
                " name text PRIMARY KEY, revision integer NOT NULL, checksum text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            status = await schema_status(conn, known, ours)  # another process may have applied some meanwhile
            if status.pending:
                migration = status.pending[0]
                await conn.execute(migration.sql.encode())
                await conn.execute(
                    "INSERT INTO timestep_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                    (migration.version, migration.name, migration.checksum),
                )
            elif status.functions_pending:
                await conn.execute(ours.sql.encode())
                await conn.execute(
                    "INSERT INTO timestep_schema_functions (name, revision, checksum) VALUES (%s, %s, %s)"
                    " ON CONFLICT (name) DO UPDATE SET revision = excluded.revision, checksum = excluded.checksum,"
                    " applied_at = now()",
                    (_FUNCTIONS_NAME, ours.revision, ours.checksum),
                )
        status = await schema_status(conn, known, ours)
    return status


async def _lock(conn: AsyncConnection) -> None:
    await conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT_S}s'")
    try:
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
    except psycopg.errors.LockNotAvailable as exc:
        raise MigrationLockTimeout(
            f"another process held timestep's migration lock for over {LOCK_TIMEOUT_S} s; "
            "check for a stuck `timestep db migrate` and retry"
        ) from exc


async def _applied(conn: AsyncConnection) -> list[AppliedMigration]:
    cur = await conn.execute("SELECT to_regclass('timestep_migrations') IS NOT NULL")
    row = await cur.fetchone()
    if not row or not row[0]:
        return []
    cur = await conn.execute("SELECT version, name, checksum FROM timestep_migrations ORDER BY version")
    return [AppliedMigration(v, n, c) for v, n, c in await cur.fetchall()]


async def _applied_functions(conn: AsyncConnection) -> AppliedFunctions | None:
    cur = await conn.execute("SELECT to_regclass('timestep_schema_functions') IS NOT NULL")
    row = await cur.fetchone()
    if not row or not row[0]:
        return None
    cur = await conn.execute(
        "SELECT revision, checksum FROM timestep_schema_functions WHERE name = %s", (_FUNCTIONS_NAME,)
    )
    found = await cur.fetchone()
    return AppliedFunctions(found[0], found[1]) if found else None
