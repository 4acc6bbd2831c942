"""The ``timestep`` command line: look into and act on a timestep store from a shell.

Commands:
  timestep runs list [--status S] [--session S]   runs, newest first, with pending approvals
  timestep runs show RUN                          status, agent, items, tool calls, approvals, snapshots, usage
  timestep approve RUN [CALL...] [--all] [--by NAME]
  timestep reject RUN CALL [--message TEXT] [--by NAME]
  timestep resume RUN --agent module:attribute    import your agent graph and resume the run
  timestep sessions list | show SESSION | clear SESSION
  timestep state export RUN [--format python|typescript] [-o FILE]
  timestep state import FILE
  timestep state convert --to typescript|python [IN] [OUT]
  timestep usage [--run RUN | --session S] [--by model|day|session|run]
  timestep db status | migrate
  timestep server status | stop
  timestep doctor [--check]                       --check: verify every table and index (amcheck)
  timestep setup

Only ``resume`` and ``state import`` load the Agents SDK; every other command answers without it.
"""

from __future__ import annotations

import argparse
import sys

from timestep.cli.safe_text import escaped
from timestep.errors import TimestepError

__all__ = ["COMMANDS", "build_parser", "main"]

#: Every command, as typed after ``timestep`` (the help test and the documentation test walk this list).
COMMANDS: tuple[tuple[str, ...], ...] = (
    ("runs", "list"), ("runs", "show"), ("approve",), ("reject",), ("resume",),
    ("sessions", "list"), ("sessions", "show"), ("sessions", "clear"),
    ("state", "export"), ("state", "import"), ("state", "convert"),
    ("usage",), ("db", "status"), ("db", "migrate"), ("server", "status"), ("server", "stop"),
    ("doctor",), ("setup",),
)

EPILOG = """\
store: --store PATH_OR_URL, else TIMESTEP_DATABASE_URL, else the default data directory (TIMESTEP_HOME).
exit codes: 0 success; 1 a timestep error (message on stderr as "timestep: ...") or, for doctor, a problem
found; 2 a usage error (unknown command or option, missing argument); 130 interrupted (Ctrl-C).
--json prints one JSON document on stdout for scripts; tables and messages are for people."""


def build_parser() -> argparse.ArgumentParser:
    from timestep.cli import admin, doctor, resume, runs, sessions, state, usage
    from timestep.cli.common import common_options

    parser = argparse.ArgumentParser(
        prog="timestep", description="Look into and act on a timestep store: runs, approvals, sessions, run "
        "states, usage and cost, the schema and the embedded server.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--store", metavar="PATH_OR_URL", default=None,
                        help="data directory or postgresql:// URL (also accepted after the command)")
    parser.add_argument("--json", action="store_true", default=False, help="print JSON for scripts")
    parent = common_options()
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (runs, resume, sessions, state, usage, admin, doctor):
        module.register(commands, parent)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code = args.handler(args)
    except TimestepError as exc:
        print(f"timestep: {escaped(str(exc))}", file=sys.stderr)
        return 1
    except Exception as exc:
        sdk = sys.modules.get("agents.exceptions")  # only the commands that run an agent load the SDK
        if sdk is None or not isinstance(exc, sdk.AgentsException):
            raise
        # the run itself failed (max turns, a guardrail, the model)
        print(f"timestep: the run failed: {type(exc).__name__}: {escaped(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("timestep: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        sys.stderr.close()  # the reader went away (`| head`): nothing more to say
        return 1
    return int(code or 0)
