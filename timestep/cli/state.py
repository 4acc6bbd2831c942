"""``timestep state export|import|convert``: run states as files, in either SDK's format."""

from __future__ import annotations

import argparse
import sys
import uuid
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from timestep.cli import common
from timestep.cli.safe_text import json_text, shown
from timestep.errors import ConfigurationError, InputFileError, RunStateError, TranslationError

if TYPE_CHECKING:
    from rich.console import Console

Language = Literal["python", "typescript"]
LARGE_BYTES = 1_000_000  # above this, conversions show a spinner


@dataclass
class Written:
    action: str
    path: str
    size_bytes: int
    language: str
    run_id: str | None = None
    snapshot_id: int | None = None
    pending_approvals: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {"path": self.path, "format": self.language, "size_bytes": self.size_bytes}
        if self.run_id is not None:
            result.update(run_id=self.run_id, snapshot_id=self.snapshot_id)
        if self.action == "imported":
            result["pending_approvals"] = list(self.pending_approvals)
        return result

    def render(self, console: Console) -> None:
        if self.action == "imported":
            console.print(shown(f"Imported {self.path} ({self.language}, {self.size_bytes:,} bytes) as run "
                                f"{self.run_id} (snapshot {self.snapshot_id})."))
            if self.pending_approvals:
                console.print(shown(f"It waits for approval of {', '.join(self.pending_approvals)}."))
        else:
            where = f" of run {self.run_id} (snapshot {self.snapshot_id})" if self.run_id else ""
            console.print(shown(f"Wrote the {self.language} state{where} to {self.path} ({self.size_bytes:,} bytes)."))


def read_input(path: str | None) -> bytes:
    """The bytes of a file, or of standard input for ``-`` or no path."""
    if path in (None, "-"):
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc.strerror or exc}") from exc


def write_output(path: str | None, text: str) -> None:
    if path in (None, "-"):  # a state is JSON: its strings' unsafe characters go out as JSON escapes
        sys.stdout.write(json_text(text))
        sys.stdout.write("\n")
        sys.stdout.flush()
        return
    try:
        Path(path).write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        raise InputFileError(f"cannot write {path}: {exc.strerror or exc}") from exc


def convert_text(text: str | bytes, to: Language, source_name: str) -> str:
    from timestep import translate

    with common.progress(f"converting {len(text):,} bytes to {to}") if len(text) > LARGE_BYTES else nullcontext():
        try:
            return translate.convert(text, to=to)
        except TranslationError as exc:
            raise RunStateError(f"{source_name}: {exc}") from exc


async def _export(args: argparse.Namespace) -> Written | None:
    from timestep.durable import run_records

    async with common.opened_store(args) as store, store.connection() as conn:
        await run_records.require_run(conn, args.run)
        snapshots = await run_records.list_snapshots(conn, args.run)
        wanted = args.snapshot if args.snapshot is not None else (snapshots[-1].id if snapshots else None)
        chosen = next((s for s in snapshots if s.id == wanted), None)
        if chosen is None:
            ids = ", ".join(str(s.id) for s in snapshots) or "none"
            which = "snapshot yet" if args.snapshot is None else f"snapshot {args.snapshot} (its snapshots: {ids})"
            raise RunStateError(f"run {args.run} has no {which}")
        with common.progress(f"reading snapshot {chosen.id} ({chosen.size_bytes:,} bytes)"):
            text = await run_records.get_snapshot(conn, args.run, chosen.id)
    assert text is not None
    if chosen.language != args.format:
        text = convert_text(text, args.format, f"snapshot {chosen.id} of run {args.run}")
    write_output(args.output, text)
    if args.output in (None, "-"):
        return None
    return Written("exported", args.output, len(text.encode()), args.format, args.run, chosen.id)


async def _import(args: argparse.Namespace) -> Written:
    raw = read_input(args.file)  # before the slow import of the SDK that checking a state needs
    import orjson

    from timestep import translate
    from timestep.cli import pending as pending_approvals
    from timestep.durable import run_records
    from timestep.durable.ownership import current_owner
    from timestep.durable.snapshots import SDK_VERSION, EncodedSnapshot, parse_snapshot
    from timestep.durable.statuses import RunStatus

    name = args.file or "standard input"
    try:
        payload, language = parse_snapshot(raw)
    except RunStateError as exc:
        raise RunStateError(f"{name}: {exc}") from exc
    original = orjson.loads(raw) if language == "typescript" else payload
    schema = str(original.get("$schemaVersion"))
    sdk = translate.TYPESCRIPT_SDK if language == "typescript" else SDK_VERSION
    snapshot = EncodedSnapshot(raw.decode("utf-8").strip(), language, sdk, schema)
    try:
        agent_name = pending_approvals.agent_name(payload)
        pending = pending_approvals.interruptions(payload)
    except TranslationError as exc:
        raise RunStateError(f"{name}: {exc}") from exc
    run_id = args.run_id or uuid.uuid4().hex
    async with common.opened_store(args, schema="migrate") as store, store.transaction() as conn:
        if await run_records.get_run(conn, run_id) is not None:
            raise ConfigurationError(f"a run {run_id!r} already exists; choose another --run-id")
        await run_records.insert_run(conn, run_id, agent_name, args.session, None, current_owner())
        await run_records.mark_pending_approval(conn, run_id, pending)
        snapshot_id = await run_records.insert_snapshot(conn, run_id, "interrupted" if pending else "checkpoint",
                                                        snapshot)
        await run_records.set_run_status(conn, run_id, RunStatus.INTERRUPTED if pending else RunStatus.RUNNING)
    return Written("imported", name, snapshot.size_bytes, language, run_id, snapshot_id, tuple(c[0] for c in pending))


def _convert(args: argparse.Namespace) -> None:
    raw = read_input(args.input)
    text = convert_text(raw, args.to, args.input or "standard input")
    write_output(args.output, text)
    if args.output not in (None, "-"):
        common.emit(args, Written("converted", args.output, len(text.encode()), args.to))


def register(commands: Any, parent: argparse.ArgumentParser) -> None:
    state = commands.add_parser("state", help="export, import and convert run states",
                                description="Run states as files, in the Python or TypeScript SDK's format.")
    sub = state.add_subparsers(dest="state_command", required=True, metavar="{export,import,convert}")
    export = sub.add_parser("export", parents=[parent], help="write a run's state to a file or stdout",
                            description="Write a run's latest state (or --snapshot ID) in the format asked for.")
    export.add_argument("run", metavar="RUN", type=common.stored_id)
    export.add_argument("--format", choices=("python", "typescript"), default="python",
                        help="the SDK format to write (default: python)")
    export.add_argument("--snapshot", type=common.positive_int, metavar="ID",
                        help="a snapshot id (default: the latest)")
    export.add_argument("--output", "-o", metavar="FILE", help="write here instead of standard output")
    export.set_defaults(handler=lambda a: _emit_optional(a, common.run(_export(a))))
    imp = sub.add_parser("import", parents=[parent], help="store a state file as a new run",
                         description="Store a RunState file (either SDK's format; - for stdin) as a new run: "
                         "interrupted, with the approvals it waits on, ready for `timestep approve` and "
                         "`timestep resume`; a state that waits on nothing is stored as a checkpoint to resume.")
    imp.add_argument("file", metavar="FILE")
    imp.add_argument("--run-id", metavar="RUN", type=common.stored_id, help="the new run's id (default: a random one)")
    imp.add_argument("--session", metavar="SESSION", type=common.stored_id, help="the session the run continues in")
    imp.set_defaults(handler=lambda a: common.emit(a, common.run(_import(a))))
    convert = sub.add_parser("convert", parents=[parent], help="translate a state between SDK formats",
                             description="Translate a RunState between the Python and TypeScript SDK formats; "
                             "reads stdin and writes stdout when IN or OUT is omitted (or -).")
    convert.add_argument("--to", choices=("python", "typescript"), required=True)
    convert.add_argument("input", metavar="IN", nargs="?")
    convert.add_argument("output", metavar="OUT", nargs="?")
    convert.set_defaults(handler=_convert)


def _emit_optional(args: argparse.Namespace, result: Written | None) -> None:
    if result is not None:
        common.emit(args, result)
