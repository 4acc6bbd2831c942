"""A run paused for tool approval against loopback Ollama is resumed and finished in a new process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from agents import RunConfig, Runner

from tests.models.approval_agent import build_agent
from tests.models.conftest import Closer
from tests.models.wire_servers import Reply, ToolCall, WireServer
from timestep.models import MultiModelProvider

ROOT = Path(__file__).resolve().parents[2]


async def test_approval_interruption_resumes_in_a_new_process(
    ollama_server: WireServer, closer: Closer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OLLAMA_HOST", ollama_server.url)
    ollama_server.enqueue(
        Reply(tool_calls=(ToolCall("book_seats", {"n": 2}, "call_book"),), input_tokens=40, output_tokens=8),
        Reply(text="Booked 2 seats.", input_tokens=60, output_tokens=5),
    )
    agent = build_agent()
    provider = closer.provider(MultiModelProvider())
    paused = await Runner.run(
        agent, "Book 2 seats", run_config=RunConfig(model_provider=provider, tracing_disabled=True)
    )

    [pending] = paused.interruptions
    assert pending.name == "book_seats"
    assert len(ollama_server.requests) == 1
    state_file = tmp_path / "state.json"
    state_file.write_text(paused.to_state().to_string())

    finished = subprocess.run(
        [sys.executable, "-m", "tests.models.resume_worker", str(state_file)],
        cwd=ROOT,
        env={**os.environ, "OLLAMA_HOST": ollama_server.url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    outcome = json.loads(finished.stdout.strip().splitlines()[-1])

    assert outcome["final_output"] == "Booked 2 seats."
    assert outcome["interruptions"] == 0
    # Usage carries over from the paused run: both model calls are counted.
    assert outcome["usage"] == [2, 100, 13]
    assert [r.body["model"] for r in ollama_server.requests] == ["llama3", "llama3"]
    messages = ollama_server.requests[1].body["messages"]
    assert messages[-2]["tool_calls"][0]["id"] == "call_book"
    assert messages[-1] == {"role": "tool", "tool_call_id": "call_book", "content": "booked 2 seats"}
    assert ollama_server.pending == 0
