"""Every command has help and is documented; the commands that need no SDK never import it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import timestep.cli
from tests.cli.conftest import REPO, cli, cli_env, seed_interrupted
from timestep.cli import COMMANDS, main
from timestep.store import Store


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help(command: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: timestep {' '.join(command)}")
    assert "--store" in out and "--json" in out


def documented_commands() -> str:
    """The README's command-line section when it has one, else the command list in ``timestep.cli``."""
    readme = (REPO / "README.md").read_text() if (REPO / "README.md").exists() else ""
    match = re.search(r"^#+ [^\n]*command[- ]line[^\n]*$(.*?)(?=^#{1,2} |\Z)", readme, re.M | re.S | re.I)
    return match.group(1) if match else str(timestep.cli.__doc__)


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_is_documented(command: tuple[str, ...]) -> None:
    text = documented_commands()
    name, *sub = command
    pattern = rf"timestep {name}\b" + (rf"[^\n]*\b{sub[0]}\b" if sub else "")
    assert re.search(pattern, text), f"`timestep {' '.join(command)}` is not documented"


def test_top_level_help_and_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "exit codes: 0 success; 1 a timestep error" in out and "2 a usage error" in out
    for argv in ([], ["frobnicate"], ["runs"], ["runs", "show"], ["approve"]):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 2, argv
    bad_store = cli("runs", "list", store="ftp://example.com/x")
    assert bad_store.code == 1 and "unsupported store location" in bad_store.stderr


FAST = """
import contextlib, io, sys
from timestep.cli import main
store, run_id, other_run = sys.argv[1], sys.argv[2], sys.argv[3]
commands = [
    ["runs", "list"], ["runs", "list", "--json", "--status", "interrupted"], ["runs", "show", run_id],
    ["sessions", "list"], ["sessions", "show", "app"], ["usage"], ["usage", "--by", "day", "--json"],
    ["state", "export", run_id], ["db", "status"], ["db", "migrate"], ["server", "status"], ["doctor"],
    ["approve", run_id, "b1", "--by", "fast"], ["reject", other_run, "b1", "--message", "no"],
    ["sessions", "clear", "other", "--yes"],
]
for command in commands:
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["--store", store, *command])
    assert code == 0, (command, code)
loaded = sorted(m for m in sys.modules if m == "agents" or m.startswith(("agents.", "openai")))
print("loaded:", loaded)
"""


async def test_fast_commands_do_not_import_the_sdk(embedded_store: Store, embedded_dir: Path) -> None:
    run_id = await seed_interrupted(embedded_store)
    other_run = await seed_interrupted(embedded_store, session="other")
    done = subprocess.run([sys.executable, "-c", FAST, str(embedded_dir), run_id, other_run],
                          capture_output=True, text=True, env=cli_env(), cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "loaded: []"
