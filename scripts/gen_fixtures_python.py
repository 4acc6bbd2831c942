"""Write conformance/fixtures/python/<scenario>.json: each scenario run natively in the Python SDK.

Deterministic by construction: the scripted model assigns positional ids, call ids and trace ids come from
the spec, and the Python SDK writes no timestamps into a RunState. Usage: gen_fixtures_python.py [out dir]
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "conformance"))

import pyruntime


async def generate(out: Path) -> None:
    """Run every scenario to its interruption and write the state exactly as ``to_string()`` returns it."""
    out.mkdir(parents=True, exist_ok=True)
    for name, spec in pyruntime.load_scenarios().items():
        state = await pyruntime.run_to_interruption(spec)
        (out / f"{name}.json").write_text(state + "\n", encoding="utf-8")


if __name__ == "__main__":
    asyncio.run(generate(Path(sys.argv[1]) if len(sys.argv) > 1 else pyruntime.FIXTURES / "python"))
