"""Many client processes at once, Python and Node, each checking that it sees only its own work.

On the embedded engine every client shares PGLite's one backend; the server must still give each the
answers it would get alone on a PostgreSQL server. The same test runs against a real server.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from timestep.session import TimestepSession
from timestep.store import Store

ROOT = Path(__file__).resolve().parents[2]
ITERATIONS = 1000
PYTHON_ROLES = ("session:alice", "session:bob", "params", "transaction:py", "failing", "state:s1", "state:s2")
NODE_ROLES = ("params", "named", "named", "transaction:node", "failing")


def start(command: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def outcome(worker: subprocess.Popen[str], role: str) -> dict[str, Any]:
    out, err = worker.communicate(timeout=600)
    assert worker.returncode == 0, f"{role}: {err[-3000:]}"
    report: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    report["role"] = role
    return report


async def test_concurrent_python_and_node_clients_get_their_own_answers(store: Store, store_location: str) -> None:
    node = shutil.which("node")
    assert node, "Node.js is needed for the Node clients"
    async with store.connection() as conn:
        await conn.execute("CREATE TABLE IF NOT EXISTS isolation_probe (worker text, i int)")
        await conn.execute("TRUNCATE isolation_probe")
    await TimestepSession("alice", store).add_items([{"role": "user", "content": "a"}] * 3)
    await TimestepSession("bob", store).add_items([{"role": "user", "content": "b"}] * 5)

    workers = [
        (role, start([sys.executable, "-m", "tests.store.isolation_worker", store_location, role, str(ITERATIONS)]))
        for role in PYTHON_ROLES
    ] + [
        (f"node {role}", start([node, "conformance/js/isolation_worker.mjs", store_location, role, str(ITERATIONS)]))
        for role in NODE_ROLES
    ]
    reports = [outcome(worker, role) for role, worker in workers]

    failures = [r for r in reports if r["errors"] or r["wrong"] or r["ops"] != ITERATIONS]
    assert not failures, json.dumps(failures, indent=1)
    async with store.connection() as conn:
        cur = await conn.execute("SELECT worker, count(*) FROM isolation_probe GROUP BY worker ORDER BY worker")
        assert await cur.fetchall() == [("node", ITERATIONS), ("py", ITERATIONS)]
        await conn.execute("DROP TABLE isolation_probe")
    assert await TimestepSession("alice", store).get_items() == [{"role": "user", "content": "a"}] * 3
    assert len(await TimestepSession("bob", store).get_items()) == 5
