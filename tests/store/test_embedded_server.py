"""The embedded engine shared by many processes: no corruption, no lost commit, no orphan."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from timestep.store import Store, open_store
from timestep.store.embedded_server import EmbeddedServer

ROOT = Path(__file__).resolve().parents[2]


def start_worker(location: Path, writer: str, count: int, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.store_worker", str(location), writer, str(count)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **env},
    )


def read_commits(worker: subprocess.Popen[str], until: int) -> list[str]:
    """Read the worker's commit announcements until ``until`` of them arrived."""
    assert worker.stdout is not None
    keys = []
    while len(keys) < until:
        line = worker.stdout.readline()
        assert line, f"worker ended early: {worker.stderr.read() if worker.stderr else ''}"
        keys.append(line.split()[1])
    return keys


async def stored_keys(store: Store) -> set[str]:
    async with store.connection() as conn:
        cur = await conn.execute("SELECT session_id FROM timestep_sessions")
        return {row[0] for row in await cur.fetchall()}


async def counts_by_heap_and_index(store: Store) -> tuple[int, int]:
    """Count rows once through the heap and once through the primary key index: they must agree."""
    async with store.transaction() as conn:
        await conn.execute("SET LOCAL enable_indexscan = off")
        await conn.execute("SET LOCAL enable_indexonlyscan = off")
        await conn.execute("SET LOCAL enable_bitmapscan = off")
        heap = await (await conn.execute("SELECT count(*) FROM timestep_sessions")).fetchone()
    async with store.transaction() as conn:
        await conn.execute("SET LOCAL enable_seqscan = off")
        index = await (
            await conn.execute("SELECT count(*) FROM timestep_sessions WHERE session_id > ''")
        ).fetchone()
    assert heap is not None and index is not None
    return int(heap[0]), int(index[0])


async def test_four_processes_on_a_new_data_directory_lose_and_corrupt_nothing(tmp_path: Path) -> None:
    location = tmp_path / "store"
    workers = [start_worker(location, f"w{n}", 150) for n in range(4)]
    outputs = [w.communicate(timeout=240) for w in workers]
    for worker, (out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err
        assert out.count("committed") == 150
    pids = {EmbeddedServer(location, 1).status().pid}
    assert len(pids) == 1 and None not in pids  # exactly one server served all four
    EmbeddedServer(location, 1).stop()
    async with open_store(location) as reopened:  # reopen from disk with a new server
        keys = await stored_keys(reopened)
        assert keys == {f"w{n}-{i:05d}" for n in range(4) for i in range(150)}
        assert await counts_by_heap_and_index(reopened) == (600, 600)


async def test_second_process_uses_the_running_server(embedded_dir: Path, embedded_store: Store) -> None:
    owner = EmbeddedServer(embedded_dir, 1).status()
    assert owner.running and owner.pid
    worker = start_worker(embedded_dir, "second", 5)
    _, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err
    assert EmbeddedServer(embedded_dir, 1).status().pid == owner.pid
    assert await stored_keys(embedded_store) == {f"second-{i:05d}" for i in range(5)}


async def test_killing_the_server_mid_write_loses_no_commit(embedded_dir: Path, embedded_store: Store) -> None:
    worker = start_worker(embedded_dir, "survivor", 300)
    committed = read_commits(worker, 40)
    server_pid = EmbeddedServer(embedded_dir, 1).status().pid
    assert server_pid
    os.kill(server_pid, signal.SIGKILL)
    out, err = worker.communicate(timeout=120)
    assert worker.returncode == 0, err  # the worker's next connection started a new server
    committed += [line.split()[1] for line in out.splitlines()]
    assert EmbeddedServer(embedded_dir, 1).status().pid not in (None, server_pid)
    keys = await stored_keys(embedded_store)
    assert set(committed) <= keys
    assert keys == {f"survivor-{i:05d}" for i in range(300)}


async def test_killing_a_client_mid_write_loses_no_commit(embedded_dir: Path, embedded_store: Store) -> None:
    worker = start_worker(embedded_dir, "victim", 100_000)
    committed = read_commits(worker, 30)
    worker.kill()
    worker.wait()
    keys = await stored_keys(embedded_store)
    assert set(committed) <= keys
    async with embedded_store.transaction() as conn:  # nothing is left blocked by the dead client's transaction
        await conn.execute("INSERT INTO timestep_sessions (session_id) VALUES ('after')")
    assert "after" in await stored_keys(embedded_store)


def test_server_exits_after_its_idle_timeout(tmp_path: Path) -> None:
    location = tmp_path / "store"
    worker = start_worker(location, "brief", 1, TIMESTEP_IDLE_TIMEOUT="1")
    _, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err
    server = EmbeddedServer(location, 1)
    pid = server.status().pid
    assert pid
    deadline = time.monotonic() + 10
    while server.status().pid is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert server.status().pid is None
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
