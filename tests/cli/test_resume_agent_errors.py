"""Agent code that ends the process (sys.exit, SystemExit) is reported as an error, never taken for success."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import REPO, cli, cli_env


@pytest.mark.parametrize(("agent", "message"), [
    ("sys:exit", "calling sys:exit to build the agent failed: SystemExit (exit code None)"),
    ("tests.cli.agents:exits", "calling tests.cli.agents:exits to build the agent failed: SystemExit (exit code 3)"),
    ("quits_on_import:agent", "importing module 'quits_on_import' (from --agent quits_on_import:agent) failed: "
                              "SystemExit (exit code 0)"),
])
def test_agent_code_that_exits_is_an_error(agent: str, message: str, tmp_path: Path) -> None:
    (tmp_path / "quits_on_import.py").write_text("import sys\nsys.exit(0)\n")
    env = cli_env(PYTHONPATH=f"{tmp_path}:{REPO}")
    outcome = cli("resume", "some-run", "--agent", agent, store=str(tmp_path / "store"), env=env)
    assert outcome.code == 1, outcome
    assert outcome.stderr.startswith("timestep: ") and message in outcome.stderr, outcome.stderr
    assert outcome.stdout == ""
    assert not (tmp_path / "store").exists()  # the store was not opened
