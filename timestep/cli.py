"""The ``timestep`` command line."""

from __future__ import annotations

import argparse
import sys

from timestep.errors import TimestepError


def _setup(_: argparse.Namespace) -> None:
    from timestep.store import node_runtime

    print(f"embedded engine packages ready in {node_runtime.install_packages()}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="timestep", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("setup", help="install the embedded engine's pinned npm packages").set_defaults(
        handler=_setup
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.handler(args)
    except TimestepError as exc:
        print(f"timestep: {exc}", file=sys.stderr)
        return 1
    return 0
