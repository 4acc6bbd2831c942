"""Shared helpers of the conformance suite: the batched TypeScript harness and result normalization."""

from __future__ import annotations

import json
import os
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


def _node_env() -> dict[str, str]:
    """The trace id is part of what a resume must carry: tracing stays on even if the suite turns it off."""
    return {k: v for k, v in os.environ.items() if k != "OPENAI_AGENTS_DISABLE_TRACING"}


def node_json(script: str, payload: Any) -> Any:
    """Run ``conformance/js/<script>`` with ``payload`` as JSON on stdin; its JSON stdout."""
    proc = subprocess.run(
        [_require_node(), str(JS_DIR / script)],
        input=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
        capture_output=True,
        timeout=300,
        check=False,
        env=_node_env(),
    )
    if proc.returncode != 0:
        pytest.fail(f"{script} failed: {proc.stderr.decode('utf-8', 'replace')[-4000:]}")
    return json.loads(proc.stdout)


def run_js(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Resume every job in one Node process (start-up is slow); results in job order."""
    results: list[dict[str, Any]] = node_json("harness.mjs", jobs)
    assert [r["id"] for r in results] == [j["id"] for j in jobs]
    return results


def run_js_gen(out: Path) -> None:
    """Regenerate the TypeScript fixtures into ``out``."""
    node = _require_node()
    subprocess.run(
        [node, str(JS_DIR / "gen_fixtures.mjs"), str(out)],
        check=True,
        capture_output=True,
        timeout=300,
        env=_node_env(),
    )


_TRACKERS = ("tool_use_tracker", "toolUseTracker")


def normalize(value: Any) -> Any:
    """Equal-meaning encodings made equal. Each SDK spells its handoff transfer message its own way
    (``{"assistant": "x"}`` vs ``{"assistant":"x"}``; the translator carries history text unchanged), and
    their tool-use trackers differ in history (Python appends every turn's tools, TypeScript keeps the
    latest) while both only ask whether an agent has used tools."""
    if isinstance(value, dict):
        return {
            k: {agent: bool(tools) for agent, tools in v.items()} if k in _TRACKERS else normalize(v)
            for k, v in value.items()
        }
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
