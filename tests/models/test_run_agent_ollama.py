"""run_agent against loopback Ollama: paused for approval, approved, resumed in a new process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.models.approval_agent import build_agent
from tests.models.wire_servers import Reply, ToolCall, WireServer
from timestep.approvals import approve
from timestep.runs import run_agent
from timestep.store import Store

ROOT = Path(__file__).resolve().parents[2]


async def test_run_agent_pauses_for_approval_and_resumes_in_a_new_process(
    ollama_server: WireServer, embedded_store: Store, embedded_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_HOST", ollama_server.url)
    ollama_server.enqueue(
        Reply(tool_calls=(ToolCall("book_seats", {"n": 2}, "call_book"),), input_tokens=40, output_tokens=8),
        Reply(text="Booked 2 seats.", input_tokens=60, output_tokens=5),
    )

    paused = await run_agent(build_agent(), "Book 2 seats", store=embedded_store)
    [pending] = paused.interruptions
    assert pending.name == "book_seats"
    assert await approve(paused.run_id, store=embedded_store) == ["call_book"]

    finished = subprocess.run(
        [sys.executable, "-m", "tests.models.run_agent_worker", str(embedded_dir), paused.run_id],
        cwd=ROOT,
        env={**os.environ, "OLLAMA_HOST": ollama_server.url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    outcome = json.loads(finished.stdout.strip().splitlines()[-1])

    assert outcome["final_output"] == "Booked 2 seats."
    assert outcome["interruptions"] == 0
    assert outcome["usage"] == [2, 100, 13]  # the paused run's usage carries over
    assert [r.body["model"] for r in ollama_server.requests] == ["llama3", "llama3"]
    messages = ollama_server.requests[1].body["messages"]
    assert messages[-1] == {"role": "tool", "tool_call_id": "call_book", "content": "booked 2 seats"}
    async with embedded_store.connection() as conn:
        cur = await conn.execute(
            "SELECT provider, model, input_tokens, output_tokens FROM timestep_usage WHERE run_id = %s ORDER BY id",
            (paused.run_id,),
        )
        usage_rows = await cur.fetchall()
        cur = await conn.execute("SELECT status FROM timestep_runs WHERE run_id = %s", (paused.run_id,))
        status = await cur.fetchone()
    # Usage is recorded per request, with the provider and the model name the server saw.
    assert [tuple(row) for row in usage_rows] == [("ollama", "llama3", 40, 8), ("ollama", "llama3", 60, 5)]
    assert status is not None and status[0] == "completed"
