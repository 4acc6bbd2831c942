"""Drive ``timestep`` as a user would: a subprocess per command, against the test's real store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from timestep.store import Store

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        assert self.code == 0, self.stderr
        return json.loads(self.stdout)


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("TIMESTEP_DATABASE_URL", "TIMESTEP_PRICES", "OPENAI_API_KEY")}
    env.update(OPENAI_AGENTS_DISABLE_TRACING="1", COLUMNS="200", **extra)
    return env


def cli(*args: str, store: str | None = None, input: str | None = None, env: dict[str, str] | None = None,
        cwd: Path = REPO) -> Outcome:
    """Run ``python -m timestep [--store STORE] ARGS...`` and return its exit code and output."""
    argv = [sys.executable, "-m", "timestep", *(["--store", store] if store else []), *args]
    done = subprocess.run(argv, input=input, capture_output=True, text=True, env=env or cli_env(), cwd=cwd,
                          timeout=120)
    return Outcome(done.returncode, done.stdout, done.stderr)


async def seed_interrupted(store: Store, *, session: str = "app") -> str:
    """A booking run waiting for approval of call ``b1`` (after a free ``weather`` call ``w1``)."""
    from tests.runs.scenario import booking_turns, host
    from timestep import run_agent
    from timestep.session import TimestepSession

    result = await run_agent(host(booking_turns()[:2]), "Book a table for two",
                             session=TimestepSession(session, store=store), store=store, context={})
    assert result.interruptions
    return str(result.run_id)


async def store_fingerprint(store: Store) -> dict[str, Any]:
    """Everything a command could change: runs, calls and decisions, snapshot bytes, items, usage, sessions."""
    queries = {
        "runs": "SELECT run_id, status, owner, session_id, updated_at::text FROM timestep_runs ORDER BY run_id",
        "calls": "SELECT run_id, call_id, status, decision, decided_by, decision_message FROM timestep_tool_calls"
                 " ORDER BY run_id, call_id",
        "snapshots": "SELECT id, run_id, md5(state::text), size_bytes FROM timestep_run_snapshots ORDER BY id",
        "items": "SELECT id, session_id, md5(item::text) FROM timestep_session_items ORDER BY id",
        "sessions": "SELECT session_id, updated_at::text FROM timestep_sessions ORDER BY session_id",
        "usage": "SELECT count(*), coalesce(sum(total_tokens), 0) FROM timestep_usage",
    }
    found = {}
    async with store.connection() as conn:
        for name, query in queries.items():
            cur = await conn.execute(query)
            found[name] = await cur.fetchall()
    return found
