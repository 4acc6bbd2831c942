"""``timestep usage``: tokens and their cost in US dollars, by model, day, session or run."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from timestep.cli import common
from timestep.cli.queries import UsageGroup, UsageGrouping, require_session, usage_groups
from timestep.cli.safe_text import shown
from timestep.durable import run_records
from timestep.usage_cost import Price, PriceTable, load_prices, model_key

if TYPE_CHECKING:
    from rich.console import Console

_TOKENS = ("requests", "input_tokens", "cached_tokens", "output_tokens", "reasoning_tokens", "total_tokens")


@dataclass(frozen=True)
class PricedModel:
    usage: UsageGroup
    price: Price | None

    @property
    def key(self) -> str:
        """The model's name as the price table knows it: provider/model, or the provider alone."""
        return model_key(self.usage.provider, self.usage.model).removesuffix("/")

    @property
    def cost(self) -> Decimal | None:
        if self.price is None:
            return None
        u = self.usage
        return self.price.cost(u.input_tokens, u.cached_tokens, u.output_tokens)

    def to_dict(self) -> dict[str, Any]:
        return {
            "provider": self.usage.provider,
            "model": self.usage.model,
            **{name: getattr(self.usage, name) for name in _TOKENS},
            "cost_usd": common.money(self.cost),
            "price": self.price.to_dict() if self.price else None,
        }


@dataclass
class UsageTotal:
    """Tokens and cost of several models together; the cost leaves out (and names) unpriced models."""

    group: str | None
    models: list[PricedModel] = field(default_factory=list)

    def tokens(self, name: str) -> int:
        return sum(getattr(m.usage, name) for m in self.models)

    @property
    def unpriced(self) -> list[str]:
        return sorted({m.key for m in self.models if m.price is None})

    @property
    def cost(self) -> Decimal | None:
        """The cost of the priced models; nothing used costs nothing, only unpriced use is unknown."""
        costs = [c for c in (m.cost for m in self.models) if c is not None]
        return sum(costs, Decimal(0)) if costs or not self.models else None

    def cost_text(self) -> str:
        if self.cost is None:
            return "unknown"
        return common.dollars(self.cost) + (" + unknown" if self.unpriced else "")

    def to_dict(self, *, with_models: bool = True) -> dict[str, Any]:
        result: dict[str, Any] = {} if self.group is None and not with_models else {"group": self.group}
        result.update({name: self.tokens(name) for name in _TOKENS})
        result.update({
            "cost_usd": common.money(self.cost),
            "cost_complete": not self.unpriced,
            "unpriced_models": self.unpriced,
        })
        if with_models:
            result["models"] = [m.to_dict() for m in self.models]
        return result


@dataclass
class UsageReport:
    by: str
    run_id: str | None
    session_id: str | None
    prices: PriceTable
    groups: list[UsageTotal]

    @property
    def total(self) -> UsageTotal:
        return UsageTotal(None, [m for g in self.groups for m in g.models])

    def to_dict(self) -> dict[str, Any]:
        return {
            "by": self.by,
            "run_id": self.run_id,
            "session_id": self.session_id,
            "prices": {"as_of": self.prices.as_of, "sources": list(self.prices.sources)},
            "groups": [g.to_dict() for g in self.groups],
            "total": self.total.to_dict(with_models=False),
        }

    def render(self, console: Console) -> None:
        scope = f" of run {self.run_id}" if self.run_id else f" of session {self.session_id}" if self.session_id else ""
        if not self.groups:
            console.print(shown(f"No usage recorded{scope}."))
            return
        table = common.table(f"Usage{scope} by {self.by}", self.by.upper(), "REQUESTS", "INPUT", "CACHED",
                             "OUTPUT", "REASONING", "COST (USD)")
        for name in ("REQUESTS", "INPUT", "CACHED", "OUTPUT", "REASONING", "COST (USD)"):
            table.columns[[c.header for c in table.columns].index(name)].justify = "right"
        for group in [*self.groups, self.total]:
            label = group.group if group.group is not None else "total"
            if self.by != "model" and group.group is not None:
                label = f"{label} ({', '.join(sorted({m.key for m in group.models}))})"
            common.row(table, label, *(f"{group.tokens(n):,}" for n in _TOKENS[:5]), group.cost_text(),
                       style="bold" if group.group is None else None)
        console.print(table)
        render_footnotes(console, self.total, self.prices)


def render_footnotes(console: Console, total: UsageTotal, prices: PriceTable) -> None:
    if total.unpriced:
        console.print(shown(
            f"Costs exclude models with no known price: {', '.join(total.unpriced)}. "
            "Add them to a price file named by TIMESTEP_PRICES."
        ))
    console.print(shown(
        f"Prices in USD per 1M tokens as of {prices.as_of or 'unknown'}; cached input at its own rate, "
        "reasoning tokens as output.",
    ), style="dim")


def price_groups(rows: Sequence[UsageGroup], prices: PriceTable, *, by: str) -> list[UsageTotal]:
    groups: dict[str | None, UsageTotal] = {}
    for row in rows:
        priced = PricedModel(row, prices.lookup(row.provider, row.model))
        key = priced.key if by == "model" else (row.group if row.group is not None else "(none)")
        groups.setdefault(key, UsageTotal(key)).models.append(priced)
    return list(groups.values())


async def usage_report(
    args: argparse.Namespace, *, by: UsageGrouping, run_id: str | None, session_id: str | None
) -> UsageReport:
    prices = load_prices()  # a bad TIMESTEP_PRICES fails before the store is opened
    async with common.opened_store(args) as store, store.connection() as conn:
        if run_id is not None:
            await run_records.require_run(conn, run_id)
        if session_id is not None:
            await require_session(conn, session_id)
        rows = await usage_groups(conn, by=by, run_id=run_id, session_id=session_id)
    return UsageReport(by, run_id, session_id, prices, price_groups(rows, prices, by=by))


def _usage(args: argparse.Namespace) -> None:
    report = common.run(usage_report(args, by=args.by, run_id=args.run, session_id=args.session))
    common.emit(args, report)


def register(commands: Any, parent: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "usage", parents=[parent], help="tokens and cost in US dollars",
        description="Token usage and its cost in US dollars, from the packaged price table merged with the "
        "file named by TIMESTEP_PRICES. Models without a known price show as unknown, never as zero.",
    )
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("--run", metavar="RUN", type=common.stored_id, help="only this run")
    scope.add_argument("--session", metavar="SESSION", type=common.stored_id, help="only the runs of this session")
    parser.add_argument("--by", choices=("model", "day", "session", "run"), default="model",
                        help="how to group (default: model; days are UTC)")
    parser.set_defaults(handler=_usage)
