"""Measure the store: throughput, start-up to first query and the embedded server's memory, in one run.

Engines, side by side: the embedded store (PGLite) with ``durability="process"`` and ``durability="full"``,
a PostgreSQL server (fsync on, a throwaway cluster from the machine's binaries) through the same ``Store``
API (async psycopg, pooled connections, one transaction per write), and stdlib ``sqlite3`` (WAL,
``synchronous=NORMAL``) as the reference.

Start-up is measured in new Python processes: each prints ``time.perf_counter()`` when its first query
returned, and the clock (CLOCK_MONOTONIC) is shared with this process, so "from spawn" includes the
interpreter's own start-up; "in script" counts from the first line of the child's script.

Usage: python scripts/bench_store.py [--quick] [--markdown]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import platform
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.postgres_server import PostgresServer, start_postgres  # noqa: E402
from timestep.config import DEFAULT_DURABILITY  # noqa: E402
from timestep.store import Store, open_store  # noqa: E402
from timestep.store.durability import sync_file_system  # noqa: E402
from timestep.store.embedded_server import EmbeddedServer  # noqa: E402

TARGET_RUNNING_S = 0.1
TARGET_EXISTING_S = 1.0
TARGET_STEADY_RSS_MIB = 250
TARGET_CREATION_PEAK_MIB = 500
ITEM_BYTES = 250
DOC_BYTES = 100 * 1024
READ_LIMIT = 100
PREFILL_ITEMS = 400
DOC_KEYS = 8

ENGINES = ("embedded process", "embedded full", "PostgreSQL server", "SQLite")

BENCH_TABLE_PG = (
    "CREATE TABLE IF NOT EXISTS bench_documents ("
    " key text PRIMARY KEY, doc json NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())"
)
INSERT_ITEM_PG = "INSERT INTO timestep_session_items (session_id, item) VALUES (%s, %s::json)"
UPSERT_DOC_PG = (
    "INSERT INTO bench_documents (key, doc) VALUES (%s, %s::json)"
    " ON CONFLICT (key) DO UPDATE SET doc = excluded.doc, updated_at = now()"
)
LAST_ITEMS_PG = (
    "SELECT item::text FROM timestep_session_items WHERE session_id = %s ORDER BY id DESC LIMIT %s"
)

SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (session_id TEXT PRIMARY KEY, created_at TEXT DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE IF NOT EXISTS session_items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,
    item TEXT NOT NULL,
    created_at TEXT DEFAULT CURRENT_TIMESTAMP);
CREATE INDEX IF NOT EXISTS session_items_by_session ON session_items (session_id, id);
CREATE TABLE IF NOT EXISTS bench_documents (key TEXT PRIMARY KEY, doc TEXT NOT NULL, updated_at TEXT);
"""

# The child of a start-up measurement. Argument: a JSON object {"kind", "target", "before": [[argv...]]}.
CHILD = """\
import time
T0 = time.perf_counter()
import json, subprocess, sys
spec = json.loads(sys.argv[1])
for command in spec["before"]:
    subprocess.run(command, check=True, capture_output=True, cwd="/")
if spec["kind"] == "sqlite":
    import sqlite3
    T_IMPORT = time.perf_counter()
    conn = sqlite3.connect(spec["target"])
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("SELECT 1").fetchone()
    T1 = time.perf_counter()
    conn.close()
else:
    import asyncio
    from timestep.store import open_store
    T_IMPORT = time.perf_counter()
    async def main():
        store = open_store(spec["target"])
        await store.open()
        async with store.connection() as conn:
            await (await conn.execute("SELECT 1")).fetchone()
        done = time.perf_counter()
        await store.close()
        return done
    T1 = asyncio.run(main())
print(json.dumps({"in_script": T1 - T0, "done_at": T1, "imports": T_IMPORT - T0}))
"""


# ---------------------------------------------------------------- measurement helpers


@dataclass(frozen=True)
class Rate:
    ms_per_op: float
    ops: int  # operations timed, over all rounds

    @property
    def ops_per_s(self) -> float:
        return 1000 / self.ms_per_op


@dataclass(frozen=True)
class Budget:
    max_ops: int
    max_s: float
    warmup: int

    def split(self, rounds: int) -> Budget:
        return Budget(max(self.max_ops // rounds, 10), self.max_s / rounds, self.warmup)


Op = Callable[[int], Awaitable[None] | None]


async def timed(op: Op, budget: Budget, start: int) -> tuple[int, float]:
    """Run ``op`` until the budget's operation count or time is used up: (operations, seconds)."""
    for n in range(budget.warmup):
        result = op(-1 - n - start)
        if result is not None:
            await result
    began = time.perf_counter()
    deadline = began + budget.max_s
    ops = 0
    while ops < budget.max_ops and (ops < 10 or time.perf_counter() < deadline):
        result = op(start + ops)
        if result is not None:
            await result
        ops += 1
    return ops, time.perf_counter() - began


def make_item(n: int) -> str:
    """A conversation item of about ITEM_BYTES bytes of JSON."""
    item = {"type": "message", "role": "user", "n": n, "content": [{"type": "input_text", "text": ""}]}
    pad = max(ITEM_BYTES - len(json.dumps(item)), 0)
    item["content"] = [{"type": "input_text", "text": ("Look up the weather in Lisbon and Oslo. " * 8)[:pad]}]
    return json.dumps(item)


def _doc_base() -> str:
    """A RunState-like JSON document of DOC_BYTES: repetitive structure, varied values (not one long run
    of a single character, which compresses to almost nothing)."""
    items: list[dict[str, str]] = []
    size = 0
    while size < DOC_BYTES - 300:
        digest = hashlib.sha256(str(len(items)).encode()).hexdigest()
        item = {"type": "function_call_output", "call_id": f"call_{digest[:24]}",
                "output": f"step {len(items)} done: {digest}"}
        items.append(item)
        size += len(json.dumps(item)) + 2
    return json.dumps({"schema_version": "1.0", "items": items})


DOC_BASE = _doc_base()


def make_doc(n: int) -> str:
    """A JSON document of about DOC_BYTES bytes, different each time."""
    return f'{{"n": {n}, ' + DOC_BASE[1:]


# ---------------------------------------------------------------- throughput


@dataclass(frozen=True)
class Figures:
    insert: Rate
    upsert: Rate
    read: Rate


@dataclass(frozen=True)
class Engine:
    name: str
    insert: Op
    upsert: Op
    read: Op
    budget: Budget
    doc_budget: Budget


async def store_engine(
    name: str, store: Store, session_id: str, budget: Budget, doc_budget: Budget
) -> Engine:
    async with store.transaction() as conn:
        await conn.execute(BENCH_TABLE_PG)
        await conn.execute(
            "INSERT INTO timestep_sessions (session_id) VALUES (%s) ON CONFLICT DO NOTHING", (session_id,)
        )
    async with store.transaction() as conn, conn.cursor() as cur:
        await cur.executemany(INSERT_ITEM_PG, [(session_id, make_item(n)) for n in range(PREFILL_ITEMS)])

    async def insert(n: int) -> None:
        async with store.transaction() as conn:
            await conn.execute(INSERT_ITEM_PG, (session_id, make_item(n)))

    async def upsert(n: int) -> None:
        async with store.transaction() as conn:
            await conn.execute(UPSERT_DOC_PG, (f"{session_id}-{n % DOC_KEYS}", make_doc(n)))

    async def read(_: int) -> None:
        async with store.connection() as conn:
            cur = await conn.execute(LAST_ITEMS_PG, (session_id, READ_LIMIT))
            rows = await cur.fetchall()
        assert len(rows) == READ_LIMIT

    return Engine(name, insert, upsert, read, budget, doc_budget)


def sqlite_engine(conn: sqlite3.Connection, budget: Budget, doc_budget: Budget) -> Engine:
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.executescript(SQLITE_SCHEMA)
    session_id = "bench"
    conn.execute("INSERT OR IGNORE INTO sessions (session_id) VALUES (?)", (session_id,))
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO session_items (session_id, item) VALUES (?, ?)",
        [(session_id, make_item(n)) for n in range(PREFILL_ITEMS)],
    )
    conn.execute("COMMIT")

    def insert(n: int) -> None:
        conn.execute("BEGIN")
        conn.execute(
            "INSERT INTO session_items (session_id, item) VALUES (?, ?)", (session_id, make_item(n))
        )
        conn.execute("COMMIT")

    def upsert(n: int) -> None:
        conn.execute("BEGIN")
        conn.execute(
            "INSERT INTO bench_documents (key, doc, updated_at) VALUES (?, ?, CURRENT_TIMESTAMP)"
            " ON CONFLICT (key) DO UPDATE SET doc = excluded.doc, updated_at = excluded.updated_at",
            (f"{session_id}-{n % DOC_KEYS}", make_doc(n)),
        )
        conn.execute("COMMIT")

    def read(_: int) -> None:
        rows = conn.execute(
            "SELECT item FROM session_items WHERE session_id = ? ORDER BY id DESC LIMIT ?",
            (session_id, READ_LIMIT),
        ).fetchall()
        assert len(rows) == READ_LIMIT

    return Engine("SQLite", insert, upsert, read, budget, doc_budget)


async def run_rounds(engines: Sequence[Engine], rounds: int) -> dict[str, Figures]:
    """Each workload on each engine in turn, ``rounds`` times, so drift and noise hit every engine alike.
    The figure is the median over rounds of the mean time per operation."""
    samples: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for r in range(rounds):
        for workload in ("insert", "upsert", "read"):
            for engine in engines:
                budget = (engine.doc_budget if workload == "upsert" else engine.budget).split(rounds)
                op: Op = getattr(engine, workload)
                sample = await timed(op, budget, start=r * 1_000_000)
                samples.setdefault((engine.name, workload), []).append(sample)

    def rate(name: str, workload: str) -> Rate:
        runs = samples[(name, workload)]
        return Rate(statistics.median(sec * 1000 / ops for ops, sec in runs), sum(ops for ops, _ in runs))

    return {
        e.name: Figures(rate(e.name, "insert"), rate(e.name, "upsert"), rate(e.name, "read")) for e in engines
    }


@dataclass(frozen=True)
class FlushCost:
    idle_syncfs_ms: float  # syncfs with nothing of ours dirty
    write_syncfs_ms: float  # an 8 KB write then syncfs: what a commit costs under durability="full"
    write_fdatasync_ms: float  # an 8 KB write then fdatasync of that one file: a WAL-only flush


def flush_cost(directory: Path, times: int) -> FlushCost:
    """What flushing costs on the file system of ``directory``, medians of ``times``."""
    idle, with_syncfs, with_fdatasync = [], [], []
    page = os.urandom(8192)
    probe = directory / "bench-flush-probe"
    fd = os.open(probe, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        for n in range(times):
            began = time.perf_counter()
            sync_file_system(directory)
            idle.append(time.perf_counter() - began)
            began = time.perf_counter()
            os.pwrite(fd, page, (n % 64) * 8192)
            sync_file_system(directory)
            with_syncfs.append(time.perf_counter() - began)
            began = time.perf_counter()
            os.pwrite(fd, page, (n % 64) * 8192)
            os.fdatasync(fd)
            with_fdatasync.append(time.perf_counter() - began)
    finally:
        os.close(fd)
        probe.unlink()
    return FlushCost(*(statistics.median(xs) * 1000 for xs in (idle, with_syncfs, with_fdatasync)))


# ---------------------------------------------------------------- start-up


@dataclass(frozen=True)
class Startup:
    from_spawn: float  # seconds from just before spawning the process to the first query's result
    in_script: float  # seconds from the first line of the child's script
    imports: float  # seconds the child spent importing (sqlite3, or asyncio and timestep.store)


def spawn_first_query(kind: str, target: str, before: Sequence[Sequence[str]] = ()) -> Startup:
    spec = json.dumps({"kind": kind, "target": target, "before": [list(c) for c in before]})
    env = {k: v for k, v in os.environ.items() if k not in ("TIMESTEP_DATABASE_URL", "TIMESTEP_DURABILITY")}
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, spec], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
    )
    if done.returncode != 0:
        raise RuntimeError(f"start-up child ({kind} {target}) failed:\n{done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return Startup(result["done_at"] - began, result["in_script"], result["imports"])


def median_startup(samples: Sequence[Startup]) -> Startup:
    return Startup(
        statistics.median(s.from_spawn for s in samples),
        statistics.median(s.in_script for s in samples),
        statistics.median(s.imports for s in samples),
    )


def pg_command(server: PostgresServer, tool: str, *args: str) -> list[str]:
    command = [str(server.bindir / tool), *args]
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def pg_start_command(server: PostgresServer, root: Path) -> list[str]:
    return pg_command(
        server, "pg_ctl", "-D", str(root / "data"), "-l", str(root / "log"), "-w", "start",
        "-o", f"-k {root / 'socket'} -c listen_addresses='' -c fsync=on",
    )


def pg_stop(server: PostgresServer, root: Path) -> None:
    subprocess.run(pg_command(server, "pg_ctl", "-D", str(root / "data"), "-m", "fast", "-w", "stop"),
                   check=True, capture_output=True)


def new_pg_root(base: Path, name: str) -> Path:
    root = base / name
    (root / "socket").mkdir(parents=True)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(root / "socket", "postgres")
    return root


def pg_url(root: Path) -> str:
    return f"postgresql://postgres@/postgres?host={root / 'socket'}"


def startup_embedded(base: Path, runs: int, creation_peaks: list[float]) -> dict[str, Startup]:
    """Start-up figures; appends to ``creation_peaks`` the peak memory of each new data directory's creation."""
    out: dict[str, Startup] = {}
    cold = []
    for n in range(runs):
        data_dir = base / f"cold-{n}"
        cold.append(spawn_first_query("store", str(data_dir)))
        EmbeddedServer(data_dir, 30.0).stop()
        creation_peaks.extend(creation_peak_mib(data_dir / "server.log"))
        shutil.rmtree(data_dir, ignore_errors=True)
    out["cold"] = median_startup(cold)

    data_dir = base / "existing"
    server = EmbeddedServer(data_dir, 30.0)
    spawn_first_query("store", str(data_dir))  # create it once
    existing = []
    for _ in range(runs):
        server.stop()
        existing.append(spawn_first_query("store", str(data_dir)))
    out["existing"] = median_startup(existing)

    running = []
    for _ in range(runs):
        server.ensure_running()
        running.append(spawn_first_query("store", str(data_dir)))
    out["running"] = median_startup(running)
    server.stop()
    shutil.rmtree(data_dir, ignore_errors=True)
    return out


def startup_postgres(server: PostgresServer, base: Path, runs: int) -> dict[str, Startup]:
    out: dict[str, Startup] = {}
    cold = []
    for n in range(runs):
        root = new_pg_root(base, f"pg-cold-{n}")
        initdb = pg_command(
            server, "initdb", "-D", str(root / "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8"
        )
        cold.append(spawn_first_query("store", pg_url(root), [initdb, pg_start_command(server, root)]))
        pg_stop(server, root)
        shutil.rmtree(root, ignore_errors=True)
    out["cold"] = median_startup(cold)

    root = new_pg_root(base, "pg-existing")
    subprocess.run(pg_command(server, "initdb", "-D", str(root / "data"), "-U", "postgres", "--auth=trust"),
                   check=True, capture_output=True)
    existing = []
    for _ in range(runs):
        existing.append(spawn_first_query("store", pg_url(root), [pg_start_command(server, root)]))
        pg_stop(server, root)
    out["existing"] = median_startup(existing)
    shutil.rmtree(root, ignore_errors=True)

    out["running"] = median_startup([spawn_first_query("store", server.url()) for _ in range(runs)])
    return out


def startup_sqlite(base: Path, runs: int) -> dict[str, Startup]:
    cold = []
    for n in range(runs):
        cold.append(spawn_first_query("sqlite", str(base / f"cold-{n}.sqlite")))
    existing_path = base / "existing.sqlite"
    spawn_first_query("sqlite", str(existing_path))
    existing = [spawn_first_query("sqlite", str(existing_path)) for _ in range(runs)]
    return {"cold": median_startup(cold), "existing": median_startup(existing)}


def stop_leftovers(base: Path, pg: PostgresServer | None) -> None:
    """Stop every embedded server and PostgreSQL cluster still running under ``base`` (after a failure)."""
    for lock in base.rglob("server.lock"):
        with contextlib.suppress(Exception):
            EmbeddedServer(lock.parent, 30.0).stop()
    if pg is not None:
        for pid_file in base.glob("pg-*/data/postmaster.pid"):
            with contextlib.suppress(Exception):
                pg_stop(pg, pid_file.parent.parent)


# ---------------------------------------------------------------- memory


def proc_status_kib(pid: int, field: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def postgres_pss_kib(server: PostgresServer) -> int | None:
    """Proportional set size of the postmaster and its children (shared buffers counted once)."""
    try:
        postmaster = int((server.root / "data" / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if int(entry.name) != postmaster and ppid != postmaster:
                continue
            for line in (entry / "smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return total


def smaps_kib(pid: int, field: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def process_tree_pss_kib(pid: int) -> int | None:
    """Resident memory of a process and its children (the embedded server and its front process), as
    proportional set size: the pages of the Node binary that both map are counted once, not twice."""
    total = smaps_kib(pid, "Pss")
    if total is None:
        return None
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                total += smaps_kib(int(entry.name), "Pss") or 0
        except (OSError, ValueError, IndexError):
            continue
    return total


def creation_peak_mib(log: Path) -> list[float]:
    """The server's own account of creating a data directory: the creating process's peak plus its own."""
    peaks = []
    for line in log.read_text(errors="replace").splitlines():
        if match := re.search(r"peak resident memory (\d+) MiB in the creating process, (\d+) MiB", line):
            peaks.append(float(match.group(1)) + float(match.group(2)))
    return peaks


def dir_size_mib(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


# ---------------------------------------------------------------- output


def render(headers: Sequence[str], rows: Sequence[Sequence[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=True)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*headers), "  ".join("-" * w for w in widths)]
    lines += [fmt.format(*row) for row in rows]
    return "\n".join(lines)


def rate_cell(rate: Rate, reference: Rate | None) -> str:
    ops = rate.ops_per_s
    ops_text = f"{ops / 1000:.1f}k/s" if ops >= 1000 else f"{ops:.0f}/s"
    cell = f"{rate.ms_per_op:.3f} ms ({ops_text}"
    if reference is not None:
        cell += f", {rate.ms_per_op / reference.ms_per_op:.1f}x"
    return cell + ")"


def startup_cell(value: Startup | None) -> str:
    if value is None:
        return "n/a"
    return f"{value.from_spawn:.3f} s ({value.in_script:.3f})"


def verdict(value: float, target: float) -> str:
    return "met" if value <= target else "NOT met"


@contextmanager
def section(title: str, markdown: bool) -> Iterator[None]:
    print(f"\n{'### ' if markdown else ''}{title}\n" + ("" if markdown else "=" * len(title)))
    yield


# ---------------------------------------------------------------- main


async def throughput(
    embedded_dir: Path, pg: PostgresServer | None, sqlite_path: Path, budgets: dict[str, Budget], rounds: int
) -> dict[str, Figures]:
    process = open_store(embedded_dir, durability="process")
    full = open_store(embedded_dir, durability="full")
    server = open_store(pg.url()) if pg is not None else None
    lite = sqlite3.connect(sqlite_path, isolation_level=None)
    try:
        small, doc = budgets["small"], budgets["doc"]
        engines = [
            await store_engine("embedded process", await process.open(), "bench-process", small, doc),
            await store_engine("embedded full", await full.open(), "bench-full", budgets["full"],
                               budgets["full_doc"]),
        ]
        if server is not None:
            engines.append(
                await store_engine("PostgreSQL server", await server.open(), "bench-server", small, doc)
            )
        engines.append(sqlite_engine(lite, small, doc))
        return await run_rounds(engines, rounds)
    finally:
        for store in (process, full, server):
            if store is not None:
                await store.close()
        lite.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer iterations and start-up runs")
    parser.add_argument("--markdown", action="store_true", help="print tables ready to paste into the README")
    args = parser.parse_args()
    md = bool(args.markdown)

    seconds = 0.9 if args.quick else 3.0
    budgets = {
        "small": Budget(max_ops=1500 if args.quick else 6000, max_s=seconds, warmup=10),
        "doc": Budget(max_ops=400 if args.quick else 1500, max_s=seconds, warmup=3),
        "full": Budget(max_ops=600 if args.quick else 2000, max_s=seconds, warmup=5),
        "full_doc": Budget(max_ops=200 if args.quick else 800, max_s=seconds, warmup=3),
    }
    rounds = 3
    runs = 3 if args.quick else 5

    load_before = os.getloadavg()[0]
    began = time.perf_counter()
    base = Path(tempfile.mkdtemp(prefix="timestep-bench-"))
    base.chmod(0o755)  # the PostgreSQL clusters under it run as the postgres user when we are root
    embedded_dir = base / "embedded"
    embedded = EmbeddedServer(embedded_dir, 30.0)
    pg = start_postgres()
    try:
        results = asyncio.run(
throughput(embedded_dir, pg, base / "bench.sqlite", budgets, rounds)
        )
        embedded.ensure_running()
        pid = embedded.status().pid
        rss = process_tree_pss_kib(pid) if pid else None
        main_rss = proc_status_kib(pid, "VmRSS") if pid else None
        hwm = proc_status_kib(pid, "VmHWM") if pid else None
        pg_pss = postgres_pss_kib(pg) if pg is not None else None
        data_mib = dir_size_mib(embedded.pgdata)
        flush = flush_cost(embedded.data_dir, 50)
        embedded.stop()

        creation_peaks: list[float] = []
        startup: dict[str, dict[str, Startup]] = {
            "embedded": startup_embedded(base / "startup-embedded", runs, creation_peaks)
        }
        if pg is not None:
            startup["PostgreSQL server"] = startup_postgres(pg, base, runs)
        startup["SQLite"] = startup_sqlite(base, runs)
    finally:
        stop_leftovers(base, pg)
        if pg is not None:
            pg.stop()
        shutil.rmtree(base, ignore_errors=True)

    elapsed = time.perf_counter() - began
    print(f"timestep store benchmark: {platform.python_implementation()} {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, {'quick' if args.quick else 'full'} run, {elapsed:.0f} s, load average "
          f"{load_before:.1f} before and {os.getloadavg()[0]:.1f} after (other load skews every figure)")

    engines = [e for e in ENGINES if e in results]
    sqlite = results["SQLite"]
    with section("Throughput: ms per operation (operations/s, time as a multiple of SQLite's)", md):
        rows = [
            [label] + [rate_cell(getattr(results[e], attr), getattr(sqlite, attr) if e != "SQLite" else None)
                       for e in engines]
            for label, attr in (
                (f"small insert (~{ITEM_BYTES} B item, 1 txn each)", "insert"),
                ("100 KB JSON upsert (1 txn each)", "upsert"),
                (f"last {READ_LIMIT} items of a session", "read"),
            )
        ]
        print(render(["workload", *engines], rows, md))
        full, process = results["embedded full"], results["embedded process"]
        print(f"\ndurability=\"full\" costs {full.insert.ms_per_op - process.insert.ms_per_op:+.3f} ms "
              f"per small insert ({full.insert.ms_per_op / process.insert.ms_per_op:.1f}x), "
              f"{full.upsert.ms_per_op - process.upsert.ms_per_op:+.3f} ms per 100 KB upsert "
              f"({full.upsert.ms_per_op / process.upsert.ms_per_op:.1f}x), "
              f"{full.read.ms_per_op - process.read.ms_per_op:+.3f} ms per read "
              f"({full.read.ms_per_op / process.read.ms_per_op:.1f}x).")
        print("Flushing on this file system (medians of 50): syncfs with nothing dirty "
              f"{flush.idle_syncfs_ms:.3f} ms, "
              f"8 KB write + syncfs {flush.write_syncfs_ms:.3f} ms, "
              f"8 KB write + fdatasync of that file {flush.write_fdatasync_ms:.3f} ms.")
        print(f"Default durability now: {DEFAULT_DURABILITY!r}.")

    with section(f"Start-up to first query in a new process: median of {runs}, "
                 "seconds from spawn (from the script's first line)", md):
        columns = list(startup)
        labels = {"cold": "cold (new data dir)", "existing": "existing data dir, no server",
                  "running": "server already running"}
        rows = [[labels[key]] + [startup_cell(startup[c].get(key)) for c in columns] for key in labels]
        print(render(["start-up", *columns], rows, md))

    with section("Targets", md):
        emb = startup["embedded"]
        rows = [
            [f"first query, server already running <= {TARGET_RUNNING_S} s", startup_cell(emb["running"]),
             verdict(emb["running"].from_spawn, TARGET_RUNNING_S),
             verdict(emb["running"].in_script, TARGET_RUNNING_S)],
            [f"first query, existing data dir, no server <= {TARGET_EXISTING_S} s",
             startup_cell(emb["existing"]),
             verdict(emb["existing"].from_spawn, TARGET_EXISTING_S),
             verdict(emb["existing"].in_script, TARGET_EXISTING_S)],
        ]
        print(render(["target", "measured", "from spawn", "from script start"], rows, md))
        running = emb["running"]
        print(f"\nWith the server running, importing asyncio and timestep.store takes {running.imports:.3f} s "
              f"of "
              f"the {running.in_script:.3f} s; opening the store and the first query "
              f"{running.in_script - running.imports:.3f} s.")

    with section("Memory and size after the workload", md):
        steady = f"{rss / 1024:.0f} MiB ({verdict(rss / 1024, TARGET_STEADY_RSS_MIB)})" if rss else "n/a"
        peak = max(creation_peaks, default=None)
        rows = [
            [f"embedded server, both processes (PSS), target <= {TARGET_STEADY_RSS_MIB} MiB", steady],
            ["embedded server process alone: RSS now, peak (VmHWM)",
             f"{main_rss / 1024:.0f} MiB, {hwm / 1024:.0f} MiB" if main_rss and hwm else "n/a"],
            [f"peak while creating a data directory, target <= {TARGET_CREATION_PEAK_MIB} MiB",
             f"{peak:.0f} MiB ({verdict(peak, TARGET_CREATION_PEAK_MIB)})" if peak else "n/a"],
            ["embedded data directory (pgdata)", f"{data_mib:.0f} MiB"],
        ]
        if pg_pss is not None:
            rows.append(["PostgreSQL server, all processes PSS", f"{pg_pss / 1024:.0f} MiB"])
        print(render(["measure", "value"], rows, md))
    if pg is None:
        print("\n(PostgreSQL binaries not found: the server columns were skipped.)")


if __name__ == "__main__":
    main()
