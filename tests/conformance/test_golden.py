"""Both fixture generators are deterministic: regenerating yields the committed bytes."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from conftest import run_js_gen
from pyruntime import FIXTURES, ROOT, load_scenarios

sys.path.insert(0, str(ROOT / "scripts"))
import gen_fixtures_python


def _same_files(generated: Path, committed: Path) -> None:
    names = sorted(p.name for p in committed.glob("*.json"))
    assert sorted(p.name for p in generated.glob("*.json")) == names
    assert names == sorted(f"{name}.json" for name in load_scenarios())
    for name in names:
        assert (generated / name).read_bytes() == (committed / name).read_bytes(), name


def test_python_fixtures_regenerate_byte_identical(tmp_path: Path) -> None:
    asyncio.run(gen_fixtures_python.generate(tmp_path))
    _same_files(tmp_path, FIXTURES / "python")


def test_typescript_fixtures_regenerate_byte_identical(tmp_path: Path) -> None:
    run_js_gen(tmp_path)
    _same_files(tmp_path, FIXTURES / "typescript")


@pytest.mark.parametrize("language", ["python", "typescript"])
def test_every_scenario_has_a_fixture(language: str) -> None:
    assert {p.stem for p in (FIXTURES / language).glob("*.json")} == set(load_scenarios())
