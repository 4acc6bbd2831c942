"""timestep: durable, resumable runs for the OpenAI Agents SDK on an embedded PostgreSQL.

Names are imported on first use, so that ``import timestep`` (and the command line) stays fast: the Agents
SDK alone takes over a second to import.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "run_agent": "timestep.runs",
    "resume_run": "timestep.runs",
    "recover": "timestep.recovery",
    "recover_orphaned_runs": "timestep.recovery",
    "idempotency_key": "timestep.durable.replay",
    "consume_result": "timestep.results",
    "TimestepRunResult": "timestep.results",
    "TimestepStreamingResult": "timestep.results",
    "approve": "timestep.approvals",
    "reject": "timestep.approvals",
    "RunStateStore": "timestep.run_state_store",
    "TimestepSession": "timestep.session",
    "open_store": "timestep.store",
    "default_store": "timestep.store",
    "Store": "timestep.store",
    "MultiModelProvider": "timestep.models",
    "MultiModelProviderMap": "timestep.models",
    "OllamaModelProvider": "timestep.models",
    "TimestepError": "timestep.errors",
}
__all__ = [
    "MultiModelProvider",
    "MultiModelProviderMap",
    "OllamaModelProvider",
    "RunStateStore",
    "Store",
    "TimestepError",
    "TimestepRunResult",
    "TimestepSession",
    "TimestepStreamingResult",
    "approve",
    "consume_result",
    "default_store",
    "idempotency_key",
    "open_store",
    "recover",
    "recover_orphaned_runs",
    "reject",
    "resume_run",
    "run_agent",
]

if TYPE_CHECKING:
    from timestep.approvals import approve, reject
    from timestep.durable.replay import idempotency_key
    from timestep.errors import TimestepError
    from timestep.models import MultiModelProvider, MultiModelProviderMap, OllamaModelProvider
    from timestep.recovery import recover, recover_orphaned_runs
    from timestep.results import TimestepRunResult, TimestepStreamingResult, consume_result
    from timestep.run_state_store import RunStateStore
    from timestep.runs import resume_run, run_agent
    from timestep.session import TimestepSession
    from timestep.store import Store, default_store, open_store


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'timestep' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
