"""Random programs of several clients, run on the embedded engine and on a PostgreSQL server: every client
must see the same answers on both, and the tables must end the same.

A program interleaves the clients block by block: an autocommit statement, a pipeline, or a whole
transaction (with savepoints, failing statements, SET LOCAL, ending in COMMIT, ROLLBACK or a disconnect).
Within a block, statements fail and recover as PostgreSQL's rules say; between blocks, session settings
and named prepared statements must stay each client's own.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from timestep.store.embedded_server import EmbeddedServer

CLIENTS = 3
WORK_MEM = ("1MB", "2MB", "3MB")

Op = tuple[Any, ...]

statement_ops = st.one_of(
    st.tuples(st.just("insert"), st.integers(0, 12), st.integers(0, 99)),
    st.just(("select",)),
    st.just(("fail",)),
    st.tuples(st.just("prepared"), st.integers(0, 99)),
    st.just(("show",)),
)
session_ops = st.one_of(statement_ops, st.tuples(st.just("set"), st.sampled_from(WORK_MEM)), st.just(("reset",)))
transaction_ops = st.one_of(
    statement_ops,
    st.tuples(st.just("set"), st.sampled_from(WORK_MEM)),
    st.tuples(st.just("set_local"), st.sampled_from(WORK_MEM)),
    st.just(("savepoint",)),
    st.just(("rollback_to",)),
)
blocks = st.one_of(
    st.tuples(st.just("auto"), session_ops),
    st.tuples(st.just("pipeline"), st.lists(statement_ops, min_size=1, max_size=4)),
    st.tuples(
        st.just("transaction"),
        st.lists(transaction_ops, min_size=1, max_size=5),
        st.sampled_from(("commit", "rollback", "disconnect")),
    ),
    st.just(("disconnect",)),
)
programs = st.lists(st.tuples(st.integers(0, CLIENTS - 1), blocks), min_size=1, max_size=14)


@dataclass
class Engine:
    """One engine's clients; what each saw, in order."""

    conninfo: str
    connections: dict[int, psycopg.Connection[Any]] = field(default_factory=dict)
    seen: list[Any] = field(default_factory=list)

    def client(self, n: int) -> psycopg.Connection[Any]:
        if n not in self.connections:
            self.connections[n] = psycopg.connect(self.conninfo, autocommit=True)
        return self.connections[n]

    def disconnect(self, n: int) -> None:
        conn = self.connections.pop(n, None)
        if conn is not None:
            conn.close()

    def close(self) -> None:
        for n in list(self.connections):
            self.disconnect(n)


def sql_of(op: Op) -> tuple[str, tuple[Any, ...] | None]:
    kind = op[0]
    return {
        "insert": lambda: ("INSERT INTO program_rows (k, v) VALUES (%s, %s)", (op[1], op[2])),
        "select": lambda: ("SELECT k, v FROM program_rows ORDER BY k", None),
        "fail": lambda: ("SELECT 1 / 0", None),
        "prepared": lambda: ("SELECT count(*) FROM program_rows WHERE v > %s", (op[1],)),
        "show": lambda: ("SHOW work_mem", None),
        "set": lambda: (f"SET work_mem = '{op[1]}'", None),
        "set_local": lambda: (f"SET LOCAL work_mem = '{op[1]}'", None),
        "reset": lambda: ("RESET work_mem", None),
        "savepoint": lambda: ("SAVEPOINT s", None),
        "rollback_to": lambda: ("ROLLBACK TO SAVEPOINT s", None),
    }[kind]()


def run_op(conn: psycopg.Connection[Any], op: Op) -> Any:
    sql, params = sql_of(op)
    try:
        cur = conn.execute(sql, params, prepare=True if op[0] == "prepared" else None)
        return ("ok", cur.fetchall() if cur.description else cur.rowcount)
    except psycopg.Error as exc:
        return ("error", exc.sqlstate)


def run_pipeline(conn: psycopg.Connection[Any], ops: list[Op]) -> Any:
    """The first error of a pipeline and the results before it: when psycopg raises depends on timing."""
    cursors = []
    error = None
    try:
        with conn.pipeline():
            for op in ops:
                sql, params = sql_of(op)
                cursors.append(conn.execute(sql, params, prepare=True if op[0] == "prepared" else None))
    except psycopg.Error as exc:
        error = exc.sqlstate or type(exc).__name__
    results = []
    for cur in cursors:
        if cur.pgresult is None or cur.pgresult.status == psycopg.pq.ExecStatus.FATAL_ERROR:
            break
        results.append(cur.fetchall() if cur.description else cur.rowcount)
    return (error, results)


def run_block(engine: Engine, n: int, block: tuple[Any, ...]) -> None:
    kind = block[0]
    if kind == "disconnect":
        engine.disconnect(n)
        engine.seen.append((n, "disconnect"))
        return
    conn = engine.client(n)
    if kind == "auto":
        engine.seen.append((n, run_op(conn, block[1])))
    elif kind == "pipeline":
        engine.seen.append((n, run_pipeline(conn, block[1])))
    else:
        _, ops, end = block
        seen: list[Any] = [conn.execute("BEGIN").statusmessage]
        savepoint = False
        for op in ops:
            if op[0] == "rollback_to" and not savepoint:
                continue
            savepoint = savepoint or op[0] == "savepoint"
            seen.append(run_op(conn, op))
        if end == "disconnect":
            engine.disconnect(n)
        else:
            seen.append(conn.execute(end.upper()).statusmessage)
        engine.seen.append((n, seen))


@pytest.fixture
def engines(embedded_dir: Any, server_url: str, embedded_store: Any) -> Iterator[tuple[str, str]]:
    embedded = EmbeddedServer(embedded_dir, 1.0).conninfo()
    for conninfo in (embedded, server_url):
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("DROP TABLE IF EXISTS program_rows")
            conn.execute("CREATE TABLE program_rows (k int PRIMARY KEY, v int NOT NULL)")
    yield embedded, server_url
    for conninfo in (embedded, server_url):
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("DROP TABLE program_rows")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(program=programs)
def test_each_client_sees_what_it_would_see_alone_on_postgresql(
    engines: tuple[str, str], program: list[tuple[int, tuple[Any, ...]]]
) -> None:
    finals = []
    observed = []
    for conninfo in engines:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("TRUNCATE program_rows")
        engine = Engine(conninfo)
        try:
            for n, block in program:
                run_block(engine, n, block)
        finally:
            engine.close()
        with psycopg.connect(conninfo, autocommit=True) as conn:
            finals.append(conn.execute("SELECT k, v FROM program_rows ORDER BY k").fetchall())
        observed.append(engine.seen)
    embedded_seen, server_seen = observed
    assert embedded_seen == server_seen
    assert finals[0] == finals[1]
