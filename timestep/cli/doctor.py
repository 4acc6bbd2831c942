"""``timestep doctor``: what the store needs, checked one by one, each problem with its fix."""

from __future__ import annotations

import argparse
import os
import platform
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from timestep import config
from timestep.cli import common
from timestep.cli.safe_text import shown
from timestep.errors import TimestepError

if TYPE_CHECKING:
    from rich.console import Console

    from timestep.store import Store

Outcome = Literal["ok", "warning", "problem", "skipped"]


@dataclass(frozen=True)
class Check:
    name: str
    outcome: Outcome
    detail: str
    fix: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "outcome": self.outcome, "detail": self.detail, "fix": self.fix}


@dataclass
class Diagnosis:
    store: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.outcome != "problem" for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {"store": self.store, "ok": self.ok, "checks": [c.to_dict() for c in self.checks]}

    def render(self, console: Console) -> None:
        marks = {"ok": ("ok", "green"), "warning": ("warning", "yellow"), "problem": ("PROBLEM", "red"),
                 "skipped": ("skipped", "dim")}
        table = common.table(f"timestep doctor: {self.store}", "CHECK", "RESULT", "DETAIL")
        for c in self.checks:
            detail = shown(c.detail, *(("\n", ("fix:", "bold"), f" {c.fix}") if c.fix else ()))
            common.row(table, c.name, shown(marks[c.outcome]), detail)
        console.print(table)
        console.print(shown("No problems found." if self.ok else ("Problems found: apply the fixes above.", "red")))


def _node_checks(diagnosis: Diagnosis) -> bool:
    from timestep.store import node_runtime

    try:
        node = node_runtime.node_executable()
    except TimestepError as exc:
        diagnosis.checks.append(Check("node", "problem", "Node.js is not usable", str(exc)))
        diagnosis.checks.append(Check("npm packages", "skipped", "needs Node.js"))
        return False
    import subprocess

    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    diagnosis.checks.append(Check("node", "ok", f"{node} {version}"))
    try:
        launcher = node_runtime.launcher_path()
    except TimestepError as exc:
        diagnosis.checks.append(Check("npm packages", "problem", "not installed", str(exc)))
        return False
    diagnosis.checks.append(Check("npm packages", "ok", f"installed in {launcher.parent}"))
    return True


def _directory_checks(diagnosis: Diagnosis, store: Store) -> bool:
    server = store.server
    assert server is not None
    data_dir = server.data_dir
    if not data_dir.exists():
        diagnosis.checks.append(Check("data directory", "ok", f"{data_dir} (created on first use)"))
    elif not os.access(data_dir, os.W_OK | os.X_OK):
        diagnosis.checks.append(Check("data directory", "problem", f"{data_dir} is not writable",
                                      "fix its permissions, or choose another with --store or TIMESTEP_HOME"))
        return False
    else:
        diagnosis.checks.append(Check("data directory", "ok", str(data_dir)))
    status = server.status()
    if status.pid is None:
        diagnosis.checks.append(Check("lock owner", "ok", "none (no server holds the data directory)"))
        diagnosis.checks.append(Check("server", "ok", "not running; it starts on first use"))
    elif status.running:
        diagnosis.checks.append(Check("lock owner", "ok", f"server process {status.pid}"))
        diagnosis.checks.append(Check("server", "ok", f"running, answering on {status.socket_path}"))
    else:
        fix = f"stop it with `timestep server stop` (or `kill {status.pid}`), then retry"
        diagnosis.checks.append(Check("lock owner", "problem", f"process {status.pid} holds {server.lock_path} "
                                      "but serves no connections", fix))
        diagnosis.checks.append(Check("server", "problem", f"no answer on {status.socket_path}", fix))
        return False
    return True


async def _schema_check(diagnosis: Diagnosis, store: Store) -> None:
    from timestep.cli.admin import raw_connection
    from timestep.store import migrations

    try:
        async with raw_connection(store) as conn:
            status = await migrations.schema_status(conn)
    except TimestepError as exc:
        diagnosis.checks.append(Check("schema", "problem", "cannot read the schema version", str(exc)))
        return
    if status.pending:
        diagnosis.checks.append(Check(
            "schema", "warning", f"version {status.current_version} of {status.latest_version}",
            "run `timestep db migrate` (timestep also migrates on first use)",
        ))
    else:
        diagnosis.checks.append(Check("schema", "ok", f"version {status.current_version} (current)"))


def _prices_check(diagnosis: Diagnosis) -> None:
    from timestep.usage_cost import load_prices

    try:
        table = load_prices()
    except TimestepError as exc:
        diagnosis.checks.append(Check("price table", "problem", "unreadable", str(exc)))
        return
    source = config.prices_file()
    detail = f"{len(table.entries)} entries as of {table.as_of}" + (f", with {source}" if source else "")
    diagnosis.checks.append(Check("price table", "ok", detail))


async def diagnose(args: argparse.Namespace) -> Diagnosis:
    import timestep

    try:
        store = common.open_cli_store(args)
    except TimestepError as exc:
        diagnosis = Diagnosis(str(args.store))
        diagnosis.checks.append(Check("store location", "problem", "cannot be used", str(exc)))
        return diagnosis
    diagnosis = Diagnosis(common.describe(store))
    diagnosis.checks.append(Check("timestep", "ok", f"{timestep.__version__} on Python {platform.python_version()}"
                                  f" ({sys.executable})"))
    ready = True
    if store.kind == "embedded":
        ready = _node_checks(diagnosis) and _directory_checks(diagnosis, store)
    else:
        diagnosis.checks.append(Check("node", "skipped", "not needed for a PostgreSQL server store"))
    if ready:
        await _schema_check(diagnosis, store)
    else:
        diagnosis.checks.append(Check("schema", "skipped", "needs a reachable store"))
    _prices_check(diagnosis)
    return diagnosis


def _doctor(args: argparse.Namespace) -> int:
    diagnosis = common.run(diagnose(args))
    common.emit(args, diagnosis)
    return 0 if diagnosis.ok else 1


def register(commands: Any, parent: argparse.ArgumentParser) -> None:
    commands.add_parser(
        "doctor", parents=[parent], help="check Node, npm packages, data directory, server and schema",
        description="Check what the store needs: Node.js and its version, the npm packages, the data directory, "
        "the lock owner, the server and the schema version; each problem comes with its fix. Exits 1 when a "
        "problem is found. Starts the embedded server if needed to read the schema version.",
    ).set_defaults(handler=_doctor)
