"""``timestep doctor``: what the store needs, checked one by one, each problem with its fix."""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from timestep import config
from timestep.cli import common
from timestep.cli.safe_text import shown
from timestep.errors import TimestepError

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from rich.console import Console

    from timestep.store import Store

Outcome = Literal["ok", "warning", "problem", "skipped"]


@dataclass(frozen=True)
class Check:
    name: str
    outcome: Outcome
    detail: str
    fix: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "outcome": self.outcome, "detail": self.detail, "fix": self.fix}


@dataclass(frozen=True)
class Finding:
    """One problem ``--check`` found in a table or an index, or a check that could not run on it."""

    relation: str
    kind: str  # "table", "TOAST table" or "index"
    block: int | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"relation": self.relation, "kind": self.kind, "block": self.block, "message": self.message}


@dataclass
class Diagnosis:
    store: str
    checks: list[Check] = field(default_factory=list)
    findings: list[Finding] | None = None  # None unless --check ran

    @property
    def ok(self) -> bool:
        return all(c.outcome != "problem" for c in self.checks) and not self.findings

    def to_dict(self) -> dict[str, Any]:
        result = {"store": self.store, "ok": self.ok, "checks": [c.to_dict() for c in self.checks]}
        if self.findings is not None:
            result["findings"] = [f.to_dict() for f in self.findings]
        return result

    def render(self, console: Console) -> None:
        marks = {"ok": ("ok", "green"), "warning": ("warning", "yellow"), "problem": ("PROBLEM", "red"),
                 "skipped": ("skipped", "dim")}
        table = common.table(f"timestep doctor: {self.store}", "CHECK", "RESULT", "DETAIL")
        for c in self.checks:
            detail = shown(c.detail, *(("\n", ("fix:", "bold"), f" {c.fix}") if c.fix else ()))
            common.row(table, c.name, shown(marks[c.outcome]), detail)
        console.print(table)
        if self.findings:
            found = common.table("corruption found", "RELATION", "KIND", "BLOCK", "PROBLEM")
            for f in self.findings:
                common.row(found, f.relation, f.kind, "-" if f.block is None else str(f.block), f.message)
            console.print(found)
            console.print(shown((f"{len(self.findings)} problem(s) in the stored data.", "red"), " Restore the data "
                                "directory or database from a backup; do not write to it until then."))
            return
        console.print(shown("No problems found." if self.ok else ("Problems found: apply the fixes above.", "red")))


def _node_checks(diagnosis: Diagnosis) -> bool:
    from timestep.store import node_runtime

    try:
        node = node_runtime.node_executable()
    except TimestepError as exc:
        diagnosis.checks.append(Check("node", "problem", "Node.js is not usable", str(exc)))
        diagnosis.checks.append(Check("npm packages", "skipped", "needs Node.js"))
        return False
    import subprocess

    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    diagnosis.checks.append(Check("node", "ok", f"{node} {version}"))
    try:
        launcher = node_runtime.launcher_path()
    except TimestepError as exc:
        diagnosis.checks.append(Check("npm packages", "problem", "not installed", str(exc)))
        return False
    diagnosis.checks.append(Check("npm packages", "ok", f"installed in {launcher.parent}"))
    return True


def _directory_checks(diagnosis: Diagnosis, store: Store) -> bool:
    server = store.server
    assert server is not None
    data_dir = server.data_dir
    if not data_dir.exists():
        diagnosis.checks.append(Check("data directory", "ok", f"{data_dir} (created on first use)"))
    elif not os.access(data_dir, os.W_OK | os.X_OK):
        diagnosis.checks.append(Check("data directory", "problem", f"{data_dir} is not writable",
                                      "fix its permissions, or choose another with --store or TIMESTEP_HOME"))
        return False
    else:
        diagnosis.checks.append(Check("data directory", "ok", str(data_dir)))
    status = server.status()
    if status.pid is None:
        diagnosis.checks.append(Check("lock owner", "ok", "none (no server holds the data directory)"))
        diagnosis.checks.append(Check("server", "ok", "not running; it starts on first use"))
    elif status.running:
        diagnosis.checks.append(Check("lock owner", "ok", f"server process {status.pid}"))
        diagnosis.checks.append(Check("server", "ok", f"running, answering on {status.socket_path}"))
    else:
        fix = f"stop it with `timestep server stop` (or `kill {status.pid}`), then retry"
        diagnosis.checks.append(Check("lock owner", "problem", f"process {status.pid} holds {server.lock_path} "
                                      "but serves no connections", fix))
        diagnosis.checks.append(Check("server", "problem", f"no answer on {status.socket_path}", fix))
        return False
    return True


async def _schema_check(diagnosis: Diagnosis, store: Store) -> None:
    from timestep.store import migrations

    try:
        await store.open(schema="any")
        async with store.connection() as conn:
            status = await migrations.schema_status(conn)
    except TimestepError as exc:
        diagnosis.checks.append(Check("schema", "problem", "cannot read the schema version", str(exc)))
        return
    if status.pending:
        diagnosis.checks.append(Check(
            "schema", "warning", f"version {status.current_version} of {status.latest_version}",
            "run `timestep db migrate` (timestep also migrates on first use)",
        ))
    elif status.functions_pending:
        diagnosis.checks.append(Check(
            "schema", "warning", f"version {status.current_version}, functions not current",
            "run `timestep db migrate` (timestep also applies them on first use)",
        ))
    else:
        diagnosis.checks.append(Check("schema", "ok", f"version {status.current_version} (current)"))


# Tables and TOAST tables of timestep (in the store's schema), with what pg_class recorded of their size.
_HEAPS = r"""
SELECT c.oid, c.relname, 'table', c.relpages, pg_relation_size(c.oid) / current_setting('block_size')::int
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname LIKE 'timestep\_%'
UNION ALL
SELECT t.oid, format('%I.%I (TOAST of %s)', tn.nspname, t.relname, c.relname), 'TOAST table', t.relpages,
       pg_relation_size(t.oid) / current_setting('block_size')::int
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_class t ON t.oid = c.reltoastrelid JOIN pg_namespace tn ON tn.oid = t.relnamespace
 WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname LIKE 'timestep\_%'
 ORDER BY 3, 2
"""
# Their valid btree indexes, with what an ORDER BY needs to walk each one from end to end.
_INDEXES = """
SELECT i.indexrelid, ic.relname, i.indrelid, tc.relkind = 't', ic.relpages,
       pg_relation_size(i.indexrelid) / current_setting('block_size')::int,
       array(SELECT pg_get_indexdef(i.indexrelid, k, true) FROM generate_series(1, i.indnkeyatts) k ORDER BY k),
       i.indoption::int2[], pg_get_expr(i.indpred, i.indrelid)
  FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam
  JOIN pg_class tc ON tc.oid = i.indrelid
 WHERE i.indrelid = ANY(%s) AND am.amname = 'btree' AND i.indisvalid AND i.indisready
 ORDER BY 2
"""
_NO_SCAN_BUT_INDEX = ("enable_seqscan", "enable_bitmapscan", "enable_indexonlyscan", "enable_sort", "enable_tidscan")
_REPAIR = ("restore the store from a backup and do not write to it until then; `timestep doctor --check --json` "
           "lists every problem found")


def _block_of(message: str) -> int | None:
    match = re.search(r"\bblocks? (\d+)", message)
    return int(match.group(1)) if match else None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


async def _amcheck_schema(diagnosis: Diagnosis, conn: AsyncConnection[Any], server: bool) -> str | None:
    """Installs amcheck if it is not yet; returns the schema holding its functions, None if they cannot run."""
    import psycopg

    cur = await conn.execute("SELECT current_database(), current_user")
    database, user = await cur.fetchone() or ("?", "?")
    superuser_fix = (f"connect as a superuser, or have one run `CREATE EXTENSION amcheck;` in database {database} "
                     f"and `GRANT EXECUTE ON FUNCTION verify_heapam(regclass, boolean, boolean, text, bigint, "
                     f"bigint), bt_index_check(regclass, boolean) TO {user};`")
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS amcheck")
    except psycopg.errors.InsufficientPrivilege as exc:
        diagnosis.checks.append(Check("amcheck", "problem", f"cannot install the amcheck extension: {_one_line(exc)}",
                                      superuser_fix))
        return None
    except psycopg.Error as exc:
        fix = ("install the server's contrib modules, which hold amcheck (Debian and Ubuntu ship them in the "
               "postgresql-NN package, other systems in postgresql-contrib), then retry" if server else
               "run `timestep setup` again to reinstall the embedded engine's packages")
        diagnosis.checks.append(Check("amcheck", "problem", f"the amcheck extension is not available: "
                                      f"{_one_line(exc)}", fix))
        return None
    cur = await conn.execute(
        "SELECT n.nspname, e.extversion,"
        " to_regprocedure(format('%I.verify_heapam(regclass, boolean, boolean, text, bigint, bigint)',"
        " n.nspname))::oid,"
        " to_regprocedure(format('%I.bt_index_check(regclass, boolean)', n.nspname))::oid"
        " FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'amcheck'"
    )
    row = await cur.fetchone()
    assert row is not None
    schema, version, verify_heapam, bt_index_check = row
    if verify_heapam is None or bt_index_check is None:
        diagnosis.checks.append(Check("amcheck", "problem", f"amcheck {version} has no verify_heapam",
                                      "verify_heapam needs PostgreSQL 14 or later and amcheck 1.3: run "
                                      "`ALTER EXTENSION amcheck UPDATE;` as a superuser"))
        return None
    cur = await conn.execute("SELECT has_function_privilege(%s::oid, 'EXECUTE') AND"
                             " has_function_privilege(%s::oid, 'EXECUTE')", [verify_heapam, bt_index_check])
    allowed = await cur.fetchone()
    if not (allowed and allowed[0]):
        diagnosis.checks.append(Check("amcheck", "problem", f"{user} may not run amcheck's functions", superuser_fix))
        return None
    diagnosis.checks.append(Check("amcheck", "ok", f"version {version}, in schema {schema}"))
    return str(schema)


async def _scan_through_index(conn: AsyncConnection[Any], table: str, index: str, keys: list[str],
                              options: list[int], predicate: str | None) -> bool:
    """Reads every row the index points at, through the index; False if the planner would not use it.

    A table file cut short reads as a shorter table, silently, to everything that scans it; an index
    still points into the missing blocks, and following it fails with "could not read blocks".
    """
    from psycopg import sql

    order = sql.SQL(", ").join(
        sql.SQL("{} {} NULLS {}").format(sql.SQL(key), sql.SQL("DESC" if option & 1 else "ASC"),
                                         sql.SQL("FIRST" if option & 2 else "LAST"))
        for key, option in zip(keys, options, strict=False)
    )
    query = sql.SQL("SELECT count(*) FROM (SELECT 1 FROM ONLY {} WHERE {} ORDER BY {}) AS walk").format(
        sql.Identifier(table), sql.SQL(predicate or "true"), order)
    async with conn.transaction():
        for setting in _NO_SCAN_BUT_INDEX:
            await conn.execute(sql.SQL("SET LOCAL {} = off").format(sql.Identifier(setting)))
        cur = await conn.execute(sql.SQL("EXPLAIN (FORMAT JSON) ") + query)
        row = await cur.fetchone()
        if not (row and _plan_scans(row[0], index)):
            return False
        await conn.execute(query)
    return True


def _plan_scans(plan: Any, index: str) -> bool:
    if isinstance(plan, list):
        return any(_plan_scans(p, index) for p in plan)
    if not isinstance(plan, dict):
        return False
    if plan.get("Node Type") == "Index Scan" and plan.get("Index Name") == index:
        return True
    return any(_plan_scans(v, index) for v in plan.values() if isinstance(v, list | dict))


async def _verify(diagnosis: Diagnosis, conn: AsyncConnection[Any], schema: str) -> None:
    """verify_heapam on each table and TOAST table, bt_index_check on each btree index, sizes, index walks."""
    import psycopg
    from psycopg import sql

    assert diagnosis.findings is not None
    findings = diagnosis.findings
    amcheck = sql.Identifier(schema)
    cur = await conn.execute(_HEAPS)
    heaps = await cur.fetchall()
    names = {oid: name for oid, name, *_ in heaps}
    for oid, name, kind, relpages, blocks in heaps:
        if relpages > blocks:
            findings.append(Finding(name, kind, blocks, f"its file holds {blocks} block(s), but the last VACUUM or "
                                    f"ANALYZE counted {relpages} (pg_class.relpages): the file was cut short"))
        try:
            cur = await conn.execute(
                sql.SQL("SELECT blkno, offnum, attnum, msg FROM {}.verify_heapam(%s::oid::regclass, "
                        "on_error_stop => false, check_toast => %s)").format(amcheck), [oid, kind == "table"])
            for blkno, offnum, attnum, msg in await cur.fetchall():
                where = "".join([f"line pointer {offnum}" if offnum is not None else "",
                                 f", attribute {attnum}" if attnum is not None else ""])
                findings.append(Finding(name, kind, blkno, f"{msg} ({where})" if where else str(msg)))
        except psycopg.Error as exc:
            findings.append(Finding(name, kind, _block_of(str(exc)), f"verify_heapam failed: {_one_line(exc)}"))
    cur = await conn.execute(_INDEXES, [list(names)])
    indexes = await cur.fetchall()
    walked = 0
    for oid, name, table_oid, of_toast, relpages, blocks, keys, options, predicate in indexes:
        if relpages > blocks:
            findings.append(Finding(name, "index", blocks, f"its file holds {blocks} block(s), but pg_class.relpages "
                                    f"says {relpages}: the file was cut short"))
        try:
            await conn.execute(sql.SQL("SELECT {}.bt_index_check(%s::oid::regclass, true)").format(amcheck), [oid])
        except psycopg.Error as exc:
            findings.append(Finding(name, "index", _block_of(str(exc)), f"bt_index_check failed: {_one_line(exc)}"))
            continue
        if of_toast:
            continue  # verify_heapam followed every TOAST pointer of the table through this index already
        table = names[table_oid]
        try:
            walked += await _scan_through_index(conn, table, name, keys, options, predicate)
        except psycopg.Error as exc:
            findings.append(Finding(table, "table", _block_of(str(exc)),
                                    f"reading its rows through index {name} failed: {_one_line(exc)}"))
            walked += 1
    tables = sum(kind == "table" for _, _, kind, _, _ in heaps)
    bad_heaps = sorted({f.relation for f in findings if f.kind != "index"})
    bad_indexes = sorted({f.relation for f in findings if f.kind == "index"})
    detail = (f"{tables} tables and {len(heaps) - tables} TOAST tables checked with verify_heapam, and their file "
              "sizes against pg_class.relpages")
    diagnosis.checks.append(Check("tables", "problem", f"corrupt: {', '.join(bad_heaps)}; {detail}", _REPAIR)
                            if bad_heaps else Check("tables", "ok", detail))
    detail = (f"{len(indexes)} btree indexes checked with bt_index_check (heapallindexed); the rows of "
              f"{walked} of them read through the index")
    diagnosis.checks.append(Check("indexes", "problem", f"corrupt: {', '.join(bad_indexes)}; {detail}", _REPAIR)
                            if bad_indexes else Check("indexes", "ok", detail))


async def _integrity_checks(diagnosis: Diagnosis, store: Store) -> None:
    """``--check``: PostgreSQL's amcheck on every table and index of timestep, and what it does not see."""
    diagnosis.findings = []
    try:
        await store.open(schema="any")
        async with store.connection() as conn:
            cur = await conn.execute("SHOW data_checksums")
            row = await cur.fetchone()
            if row and row[0] == "on":
                diagnosis.checks.append(Check("data checksums", "ok", "on: PostgreSQL verifies every page it reads"))
            else:
                fix = ("enable them with `pg_checksums --enable` while the server is stopped"
                       if store.kind == "server" else None)
                diagnosis.checks.append(Check("data checksums", "warning", "off: a damaged page is found only by "
                                              "the checks below, not when it is read", fix))
            with common.progress("verifying tables and indexes"):
                schema = await _amcheck_schema(diagnosis, conn, store.kind == "server")
                if schema is not None:
                    await _verify(diagnosis, conn, schema)
    except TimestepError as exc:
        diagnosis.checks.append(Check("integrity", "problem", "cannot connect to check the stored data", str(exc)))


def _prices_check(diagnosis: Diagnosis) -> None:
    from timestep.usage_cost import load_prices

    try:
        table = load_prices()
    except TimestepError as exc:
        diagnosis.checks.append(Check("price table", "problem", "unreadable", str(exc)))
        return
    source = config.prices_file()
    detail = f"{len(table.entries)} entries as of {table.as_of}" + (f", with {source}" if source else "")
    diagnosis.checks.append(Check("price table", "ok", detail))


async def diagnose(args: argparse.Namespace) -> Diagnosis:
    import timestep

    try:
        store = common.open_cli_store(args)
    except TimestepError as exc:
        diagnosis = Diagnosis(str(args.store))
        diagnosis.checks.append(Check("store location", "problem", "cannot be used", str(exc)))
        return diagnosis
    diagnosis = Diagnosis(common.describe(store))
    diagnosis.checks.append(Check("timestep", "ok", f"{timestep.__version__} on Python {platform.python_version()}"
                                  f" ({sys.executable})"))
    ready = True
    if store.kind == "embedded":
        ready = _node_checks(diagnosis) and _directory_checks(diagnosis, store)
    else:
        diagnosis.checks.append(Check("node", "skipped", "not needed for a PostgreSQL server store"))
    if ready:
        try:
            await _schema_check(diagnosis, store)
            if args.check:
                await _integrity_checks(diagnosis, store)
        finally:
            await store.close()
    else:
        diagnosis.checks.append(Check("schema", "skipped", "needs a reachable store"))
        if args.check:
            diagnosis.checks.append(Check("integrity", "skipped", "needs a reachable store"))
    _prices_check(diagnosis)
    return diagnosis


def _doctor(args: argparse.Namespace) -> int:
    diagnosis = common.run(diagnose(args))
    common.emit(args, diagnosis)
    return 0 if diagnosis.ok else 1


def register(commands: Any, parent: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "doctor", parents=[parent], help="check Node, npm packages, data directory, server and schema",
        description="Check what the store needs: Node.js and its version, the npm packages, the data directory, "
        "the lock owner, the server and the schema version; each problem comes with its fix. Exits 1 when a "
        "problem is found. Starts the embedded server if needed to read the schema version.",
    )
    parser.add_argument(
        "--check", action="store_true",
        help="also verify every table and index of timestep page by page with PostgreSQL's amcheck extension "
        "(installing it if needed: on a PostgreSQL server that takes a superuser), compare each file's size with "
        "what pg_class recorded, and read every table through each of its indexes; exits 1 naming each damaged "
        "table or index, or when a check could not run",
    )
    parser.set_defaults(handler=_doctor)
