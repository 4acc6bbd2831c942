"""What every command shares: the ``--store``/``--json`` options, output, progress and formatting.

A command returns a result object with ``to_dict()`` (what ``--json`` prints, nothing more) and
``render(console)`` (the tables people read). Renderers print stored values only through ``safe_text``
(``shown``, ``row``): never as markup, never with raw control characters. Nothing here imports the Agents SDK.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
from collections.abc import AsyncIterator, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager, nullcontext
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from timestep.cli.safe_text import json_text, shown

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from timestep.store import Store
    from timestep.store.store import SchemaUse

T = TypeVar("T")


class Result(Protocol):
    def to_dict(self) -> dict[str, Any]: ...

    def render(self, console: Console) -> None: ...


def common_options() -> argparse.ArgumentParser:
    """The options every command takes, as a parent parser.

    They default to SUPPRESS so that ``timestep --store X runs list`` and ``timestep runs list --store X``
    both work: a subcommand only sets what it was given.
    """
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--store", metavar="PATH_OR_URL", default=argparse.SUPPRESS,
        help="data directory or postgresql:// URL (default: TIMESTEP_DATABASE_URL, else the default data directory)",
    )
    parent.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON for scripts")
    return parent


def open_cli_store(args: argparse.Namespace) -> Store:
    from timestep.store import open_store

    return open_store(args.store)


@asynccontextmanager
async def opened_store(args: argparse.Namespace, *, schema: SchemaUse = "current") -> AsyncIterator[Store]:
    """The store, open (with a spinner while an embedded server starts), closed when the block ends. Commands
    that only read leave the schema as it is (``schema="current"``); those that write bring it up to date."""
    store = open_cli_store(args)
    starting = store.server is not None and not store.server.is_answering()
    with progress("starting the embedded store") if starting else nullcontext():
        await store.open(schema=schema)
    try:
        yield store
    finally:
        await store.close()


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, not {text!r}")
    return value


def stored_id(text: str) -> str:
    """An argparse type: an id as the store holds them (a byte that is not UTF-8 in ``argv`` arrives as a lone
    surrogate, which no stored id holds): a usage error, before anything is opened."""
    from timestep.errors import InvalidIdError
    from timestep.storable import check_id

    try:
        return check_id(text, "id")
    except InvalidIdError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def describe(store: Store) -> str:
    """Where a store is, for people: its data directory, or its URL without the password."""
    from timestep.redaction import redact_location

    return redact_location(store.location.value)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def emit(args: argparse.Namespace, result: Result) -> None:
    if args.json:
        print(json_text(json.dumps(result.to_dict(), indent=2, ensure_ascii=False)))
    else:
        result.render(stdout_console())


def stdout_console() -> Console:
    """A console that reads no markup or emoji codes in what it is given (renderers pass ``Text`` anyway)."""
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=False, markup=False, emoji=False)
    if not console.is_terminal:
        console = Console(highlight=False, soft_wrap=False, markup=False, emoji=False, width=max(console.width, 160))
    return console


def stderr_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False, markup=False, emoji=False)


@contextmanager
def progress(message: str) -> Iterator[None]:
    """A spinner on stderr while long work runs, shown only to a person at a terminal."""
    console = stderr_console()
    if not console.is_terminal:
        yield
        return
    with console.status(message):
        yield


def table(title: str | None, *columns: str) -> Table:
    from rich.table import Table

    result = Table(title=shown(title) if title else None, title_justify="left", header_style="bold", box=None,
                   pad_edge=False)
    for column in columns:
        result.add_column(column, overflow="fold")
    return result


def row(table: Table, *cells: str | Text, style: str | None = None) -> None:
    """Add a row whose text cells are shown literally (a ``Text`` cell is added as built)."""
    table.add_row(*(shown(c) if isinstance(c, str) else c for c in cells), style=style)


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def when(value: datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S") if value is not None else "-"


def dollars(value: Decimal | None) -> str:
    if value is None:
        return "unknown"
    if value == 0:
        return "$0.00"
    if value >= 1:
        return f"${value:,.2f}"
    if value < Decimal("0.000001"):
        return "<$0.000001"
    whole, _, decimals = f"{value:.6f}".partition(".")
    return f"${whole}.{decimals.rstrip('0').ljust(2, '0')}"


def money(value: Decimal | None) -> float | None:
    return None if value is None else float(round(value, 10))


def short(text: str | None, width: int = 60) -> str:
    """One line of at most ``width`` characters; other invisible characters are left for ``shown`` to escape."""
    if text is None:
        return "-"
    flat = re.sub(r"[ \t\r\n]+", " ", str(text)).strip(" ")
    return flat if len(flat) <= width else flat[: width - 1] + "…"
