"""``timestep setup``, ``timestep db status|migrate`` and ``timestep server status|stop``."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from timestep.cli import common
from timestep.cli.safe_text import shown
from timestep.errors import ConfigurationError

if TYPE_CHECKING:
    from rich.console import Console

    from timestep.store.embedded_server import EmbeddedServer
    from timestep.store.migrations import SchemaStatus


@dataclass
class DbStatus:
    store: str
    kind: str
    status: SchemaStatus
    functions_revision: int  # of this timestep's functions file
    applied_now: tuple[int, ...] = ()
    functions_applied_now: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "kind": self.kind,
            "current_version": self.status.current_version,
            "latest_version": self.status.latest_version,
            "applied": [{"version": m.version, "name": m.name} for m in self.status.applied],
            "pending": [{"version": m.version, "name": m.name} for m in self.status.pending],
            "applied_now": list(self.applied_now),
            "functions": {
                "revision": self.functions_revision,
                "applied_revision": self.status.functions.revision if self.status.functions else None,
                "pending": self.status.functions_pending,
                "applied_now": self.functions_applied_now,
            },
        }

    def render(self, console: Console) -> None:
        s = self.status
        functions = f"revision {s.functions.revision}" if s.functions else "not applied"
        console.print(shown(f"Store {self.store} ({self.kind}): schema version {s.current_version} of "
                            f"{s.latest_version}, functions {functions} (this timestep has revision "
                            f"{self.functions_revision})."))
        if self.applied_now:
            console.print(f"Applied migrations {', '.join(f'{v:04d}' for v in self.applied_now)}.")
        if self.functions_applied_now:
            console.print(f"Applied the functions (revision {self.functions_revision}).")
        pending = [f"{m.version:04d}_{m.name}" for m in s.pending]
        if s.functions_pending:
            pending.append(f"functions (revision {self.functions_revision}, "
                           + (f"the store has revision {s.functions.revision} from a different file)"
                              if s.functions else "never applied)"))
        if pending:
            console.print(f"Pending: {', '.join(pending)}; apply with `timestep db migrate`.")
        elif not self.applied_now and not self.functions_applied_now:
            console.print("Up to date.")


async def _db(args: argparse.Namespace) -> DbStatus:
    from timestep.store import migrations

    revision = migrations.load_functions().revision
    async with common.opened_store(args, schema="any") as store, store.connection() as conn:
        status = await migrations.schema_status(conn)
        if args.db_command == "status" or status.up_to_date:
            return DbStatus(common.describe(store), store.kind, status, revision)
        before = {m.version for m in status.pending}
        work = f"{len(status.pending)} schema migration(s)" if status.pending else ""
        if status.functions_pending:
            work += " and the functions" if work else "the functions"
        with common.progress(f"applying {work}"):
            after = await migrations.migrate(conn)
        done = tuple(sorted(before - {m.version for m in after.pending}))
        functions_done = status.functions_pending and not after.functions_pending
        return DbStatus(common.describe(store), store.kind, after, revision, done, functions_done)


@dataclass
class ServerReport:
    data_dir: str
    running: bool
    pid: int | None
    socket: str
    stopped: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        result = {"data_dir": self.data_dir, "running": self.running, "pid": self.pid, "socket": self.socket}
        if self.stopped is not None:
            result["stopped"] = self.stopped
        return result

    def render(self, console: Console) -> None:
        if self.stopped is not None:
            console.print(shown(f"Stopped the server (pid {self.pid}) of {self.data_dir}." if self.stopped
                                else f"No server was running for {self.data_dir}."))
            return
        if self.running:
            console.print(shown(f"The server of {self.data_dir} is running (pid {self.pid}) on {self.socket}."))
        elif self.pid is not None:
            console.print(shown(f"Process {self.pid} owns {self.data_dir} but does not answer on {self.socket}; "
                                "stop it with `timestep server stop`."))
        else:
            console.print(shown(f"No server is running for {self.data_dir}; one starts on first use."))


def embedded_server(args: argparse.Namespace) -> EmbeddedServer:
    store = common.open_cli_store(args)
    if store.server is None:
        raise ConfigurationError(
            f"{common.describe(store)} is a PostgreSQL server; `timestep server` manages the embedded engine "
            "of a data directory"
        )
    return store.server


def _server(args: argparse.Namespace) -> ServerReport:
    server = embedded_server(args)
    status = server.status()
    report = ServerReport(str(server.data_dir), status.running, status.pid, str(status.socket_path))
    if args.server_command == "stop":
        with common.progress("stopping the server"):
            report.stopped = server.stop()
    return report


@dataclass
class SetupReport:
    directory: str

    def to_dict(self) -> dict[str, Any]:
        return {"packages": self.directory}

    def render(self, console: Console) -> None:
        console.print(shown(f"embedded engine packages ready in {self.directory}"))


def _setup(args: argparse.Namespace) -> None:
    from timestep.store import node_runtime

    with common.progress("installing the embedded engine's npm packages"):
        directory = node_runtime.install_packages()
    common.emit(args, SetupReport(str(directory)))


def register(commands: Any, parent: argparse.ArgumentParser) -> None:
    commands.add_parser(
        "setup", parents=[parent], help="install the embedded engine's pinned npm packages",
        description="Install the embedded engine's pinned npm packages (runs `npm ci` once per version).",
    ).set_defaults(handler=_setup)

    db = commands.add_parser("db", help="schema version and migrations", description="The store's schema.")
    sub = db.add_subparsers(dest="db_command", required=True, metavar="{status,migrate}")
    sub.add_parser("status", parents=[parent], help="applied and pending migrations (read-only)",
                   description="Applied and pending schema migrations, and whether the functions file is "
                   "pending; changes nothing.",
                   ).set_defaults(handler=lambda a: common.emit(a, common.run(_db(a))))
    sub.add_parser("migrate", parents=[parent], help="apply pending migrations",
                   description="Apply pending schema migrations, each in one transaction, then the functions "
                   "file if it differs from the one the store recorded.",
                   ).set_defaults(handler=lambda a: common.emit(a, common.run(_db(a))))

    server = commands.add_parser("server", help="the embedded engine's server process",
                                 description="The PGLite server process of a data directory.")
    sub = server.add_subparsers(dest="server_command", required=True, metavar="{status,stop}")
    sub.add_parser("status", parents=[parent], help="whether the server runs, its pid and socket",
                   description="Whether the data directory's server runs; starts nothing.",
                   ).set_defaults(handler=lambda a: common.emit(a, _server(a)))
    sub.add_parser("stop", parents=[parent], help="stop the server (committed data is kept)",
                   description="Ask the data directory's server to exit and wait until it has.",
                   ).set_defaults(handler=lambda a: common.emit(a, _server(a)))
