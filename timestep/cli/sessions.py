"""``timestep sessions list|show|clear``: conversation histories kept in the store."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from timestep.cli import common
from timestep.cli.items import ItemSummary, item_text
from timestep.cli.queries import require_session, session_runs
from timestep.cli.safe_text import escaped, shown
from timestep.errors import ConfigurationError
from timestep.session import SessionInfo, TimestepSession

if TYPE_CHECKING:
    from rich.console import Console


def _session_dict(info: SessionInfo) -> dict[str, Any]:
    return {
        "session_id": info.session_id,
        "items": info.item_count,
        "created_at": common.iso(info.created_at),
        "updated_at": common.iso(info.updated_at),
    }


@dataclass
class SessionList:
    sessions: list[SessionInfo]

    def to_dict(self) -> dict[str, Any]:
        return {"sessions": [_session_dict(s) for s in self.sessions]}

    def render(self, console: Console) -> None:
        if not self.sessions:
            console.print("No sessions.")
            return
        table = common.table(None, "SESSION", "ITEMS", "CREATED", "UPDATED")
        for s in self.sessions:
            common.row(table, s.session_id, str(s.item_count), common.when(s.created_at), common.when(s.updated_at))
        console.print(table)


@dataclass
class SessionShow:
    session_id: str
    total: int
    items: list[ItemSummary]
    raw_items: list[dict[str, Any]]
    runs: list[tuple[str, str, datetime]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "item_count": self.total,
            "items": self.raw_items,
            "runs": [{"run_id": r, "status": s, "created_at": common.iso(c)} for r, s, c in self.runs],
        }

    def render(self, console: Console) -> None:
        shown = f"last {len(self.items)} of {self.total}" if len(self.items) < self.total else str(self.total)
        table = common.table(f"Session {self.session_id}: {shown} items", "#", "TEXT")
        first = self.total - len(self.items)
        for item in self.items:
            common.row(table, str(first + item.index), common.short(item.text, 110))
        console.print(table)
        if self.runs:
            runs = common.table(f"Runs ({len(self.runs)})", "RUN", "STATUS", "CREATED")
            for run_id, status, created in self.runs:
                common.row(runs, run_id, status, common.when(created))
            console.print(runs)


@dataclass
class SessionCleared:
    session_id: str
    removed: int

    def to_dict(self) -> dict[str, Any]:
        return {"session_id": self.session_id, "removed_items": self.removed}

    def render(self, console: Console) -> None:
        console.print(shown(f"Cleared session {self.session_id}: {self.removed} items removed."))


async def _list(args: argparse.Namespace) -> SessionList:
    async with common.opened_store(args) as store:
        return SessionList(await TimestepSession.list_sessions(store))


async def _show(args: argparse.Namespace) -> SessionShow:
    async with common.opened_store(args) as store:
        async with store.connection() as conn:
            await require_session(conn, args.session)
            runs = await session_runs(conn, args.session)
        session = TimestepSession(args.session, store=store)
        total = await session.count()
        raw = [dict(i) for i in await session.get_items(args.limit)]
    items = [ItemSummary(n, "item", None, item_text(i)) for n, i in enumerate(raw)]
    return SessionShow(args.session, total, items, raw, runs)


async def _clear(args: argparse.Namespace) -> SessionCleared:
    async with common.opened_store(args, schema="migrate") as store:
        async with store.connection() as conn:
            await require_session(conn, args.session)
        session = TimestepSession(args.session, store=store)
        count = await session.count()
        if not args.yes:
            if not sys.stdin.isatty():
                raise ConfigurationError(
                    f"clearing session {args.session} deletes its {count} items; pass --yes to confirm"
                )
            answer = input(f"Delete the {count} items of session {escaped(args.session)}? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                raise ConfigurationError("not cleared: the deletion was not confirmed")
        await session.clear_session()
    return SessionCleared(args.session, count)


def register(commands: Any, parent: argparse.ArgumentParser) -> None:
    sessions = commands.add_parser("sessions", help="list, show and clear sessions",
                                   description="Conversation histories kept in the store.")
    sub = sessions.add_subparsers(dest="sessions_command", required=True, metavar="{list,show,clear}")
    listing = sub.add_parser("list", parents=[parent], help="every session, most recently written first",
                             description="Every session, most recently written first.")
    listing.set_defaults(handler=lambda a: common.emit(a, common.run(_list(a))))
    show = sub.add_parser("show", parents=[parent], help="a session's items and runs",
                          description="A session's items (all, or the last --limit) and the runs that used it.")
    show.add_argument("session", metavar="SESSION", type=common.stored_id)
    show.add_argument("--limit", type=common.positive_int, default=None, help="only the last N items")
    show.set_defaults(handler=lambda a: common.emit(a, common.run(_show(a))))
    clear = sub.add_parser("clear", parents=[parent], help="delete a session's items",
                           description="Delete a session's items (its runs are kept). Asks for confirmation "
                           "at a terminal; scripts pass --yes.")
    clear.add_argument("session", metavar="SESSION", type=common.stored_id)
    clear.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    clear.set_defaults(handler=lambda a: common.emit(a, common.run(_clear(a))))
