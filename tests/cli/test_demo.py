"""``make demo`` end to end, offline: no OpenAI key, no Ollama, a fresh data directory."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from tests.cli.conftest import REPO, cli, cli_env
from timestep.store.embedded_server import EmbeddedServer


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_demo_runs_offline_to_completion(tmp_path: Path) -> None:
    home = tmp_path / "demo-home"
    env = cli_env(TIMESTEP_HOME=str(home), OLLAMA_HOST=f"127.0.0.1:{closed_port()}")
    try:
        done = subprocess.run([sys.executable, str(REPO / "scripts" / "demo.py")], capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=180)
        assert done.returncode == 0, done.stdout + done.stderr
        out = done.stdout
        assert "ScriptedModel, offline" in out
        for step in ("$ timestep runs list --status interrupted", "$ timestep approve", "$ timestep resume",
                     "$ timestep usage --run"):
            assert step in out
        assert "asks to call book_table" in out and "interrupted" in out
        assert "completed." in out and "booked for 19:30" in out
        assert "TypeScript finished run" in out and "resumed in TypeScript" in out
        runs = cli("runs", "list", "--json", store=str(home)).json["runs"]
        assert [(r["session_id"], r["status"], r["pending_approvals"]) for r in runs] == [
            ("demo-typescript", "completed", 0), ("demo", "completed", 0)
        ]
        assert not (tmp_path / ".timestep-demo").exists()  # TIMESTEP_HOME was used, not the default
    finally:
        EmbeddedServer(home, 1.0).stop()
