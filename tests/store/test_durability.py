"""durability="full" flushes committed writes to stable storage; "process" leaves it to the OS."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import IN_CI
from timestep.store import Store

ROOT = Path(__file__).resolve().parents[2]
WRITER = """
import asyncio, sys
from timestep.store import open_store
async def main():
    async with open_store(sys.argv[1], durability=sys.argv[2]) as store:
        for i in range(5):
            async with store.transaction() as conn:
                await conn.execute("INSERT INTO timestep_sessions (session_id) VALUES (%s)", (f"{sys.argv[2]}-{i}",))
asyncio.run(main())
"""


def count_sync_calls(embedded_dir: Path, durability: str) -> int:
    strace = shutil.which("strace")
    if strace is None:
        if IN_CI:
            pytest.fail("strace is not installed: apt-get install strace")
        pytest.skip("strace is not installed")
    result = subprocess.run(
        [strace, "-f", "-e", "trace=syncfs,fsync,fdatasync", sys.executable, "-c", WRITER,
         str(embedded_dir), durability],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return len(re.findall(r"\b(syncfs|fsync|fdatasync)\(\d+", result.stderr))


async def test_full_durability_syncs_after_every_commit(embedded_dir: Path, embedded_store: Store) -> None:
    assert count_sync_calls(embedded_dir, "full") >= 5


async def test_process_durability_does_not_sync(embedded_dir: Path, embedded_store: Store) -> None:
    assert count_sync_calls(embedded_dir, "process") == 0
