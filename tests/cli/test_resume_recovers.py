"""``timestep resume`` finishes a run whose process was killed mid-run, replaying its journal."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

from tests.cli.conftest import REPO, cli, cli_env
from tests.durable.chaos_app import FINAL
from timestep.store import Store

AGENT = "tests.durable.chaos_app:agent"


def kill_inside_model_call(location: Path, logdir: Path, call: int) -> tuple[str, dict[str, str]]:
    """Start the 20-turn run, SIGKILL it while model call ``call`` hangs; return its id and environment."""
    run_id = uuid.uuid4().hex
    env = cli_env(CHAOS_LOGDIR=str(logdir), HANG_AT=str(call))
    app = subprocess.Popen([sys.executable, "-m", "tests.durable.chaos_app", str(location), f"run:{run_id}"],
                           cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = logdir / f"{run_id}.log"
    deadline = time.monotonic() + 60
    while f"model-start {call}" not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline and app.poll() is None, f"the run never reached model call {call}"
        time.sleep(0.05)
    app.kill()
    app.wait()
    return run_id, {**env, "HANG_AT": "-1"}


def test_resume_recovers_a_run_killed_inside_a_model_call(
    embedded_dir: Path, embedded_store: Store, tmp_path: Path
) -> None:
    run_id, env = kill_inside_model_call(embedded_dir, tmp_path, 7)
    done = cli("resume", run_id, "--agent", AGENT, "--json", store=str(embedded_dir), env=env)
    assert done.code == 0, done.stderr  # the run's own max_turns (25) applies, not the SDK's default 10
    assert done.json["status"] == "completed" and done.json["final_output"] == FINAL
    lines = (tmp_path / f"{run_id}.log").read_text().splitlines()
    for step in range(7):  # steps answered before the kill were replayed from the journal, not asked again
        assert lines.count(f"model-done {step}") == 1


def test_a_run_that_fails_on_resume_is_reported_without_a_traceback(embedded_dir: Path, tmp_path: Path) -> None:
    run_id, env = kill_inside_model_call(embedded_dir, tmp_path, 2)
    failed = cli("resume", run_id, "--agent", AGENT, "--max-turns", "3", store=str(embedded_dir), env=env)
    assert failed.code == 1 and failed.stderr.startswith("timestep: the run failed: MaxTurnsExceeded")
    assert "Traceback" not in failed.stderr
