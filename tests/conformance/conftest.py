"""Shared helpers of the conformance suite: the batched TypeScript harness and result normalization."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pyruntime import FIXTURES, ROOT, load_scenarios

JS_DIR = ROOT / "conformance" / "js"
TRANSFER_PREFIX = '{"assistant":'


def _require_node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js is required by the conformance suite (install Node 20+)")
    if not (JS_DIR / "node_modules" / "@openai" / "agents").is_dir():
        pytest.fail("conformance/js/node_modules is missing: run `npm ci --prefix conformance/js`")
    return node


def run_js(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Resume every job in one Node process (start-up dominates); results in job order."""
    node = _require_node()
    proc = subprocess.run(
        [node, str(JS_DIR / "harness.mjs")],
        input=json.dumps(jobs, ensure_ascii=False).encode("utf-8"),
        capture_output=True,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f"TypeScript harness failed: {proc.stderr.decode('utf-8', 'replace')[-4000:]}")
    results: list[dict[str, Any]] = json.loads(proc.stdout)
    assert [r["id"] for r in results] == [j["id"] for j in jobs]
    return results


def run_js_gen(out: Path) -> None:
    """Regenerate the TypeScript fixtures into ``out``."""
    node = _require_node()
    subprocess.run(
        [node, str(JS_DIR / "gen_fixtures.mjs"), str(out)], check=True, capture_output=True, timeout=300
    )


def normalize(value: Any) -> Any:
    """Equal-meaning encodings made equal: each SDK spells its handoff transfer message its own way
    (``{"assistant": "x"}`` vs ``{"assistant":"x"}``); the translator carries history text unchanged."""
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize(v) for v in value]
    if isinstance(value, str) and value.replace(" ", "").startswith(TRANSFER_PREFIX):
        try:
            return json.dumps(json.loads(value), separators=(",", ":"), ensure_ascii=False)
        except ValueError:
            return value
    return value


def drop_descriptions(state: dict[str, Any]) -> dict[str, Any]:
    """Python copies each tool's description into its tool call items; TypeScript keeps none, so only the
    descriptions of tools in the pending response survive a trip through TypeScript."""
    for key in ("generated_items", "session_items"):
        for item in state.get(key, []):
            item.pop("description", None)
    for item in (state.get("last_processed_response") or {}).get("new_items", []):
        item.pop("description", None)
    return state


@pytest.fixture(scope="session")
def scenarios() -> dict[str, dict[str, Any]]:
    return load_scenarios()


@pytest.fixture(scope="session")
def fixture_text() -> Callable[[str, str], str]:
    def read(language: str, name: str) -> str:
        return (FIXTURES / language / f"{name}.json").read_text("utf-8")

    return read
