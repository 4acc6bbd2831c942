"""Prices and ``timestep usage``: cached and reasoning tokens priced as billed, unknown models never $0."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from tests.cli.conftest import cli, cli_env
from timestep.durable import run_records
from timestep.durable.run_records import UsageRecord
from timestep.durable.writer import RunWriter
from timestep.errors import PriceTableError
from timestep.store import Store
from timestep.usage_cost import load_prices


def test_cost_counts_cached_input_once_and_reasoning_as_output() -> None:
    price = load_prices().lookup("openai", "gpt-4.1-mini")
    assert price is not None
    # 600k uncached at $0.40, 400k cached at $0.10, 200k output (reasoning included) at $1.60
    assert price.cost(1_000_000, 400_000, 200_000) == Decimal("0.60")
    assert price.cost(0, 0, 0) == 0
    assert price.cost(10, 50, 0) == price.cost(10, 10, 0)  # cached never exceeds input


def test_lookup_known_free_and_unknown() -> None:
    table = load_prices()
    assert table.as_of
    assert table.lookup("openai", "gpt-4o-2024-08-06") == table.lookup("openai", "gpt-4o")  # dated snapshot
    free = table.lookup("ollama", "llama3.2:latest")
    assert free is not None and free.cost(10**6, 0, 10**6) == 0
    assert table.lookup("ollama", "gpt-oss:120b-cloud") is None  # billed by Ollama's plan, not known here
    assert table.lookup("acme", "frontier-9") is None
    assert table.lookup("openai", "gpt-4.1-mini-fancy") is None
    assert table.lookup(None, None) is None
    for key in ("gpt-4.1", "gpt-4.1-mini", "gpt-4o", "gpt-4o-mini", "o3", "o4-mini", "gpt-5", "gpt-5-mini"):
        assert table.lookup("openai", key) is not None, key


def test_override_file_merges_and_bad_files_fail(tmp_path: Path) -> None:
    own = tmp_path / "prices.json"
    own.write_text(json.dumps({"as_of": "2030-01-01", "models": {
        "acme/frontier-9": {"input": 1, "output": 2},
        "openai/gpt-4.1-mini": {"input": 1, "cached_input": 0.5, "output": 3},
    }}))
    table = load_prices(own)
    acme = table.lookup("acme", "frontier-9")
    assert acme is not None and acme.cached_input == 1  # no cached price: cached input at the input price
    assert table.lookup("openai", "gpt-4.1-mini").output == 3  # type: ignore[union-attr]
    assert table.lookup("openai", "gpt-4o") is not None  # packaged entries stay
    for text, message in [("{", "not valid JSON"), ("[]", '"models" object'),
                          ('{"models": {"x/y": {"input": -1, "output": 1}}}', "non-negative number"),
                          ('{"models": {"x/y": {"input": 1}}}', "'output'")]:
        own.write_text(text)
        with pytest.raises(PriceTableError, match=message):
            load_prices(own)
    with pytest.raises(PriceTableError, match="cannot read"):
        load_prices(tmp_path / "missing.json")


async def seed_usage(store: Store) -> None:
    rows = {
        ("r1", "s1"): [UsageRecord("a", "openai", "gpt-4.1-mini", 2, 1_000_000, 200_000, 400_000, 50_000, 1_200_000),
                       UsageRecord("a", "acme", "frontier-9", 1, 1000, 100, 0, 0, 1100)],
        ("r2", "s2"): [UsageRecord("b", "ollama", "llama3.2", 1, 500, 50, 0, 0, 550)],
    }
    async with store.transaction() as conn:
        for run_id, session in rows:
            await run_records.insert_run(conn, run_id, "a", session, None, "test")
    for (run_id, _), records in rows.items():  # written as a run writes them
        writer = RunWriter(store, run_id, "test", write_behind=False)
        for record in records:
            writer.add_usage(record)
        await writer.flush()
        await writer.close()


async def test_usage_command(store: Store, store_location: str, tmp_path: Path) -> None:
    assert "No usage recorded" in cli("usage", store=store_location).stdout
    await seed_usage(store)
    report = cli("usage", "--json", store=store_location).json
    assert set(report) == {"by", "run_id", "session_id", "prices", "groups", "total"}
    costs = {g["group"]: g["cost_usd"] for g in report["groups"]}
    assert costs == {"acme/frontier-9": None, "ollama/llama3.2": 0.0, "openai/gpt-4.1-mini": 0.6}
    assert report["total"] == {
        "requests": 4, "input_tokens": 1_001_500, "cached_tokens": 400_000, "output_tokens": 200_150,
        "reasoning_tokens": 50_000, "total_tokens": 1_201_650, "cost_usd": 0.6, "cost_complete": False,
        "unpriced_models": ["acme/frontier-9"],
    }
    table = cli("usage", store=store_location).stdout
    assert "unknown" in table and "$0.60 + unknown" in table
    assert "Costs exclude models with no known price: acme/frontier-9" in table

    by_session = cli("usage", "--by", "session", "--json", store=store_location).json["groups"]
    assert [(g["group"], g["cost_usd"], g["cost_complete"]) for g in by_session] == [
        ("s1", 0.6, False), ("s2", 0.0, True)
    ]
    assert len(cli("usage", "--by", "day", "--json", store=store_location).json["groups"]) == 1
    only = cli("usage", "--run", "r2", "--json", store=store_location).json
    assert (only["run_id"], only["total"]["cost_usd"], only["total"]["cost_complete"]) == ("r2", 0.0, True)
    assert cli("usage", "--session", "s1", "--json", store=store_location).json["total"]["input_tokens"] == 1_001_000

    own = tmp_path / "prices.json"
    own.write_text(json.dumps({"models": {"acme/frontier-9": {"input": 1000, "output": 1000}}}))
    priced = cli("usage", "--json", store=store_location, env=cli_env(TIMESTEP_PRICES=str(own))).json["total"]
    assert (priced["cost_usd"], priced["cost_complete"]) == (pytest.approx(1.7), True)

    own.write_text("{not json")
    bad = cli("usage", store=store_location, env=cli_env(TIMESTEP_PRICES=str(own)))
    assert bad.code == 1 and "TIMESTEP_PRICES" in bad.stderr and "not valid JSON" in bad.stderr
    for args, code, message in [(("--run", "nope"), 1, "no run 'nope'"), (("--session", "nope"), 1, "no session"),
                                (("--run", "r1", "--session", "s1"), 2, "not allowed with"),
                                (("--by", "hour"), 2, "invalid choice")]:
        outcome = cli("usage", *args, store=store_location)
        assert outcome.code == code and message in outcome.stderr, (args, outcome)


async def test_a_run_that_used_no_model_costs_nothing(store: Store, store_location: str) -> None:
    """No usage at all is $0.00; only usage of a model without a price is unknown."""
    async with store.transaction() as conn:
        await run_records.insert_run(conn, "idle", "a", None, None, "test")
    shown = cli("runs", "show", "idle", store=store_location)
    assert shown.code == 0 and "0 requests" in shown.stdout and "cost $0.00" in shown.stdout
    assert cli("runs", "show", "idle", "--json", store=store_location).json["usage"]["cost_usd"] == 0.0
