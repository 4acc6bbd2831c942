"""``timestep runs list|show``, ``timestep approve`` and ``timestep reject``: fast, without the Agents SDK."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from timestep.cli import common
from timestep.cli.items import ItemSummary, summarize_items
from timestep.cli.queries import list_runs, usage_groups
from timestep.cli.safe_text import shown
from timestep.cli.usage import UsageTotal, price_groups, render_footnotes
from timestep.durable import run_records
from timestep.durable.statuses import RunStatus
from timestep.usage_cost import PriceTable, load_prices

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

    from timestep.store import Store



def listing_dict(run: run_records.Run, pending_approvals: int) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "agent": run.agent_name,
        "status": run.status,
        "session_id": run.session_id,
        "language": run.language,
        "pending_approvals": pending_approvals,
        "created_at": common.iso(run.created_at),
        "updated_at": common.iso(run.updated_at),
    }


@dataclass
class RunList:
    runs: list[tuple[run_records.Run, int]]  # with how many calls wait for approval

    def to_dict(self) -> dict[str, Any]:
        return {"runs": [listing_dict(r, pending) for r, pending in self.runs]}

    def render(self, console: Console) -> None:
        if not self.runs:
            console.print("No runs.")
            return
        table = common.table(None, "RUN", "STATUS", "AGENT", "SESSION", "PENDING", "UPDATED")
        for r, pending in self.runs:
            common.row(table, r.run_id, r.status, r.agent_name, r.session_id or "-", str(pending or "-"),
                       common.when(r.updated_at))
        console.print(table)


def call_dict(call: run_records.ToolCallRow) -> dict[str, Any]:
    return {
        "call_id": call.call_id,
        "tool": call.tool_name,
        "agent": call.agent_name,
        "arguments": call.arguments,
        "output": call.output,
        "status": call.status,
        "needs_approval": call.needs_approval,
        "decision": call.decision,
        "decided_by": call.decided_by,
        "decided_at": common.iso(call.decided_at),
        "decision_message": call.decision_message,
    }


def snapshot_dict(snapshot: run_records.SnapshotInfo) -> dict[str, Any]:
    return {
        "id": snapshot.id,
        "kind": snapshot.kind,
        "language": snapshot.language,
        "sdk_version": snapshot.sdk_version,
        "schema_version": snapshot.schema_version,
        "size_bytes": snapshot.size_bytes,
        "created_at": common.iso(snapshot.created_at),
    }


@dataclass
class RunShow:
    run: run_records.Run
    items: list[ItemSummary]
    calls: list[run_records.ToolCallRow]
    snapshots: list[run_records.SnapshotInfo]
    usage: UsageTotal
    prices: PriceTable

    @property
    def pending(self) -> list[run_records.ToolCallRow]:
        return [c for c in self.calls if c.status == "pending_approval"]

    def to_dict(self) -> dict[str, Any]:
        r = self.run
        return {
            "run_id": r.run_id,
            "agent": r.agent_name,
            "status": r.status,
            "session_id": r.session_id,
            "language": r.language,
            "owner": r.owner,
            "error": r.error,
            "input": r.input_json,
            "final_output": r.final_output_json,
            "created_at": common.iso(r.created_at),
            "updated_at": common.iso(r.updated_at),
            "finished_at": common.iso(r.finished_at),
            "items": [i.to_dict() for i in self.items],
            "tool_calls": [call_dict(c) for c in self.calls],
            "pending_approvals": [c.call_id for c in self.pending],
            "snapshots": [snapshot_dict(s) for s in self.snapshots],
            "usage": self.usage.to_dict(),
        }

    def render(self, console: Console) -> None:
        r = self.run
        console.print(shown((f"Run {r.run_id}", "bold"), f"  {r.status}  agent {r.agent_name}  session "
                            f"{r.session_id or '-'}"))
        console.print(f"created {common.when(r.created_at)}, updated {common.when(r.updated_at)}"
                      + (f", finished {common.when(r.finished_at)}" if r.finished_at else ""))
        if r.error:
            console.print(shown(("error:", "red"), f" {r.error}"))
        if r.final_output_json is not None:
            console.print(shown(f"final output: {common.short(r.final_output_json, 200)}"))
        items = common.table(f"Items ({len(self.items)}, from the latest snapshot)", "#", "KIND", "AGENT", "TEXT")
        for item in self.items:
            common.row(items, str(item.index), item.kind, item.agent or "-", common.short(item.text, 90))
        console.print(items)
        calls = common.table(f"Tool calls ({len(self.calls)})", "CALL", "TOOL", "STATUS", "ARGUMENTS", "DECISION")
        for c in self.calls:
            decision = f"{c.decision} by {c.decided_by}" if c.decision else ("awaiting approval" if c.status ==
                                                                              "pending_approval" else "-")
            if c.decision_message:  # what the model was told instead of the tool's output
                decision += f": {c.decision_message}"
            common.row(calls, c.call_id, c.tool_name, c.status, arguments_cell(c.arguments), decision)
        console.print(calls)
        snaps = common.table(f"Snapshots ({len(self.snapshots)})", "ID", "KIND", "LANGUAGE", "SCHEMA", "BYTES",
                             "CREATED")
        for s in self.snapshots:
            common.row(snaps, str(s.id), s.kind, s.language, s.schema_version, f"{s.size_bytes:,}",
                       common.when(s.created_at))
        console.print(snaps)
        u = self.usage
        console.print(f"Usage: {u.tokens('requests')} requests, {u.tokens('input_tokens'):,} input "
                      f"({u.tokens('cached_tokens'):,} cached), {u.tokens('output_tokens'):,} output "
                      f"({u.tokens('reasoning_tokens'):,} reasoning) tokens, cost {u.cost_text()}")
        if u.models:
            render_footnotes(console, u, self.prices)
        if self.pending:
            console.print(shown(f"Waiting for approval: {', '.join(c.call_id for c in self.pending)}. "
                                f"Decide with `timestep approve {r.run_id}` or `timestep reject {r.run_id} CALL`."))


def arguments_cell(arguments: str | None) -> Text:
    """A tool call's arguments in full, then a warning for each key its JSON object repeats."""
    cell = shown(arguments if arguments is not None else "-")
    for key, kept in duplicate_keys(arguments or ""):
        cell.append_text(shown((f"\nduplicate key {key!r}: the tool receives the last value, "
                                f"{json.dumps(kept, ensure_ascii=False)}", "bold red")))
    return cell


def duplicate_keys(arguments: str) -> list[tuple[str, Any]]:
    """(key, value kept) for each key repeated within a JSON object of ``arguments``.

    The SDK decodes function tool arguments with ``json.loads``, which keeps the last of repeated keys, so
    arguments can show one value first and hand the tool another.
    """
    found: list[tuple[str, Any]] = []

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result = dict(pairs)
        if len(result) < len(pairs):
            counts = Counter(k for k, _ in pairs)
            found.extend((k, result[k]) for k in result if counts[k] > 1)
        return result

    try:
        json.loads(arguments, object_pairs_hook=pairs_hook)
    except ValueError:
        return []
    return found


@dataclass
class Decision:
    run_id: str
    decision: str
    call_ids: list[str]
    by: str | None  # as recorded: the current user when --by was not given
    message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "decision": self.decision, "call_ids": self.call_ids, "by": self.by,
                "message": self.message}

    def render(self, console: Console) -> None:
        console.print(shown(f"{self.decision.capitalize()} {', '.join(self.call_ids)} of run {self.run_id}."))
        console.print(shown(f"Resume it with `timestep resume {self.run_id} --agent module:attribute` "
                            "(or resume_run in your app) once every pending call is decided."))


async def _show(args: argparse.Namespace) -> RunShow:
    prices = load_prices()
    async with common.opened_store(args) as store, store.connection() as conn:
        run = await run_records.require_run(conn, args.run)
        calls = await run_records.list_tool_calls(conn, args.run)
        snapshots = await run_records.list_snapshots(conn, args.run)
        usage = await usage_groups(conn, by="run", run_id=args.run, session_id=None)
        with common.progress("reading the latest snapshot"):
            latest = await run_records.latest_snapshot(conn, args.run)
            state = latest[1] if latest else None
    models = [m for g in price_groups(usage, prices, by="run") for m in g.models]
    return RunShow(run, summarize_items(state), calls, snapshots, UsageTotal(None, models), prices)


async def _list(args: argparse.Namespace) -> RunList:
    async with common.opened_store(args) as store, store.connection() as conn:
        return RunList(await list_runs(conn, status=args.status, session_id=args.session, limit=args.limit))


async def _approve(args: argparse.Namespace) -> Decision:
    from timestep.approvals import approve

    async with common.opened_store(args, schema="migrate") as store:
        approved: list[str] = []
        if not args.calls:
            approved = await approve(args.run, by=args.by, store=store)
        else:
            async with store.connection() as conn:
                calls = {c.call_id: c for c in await run_records.list_tool_calls(conn, args.run)}
            # Calls that cannot be approved go first: the first of them fails before anything is written.
            order = sorted(dict.fromkeys(args.calls),
                           key=lambda c: c in calls and calls[c].status == "pending_approval")
            for call_id in order:
                approved += await approve(args.run, call_id, by=args.by, store=store)
        return Decision(args.run, "approved", approved, await _decided_by(store, args.run, approved[0]))


async def _reject(args: argparse.Namespace) -> Decision:
    from timestep.approvals import reject

    async with common.opened_store(args, schema="migrate") as store:
        await reject(args.run, args.call, message=args.message, by=args.by, store=store)
        by = await _decided_by(store, args.run, args.call)
    return Decision(args.run, "rejected", [args.call], by, args.message)


async def _decided_by(store: Store, run_id: str, call_id: str) -> str | None:
    """Who the decision was recorded for (the current user when --by was not given)."""
    async with store.connection() as conn:
        calls = await run_records.list_tool_calls(conn, run_id)
    return next((c.decided_by for c in calls if c.call_id == call_id), None)


def register(commands: Any, parent: argparse.ArgumentParser) -> None:
    runs = commands.add_parser("runs", help="list and inspect runs", description="List and inspect runs.")
    sub = runs.add_subparsers(dest="runs_command", required=True, metavar="{list,show}")
    listing = sub.add_parser("list", parents=[parent], help="runs, newest first",
                             description="Runs, newest first, with their pending approvals.")
    listing.add_argument("--status", choices=[status.value for status in RunStatus], help="only runs with this status")
    listing.add_argument("--session", metavar="SESSION", type=common.stored_id, help="only runs of this session")
    listing.add_argument("--limit", type=common.positive_int, default=100, help="at most this many runs (default 100)")
    listing.set_defaults(handler=lambda a: common.emit(a, common.run(_list(a))))
    show = sub.add_parser("show", parents=[parent], help="one run in detail",
                          description="A run: status, agent, items, tool calls, pending approvals, snapshots, usage.")
    show.add_argument("run", metavar="RUN", type=common.stored_id)
    show.set_defaults(handler=lambda a: common.emit(a, common.run(_show(a))))

    approve = commands.add_parser(
        "approve", parents=[parent], help="approve pending tool calls of a run",
        description="Approve tool calls a run waits on: the given CALLs, or every pending call when none is "
        "given (or with --all). Nothing is written unless every given call can be approved.",
    )
    approve.add_argument("run", metavar="RUN", type=common.stored_id)
    approve.add_argument(
        "calls", metavar="CALL", nargs="*", type=common.stored_id, help="call ids (default: every pending call)"
    )
    approve.add_argument("--all", action="store_true", help="approve every pending call")
    approve.add_argument("--by", metavar="NAME", help="who decided (default: the current user)")
    approve.set_defaults(handler=_approve_handler, parser=approve)

    reject = commands.add_parser(
        "reject", parents=[parent], help="reject a pending tool call of a run",
        description="Reject a tool call a run waits on; the model is told MESSAGE instead of the tool's output.",
    )
    reject.add_argument("run", metavar="RUN", type=common.stored_id)
    reject.add_argument("call", metavar="CALL", type=common.stored_id)
    reject.add_argument("--message", metavar="TEXT", help="what the model is told instead of the tool's output")
    reject.add_argument("--by", metavar="NAME", help="who decided (default: the current user)")
    reject.set_defaults(handler=lambda a: common.emit(a, common.run(_reject(a))))


def _approve_handler(args: argparse.Namespace) -> None:
    if args.all and args.calls:
        args.parser.error("give CALL ids or --all, not both")
    common.emit(args, common.run(_approve(args)))
