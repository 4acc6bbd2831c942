"""VACUUM and ANALYZE for the embedded engine, which has no autovacuum of its own.

PGLite runs PostgreSQL as a single backend: no autovacuum worker ever runs, so tables gather dead rows and the
planner never gets statistics. Without them it estimates a few dozen rows per session and sorts every item
of a session to return its last hundred (7 ms for a 6,500-item session, against 0.4 ms by the index). The
store applies autovacuum's own thresholds to timestep's tables when it opens and then once a minute.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection, sql

INTERVAL_S = 60.0

# autovacuum's defaults: a table is vacuumed or analysed once this many rows (plus a fraction) changed
_NEEDS_WORK = """
SELECT relname,
       n_dead_tup >= 50 + 0.2 * n_live_tup AS needs_vacuum,
       n_mod_since_analyze >= 50 + 0.1 * n_live_tup AS needs_analyze
FROM pg_stat_user_tables
WHERE schemaname = current_schema() AND relname LIKE 'timestep\\_%'
ORDER BY relname
"""


async def maintain(conn: AsyncConnection[Any]) -> list[str]:
    """Vacuum and analyse the tables that need it (autocommit connection); returns the commands run."""
    cur = await conn.execute(_NEEDS_WORK)
    done = []
    for table, needs_vacuum, needs_analyze in await cur.fetchall():
        if needs_vacuum or needs_analyze:
            command = "VACUUM (ANALYZE)" if needs_vacuum else "ANALYZE"
            await conn.execute(sql.SQL(command + " {}").format(sql.Identifier(table)))
            done.append(f"{command} {table}")
    return done
