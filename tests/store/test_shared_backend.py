"""What one client of the embedded engine must not see of another, kind by kind.

PGLite is one PostgreSQL session shared by every client. Settings and prepared statements are kept per
client; a transaction holds the backend; state that would outlive a transaction in the shared session is
refused. Where PostgreSQL itself behaves the same, the test runs on both engines.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from timestep.store.embedded_server import EmbeddedServer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def embedded(embedded_dir: Path, embedded_store: Any) -> str:
    return EmbeddedServer(embedded_dir, 1.0).conninfo()


@pytest.fixture(params=["embedded", "server"])
def conninfo(request: pytest.FixtureRequest) -> str:
    if request.param == "embedded":
        return str(request.getfixturevalue("embedded"))
    return str(request.getfixturevalue("server_url"))


def with_probe_table(conninfo: str) -> Iterator[str]:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS backend_probe")
        conn.execute("CREATE TABLE backend_probe (v int)")
    yield conninfo
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("DROP TABLE backend_probe")


@pytest.fixture
def probe_table(conninfo: str) -> Iterator[str]:
    yield from with_probe_table(conninfo)


@pytest.fixture
def embedded_probe_table(embedded: str) -> Iterator[str]:
    yield from with_probe_table(embedded)


def connect(conninfo: str, **kwargs: Any) -> psycopg.Connection[Any]:
    return psycopg.connect(conninfo, autocommit=True, **kwargs)


def scalar(conn: psycopg.Connection[Any], sql: str, params: Any = None) -> Any:
    row = conn.execute(sql, params).fetchone()
    assert row is not None
    return row[0]


def test_settings_belong_to_the_client_that_made_them(conninfo: str) -> None:
    with connect(conninfo) as a, connect(conninfo) as b:
        default = scalar(b, "SHOW work_mem")
        a.execute("SET work_mem = '7MB'")
        a.execute("SELECT set_config('statement_timeout', '9s', false)")
        a.execute("SET TIME ZONE 'Europe/Paris'")
        assert (scalar(b, "SHOW work_mem"), scalar(b, "SHOW statement_timeout")) == (default, "0")
        assert scalar(b, "SHOW TimeZone") != "Europe/Paris"
        assert (scalar(a, "SHOW work_mem"), scalar(a, "SHOW statement_timeout")) == ("7MB", "9s")
        assert scalar(a, "SHOW TimeZone") == "Europe/Paris"
        with a.transaction():
            a.execute("SET LOCAL work_mem = '5MB'")
            assert scalar(a, "SHOW work_mem") == "5MB"
        assert scalar(b, "SHOW work_mem") == default
        assert scalar(a, "SHOW work_mem") == "7MB"
        a.execute("RESET ALL")
        b.execute("SET search_path = pg_catalog")
        assert scalar(a, "SHOW work_mem") == default
        assert scalar(a, "SHOW search_path") != "pg_catalog"


def test_startup_parameters_are_the_clients_settings(conninfo: str) -> None:
    with connect(conninfo, application_name="alpha") as a, connect(conninfo, options="-c work_mem=6MB") as b:
        assert scalar(a, "SHOW application_name") == "alpha"
        assert scalar(b, "SHOW work_mem") == "6MB"
        assert scalar(a, "SHOW work_mem") != "6MB"
        assert a.info.parameter_status("application_name") == "alpha"


def test_prepared_statements_are_the_clients_own(conninfo: str) -> None:
    with connect(conninfo) as a, connect(conninfo) as b:
        # psycopg names its prepared statements _pg3_0, _pg3_1, ... on every connection.
        assert a.execute("SELECT 'a' || %s::text", ("1",), prepare=True).fetchone() == ("a1",)
        assert b.execute("SELECT 'b' || %s::text || 'b'", ("2",), prepare=True).fetchone() == ("b2b",)
        assert a.execute("SELECT 'a' || %s::text", ("3",), prepare=True).fetchone() == ("a3",)
        a.execute("PREPARE twice (int) AS SELECT $1 * 2")
        b.execute("PREPARE twice (int) AS SELECT $1 * 3")
        assert (scalar(a, "EXECUTE twice(5)"), scalar(b, "EXECUTE twice(5)")) == (10, 15)
        b.execute("DEALLOCATE twice")
        assert scalar(a, "EXECUTE twice(4)") == 8
        with pytest.raises(psycopg.errors.InvalidSqlStatementName):
            b.execute("EXECUTE twice(4)")
        b.execute("PREPARE thrice (int) AS SELECT $1 * 3")
        a.execute("DEALLOCATE ALL")  # psycopg sends it after a rollback: only a's own go
        assert scalar(b, "EXECUTE thrice(2)") == 6
        with pytest.raises(psycopg.errors.InvalidSqlStatementName):
            a.execute("EXECUTE twice(4)")
        assert a.execute("SELECT 'a' || %s::text", ("5",), prepare=True).fetchone() == ("a5",)


def test_a_departed_clients_prepared_statements_are_closed(embedded: str) -> None:
    with connect(embedded) as a:
        a.execute("SELECT %s::int", (1,), prepare=True)
        a.execute("PREPARE kept AS SELECT 1")
        pid = a.info.backend_pid
    with connect(embedded) as b:
        b.execute("SELECT 1")
        names = [r[0] for r in b.execute("SELECT name FROM pg_prepared_statements").fetchall()]
        assert not [n for n in names if n.startswith(f"t{pid}_")]


def test_unnamed_statement_survives_another_clients_parse(conninfo: str) -> None:
    with connect(conninfo) as a, connect(conninfo) as b:
        a.pgconn.prepare(b"", b"SELECT 'mine'")
        b.execute("SELECT %s::text", ("theirs",))  # parses the unnamed statement on the embedded backend
        result = a.pgconn.exec_prepared(b"", [])
        assert result.status == psycopg.pq.ExecStatus.TUPLES_OK
        assert result.get_value(0, 0) == b"mine"


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE TEMP TABLE scratch (x int)",
        "CREATE TEMPORARY TABLE scratch AS SELECT 1",
        "CREATE TABLE pg_temp.scratch (x int)",
        "SELECT 1 INTO TEMP scratch",
        "LISTEN news",
        "UNLISTEN *",
        "SELECT pg_advisory_lock(42)",
        "SELECT pg_try_advisory_lock(42)",
        "DISCARD ALL",
        "DECLARE held CURSOR WITH HOLD FOR SELECT 1",
        "COPY backend_probe FROM STDIN",
    ],
)
def test_state_the_clients_would_share_is_refused(embedded: str, sql: str) -> None:
    with connect(embedded) as conn:
        with pytest.raises(psycopg.errors.FeatureNotSupported, match="clients share one PostgreSQL session"):
            conn.execute(sql)
        assert scalar(conn, "SELECT 1") == 1  # the connection goes on


def test_refusal_inside_a_transaction_aborts_it_as_an_error_does(embedded: str) -> None:
    with connect(embedded) as conn:
        conn.execute("BEGIN")
        with pytest.raises(psycopg.errors.FeatureNotSupported):
            conn.execute("LISTEN news")
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR
        conn.execute("ROLLBACK")


def test_transaction_scoped_alternatives_work(probe_table: str) -> None:
    with connect(probe_table) as conn, conn.transaction():
        conn.execute("CREATE TEMP TABLE scratch (x int) ON COMMIT DROP")
        conn.execute("INSERT INTO scratch VALUES (1)")
        assert scalar(conn, "SELECT pg_try_advisory_xact_lock(42)") is True
        conn.execute("DECLARE c CURSOR FOR SELECT x FROM scratch")
        assert conn.execute("FETCH ALL FROM c").fetchall() == [(1,)]
        with conn.cursor().copy("COPY (SELECT 1) TO STDOUT") as copy:
            assert bytes(b"".join(copy)) == b"1\n"


def test_refused_words_inside_literals_and_names_are_not_refused(embedded: str) -> None:
    with connect(embedded) as conn:
        conn.execute("SELECT 'LISTEN x; CREATE TEMP TABLE t', $$DISCARD ALL$$, 1 AS \"temp\"")
        conn.execute("SELECT %s::text", ("pg_advisory_lock(1)",))


def test_a_client_in_a_transaction_keeps_the_backend_until_it_ends(embedded_probe_table: str) -> None:
    embedded = embedded_probe_table
    with connect(embedded) as a, connect(embedded) as b:
        a.execute("BEGIN")
        a.execute("INSERT INTO backend_probe VALUES (1)")
        seen: list[Any] = []
        reader = threading.Thread(target=lambda: seen.append(scalar(b, "SELECT count(*) FROM backend_probe")))
        reader.start()
        time.sleep(0.3)
        assert seen == []  # waits: the backend is a's until its transaction ends
        a.execute("ROLLBACK")
        reader.join(5)
        assert seen == [0]


def test_a_client_killed_inside_a_transaction_is_rolled_back_at_once(probe_table: str) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, probe_table], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "holding"
    holder.kill()
    holder.wait()
    started = time.monotonic()
    with connect(probe_table) as conn:
        assert scalar(conn, "SELECT count(*) FROM backend_probe") == 0
        conn.execute("INSERT INTO backend_probe VALUES (2)")
    assert time.monotonic() - started < 1.0


HOLDER = """
import sys, time, psycopg
conn = psycopg.connect(sys.argv[1])
conn.execute("INSERT INTO backend_probe VALUES (1)")
print("holding", flush=True)
time.sleep(60)
"""


def test_a_client_gone_in_the_middle_of_a_sequence_leaves_nothing(
    embedded_probe_table: str, embedded_dir: Path
) -> None:
    embedded = embedded_probe_table
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as raw:
        raw.connect(str(EmbeddedServer(embedded_dir, 1.0).socket_path))
        params = b"user\0postgres\0database\0postgres\0\0"
        raw.sendall(struct.pack("!ii", 8 + len(params), 196608) + params)
        assert read_until_ready(raw).endswith(b"Z\0\0\0\5I")
        insert = b"\0INSERT INTO backend_probe VALUES (3)\0\0\0"
        bind, execute = message(b"B", b"\0\0\0\0\0\0\0\0"), message(b"E", b"\0\0\0\0\0")
        raw.sendall(message(b"P", insert) + bind + execute + message(b"H", b""))
        time.sleep(0.2)  # the insert ran; no Sync came to commit it
    with connect(embedded) as conn:
        assert scalar(conn, "SELECT count(*) FROM backend_probe") == 0


def message(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!i", len(body) + 4) + body


def read_until_ready(raw: socket.socket) -> bytes:
    data = b""
    while b"Z\0\0\0\5" not in data:
        data += raw.recv(65536)
    return data


def test_cancel_of_a_running_statement_returns_at_once(conninfo: str, embedded: str) -> None:
    with connect(conninfo) as conn:
        outcome: list[Any] = []

        def sleep() -> None:
            try:
                outcome.append(scalar(conn, "SELECT 5 FROM pg_sleep(2)"))
            except psycopg.errors.QueryCanceled as exc:
                outcome.append(exc)

        sleeper = threading.Thread(target=sleep)
        sleeper.start()
        time.sleep(0.3)
        started = time.monotonic()
        conn.cancel()
        assert time.monotonic() - started < 0.5
        sleeper.join(10)
        if conninfo == embedded:
            assert outcome == [5]  # WebAssembly cannot be interrupted: the statement finishes
        else:
            assert isinstance(outcome[0], psycopg.errors.QueryCanceled)
        assert scalar(conn, "SELECT 1") == 1


def test_cancel_of_a_waiting_statement_fails_it_in_that_client_only(embedded: str) -> None:
    with connect(embedded) as holder, connect(embedded) as waiter, connect(embedded) as other:
        holder.execute("BEGIN")
        outcomes: dict[str, Any] = {}

        def run(name: str, conn: psycopg.Connection[Any]) -> None:
            try:
                outcomes[name] = scalar(conn, "SELECT 7")
            except psycopg.Error as exc:
                outcomes[name] = exc

        threads = [threading.Thread(target=run, args=(n, c)) for n, c in (("waiter", waiter), ("other", other))]
        for thread in threads:
            thread.start()
        time.sleep(0.3)
        waiter.cancel()
        threads[0].join(2)
        assert isinstance(outcomes.get("waiter"), psycopg.errors.QueryCanceled)
        assert "other" not in outcomes  # still waiting for the holder
        holder.execute("COMMIT")
        threads[1].join(5)
        assert outcomes["other"] == 7
        assert scalar(waiter, "SELECT 8") == 8


def test_too_many_clients_get_sqlstate_53300(tmp_path: Path) -> None:
    server = EmbeddedServer(tmp_path / "store", 5.0, max_clients=2)
    server.ensure_running()
    try:
        with connect(server.conninfo()), connect(server.conninfo()):
            with pytest.raises(psycopg.OperationalError, match="too many clients"):
                connect(server.conninfo())
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as raw:
                raw.connect(str(server.socket_path))
                params = b"user\0postgres\0database\0postgres\0\0"
                raw.sendall(struct.pack("!ii", 8 + len(params), 196608) + params)
                answer = raw.recv(65536)
            assert answer[:1] == b"E" and b"\0C53300\0" in answer and b"SFATAL\0" in answer
    finally:
        server.stop()


@pytest.mark.parametrize(
    "garbage",
    [
        b"Q\x00\x00\x00\x02",  # a length shorter than itself
        b"P\x00\x00\x00\x09abcde",  # a Parse whose strings never end
        b"B\x00\x00\x00\x05\x00S\x00\x00\x00\x04",  # a Bind cut short, then Sync
        bytes(range(256)) * 4,
    ],
)
def test_a_client_sending_garbage_is_dropped_and_the_others_go_on(
    embedded: str, embedded_dir: Path, garbage: bytes
) -> None:
    with connect(embedded) as other:
        other.execute("BEGIN")  # holds the backend across the bad client's attempt
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as raw:
            raw.connect(str(EmbeddedServer(embedded_dir, 1.0).socket_path))
            params = b"user\0postgres\0database\0postgres\0\0"
            raw.sendall(struct.pack("!ii", 8 + len(params), 196608) + params)
            read_until_ready(raw)
            other.execute("COMMIT")
            raw.sendall(garbage)
            raw.settimeout(5)
            answer = b""
            with contextlib.suppress(OSError):
                while chunk := raw.recv(65536):
                    answer += chunk
        assert b"SFATAL\0" in answer and b"C08P01\0" in answer  # told why, then disconnected
        assert scalar(other, "SELECT 41 + 1") == 42
    with connect(embedded) as later:
        assert scalar(later, "SELECT 1") == 1
