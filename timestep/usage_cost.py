"""What recorded token usage cost in US dollars, from a price table.

The table ships with the package (``timestep/data/prices.json``) and can be overridden entry by entry with a
file of the same shape named by ``TIMESTEP_PRICES``. Prices are per million tokens. Cached input tokens are a
subset of the input tokens and are charged at the cached rate; reasoning tokens are part of the output tokens
(that is how OpenAI counts and bills them). A model the table does not price is *unknown*: its cost is
``None``, never zero, and totals say which models they leave out.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from decimal import Decimal
from fnmatch import fnmatchcase
from importlib import resources
from pathlib import Path
from typing import Any

from timestep import config
from timestep.errors import PriceTableError

__all__ = ["Price", "PriceTable", "load_prices", "model_key"]

_MILLION = Decimal(1_000_000)
_DATED = re.compile(r"-\d{4}-\d{2}-\d{2}$")  # gpt-4o-2024-08-06 is priced as gpt-4o


@dataclass(frozen=True)
class Price:
    """USD per million tokens for one model (or pattern of models)."""

    key: str
    input: Decimal
    cached_input: Decimal
    output: Decimal
    note: str | None = None

    def cost(self, input_tokens: int, cached_tokens: int, output_tokens: int) -> Decimal:
        """(input - cached) at the input rate, cached at the cached rate, output (with reasoning) at the output rate."""
        cached = min(max(cached_tokens, 0), max(input_tokens, 0))
        uncached = max(input_tokens, 0) - cached
        return (uncached * self.input + cached * self.cached_input + max(output_tokens, 0) * self.output) / _MILLION

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "input": float(self.input),
            "cached_input": float(self.cached_input),
            "output": float(self.output),
            "note": self.note,
        }


@dataclass(frozen=True)
class PriceTable:
    """Prices by ``provider/model`` key or pattern; ``None`` entries are deliberately unknown."""

    entries: dict[str, Price | None]
    as_of: str | None
    sources: tuple[str, ...]

    def lookup(self, provider: str | None, model: str | None) -> Price | None:
        """The price of a recorded model, or None when it is unknown."""
        name = model_key(provider, model)
        for candidate in (name, _DATED.sub("", name)):
            if candidate in self.entries:
                return self.entries[candidate]
        patterns = sorted((k for k in self.entries if "*" in k), key=len, reverse=True)
        for pattern in patterns:
            if fnmatchcase(name, pattern):
                return self.entries[pattern]
        return None


def model_key(provider: str | None, model: str | None) -> str:
    """How a usage row's provider and model are named in the price table."""
    return f"{provider or '?'}/{model or ''}"


def load_prices(override: str | os.PathLike[str] | None = None) -> PriceTable:
    """The packaged table with ``override`` (else ``TIMESTEP_PRICES``, if set) merged over it."""
    packaged = resources.files("timestep").joinpath("data/prices.json").read_text(encoding="utf-8")
    base = _parse(packaged, "the packaged price table")
    path = override if override is not None else config.prices_file()
    if path is None:
        return base
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PriceTableError(f"cannot read the price table {path} (TIMESTEP_PRICES): {exc}") from exc
    user = _parse(text, f"the price table {path} (TIMESTEP_PRICES)")
    return PriceTable(
        {**base.entries, **user.entries},
        user.as_of or base.as_of,
        (*user.sources, *base.sources),
    )


def _parse(text: str, where: str) -> PriceTable:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PriceTableError(f"{where} is not valid JSON: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("models"), dict):
        raise PriceTableError(f'{where} must be a JSON object with a "models" object of "provider/model" entries')
    entries: dict[str, Price | None] = {}
    for key, value in document["models"].items():
        entries[key] = None if value is None else _price(key, value, where)
    sources = document.get("sources") or {}
    listed = tuple(f"{k}: {v}" for k, v in sources.items()) if isinstance(sources, dict) else ()
    as_of = document.get("as_of")
    return PriceTable(entries, str(as_of) if as_of else None, listed)


def _price(key: str, value: Any, where: str) -> Price:
    if not isinstance(value, dict):
        raise PriceTableError(f"{where}: {key!r} must be an object with input, cached_input, output (or null)")
    amounts: dict[str, Decimal] = {}
    for field in ("input", "cached_input", "output"):
        raw = value.get(field, value.get("input") if field == "cached_input" else None)
        if isinstance(raw, bool) or not isinstance(raw, int | float) or raw < 0:
            raise PriceTableError(
                f"{where}: {key!r} needs {field!r} as a non-negative number of USD per 1M tokens, not {raw!r}"
            )
        amounts[field] = Decimal(str(raw))
    note = value.get("note")
    return Price(key, amounts["input"], amounts["cached_input"], amounts["output"], str(note) if note else None)
