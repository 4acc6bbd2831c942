"""``timestep resume RUN --agent module:attribute``: import the app's agent graph and resume a run.

This is the one command that imports the Agents SDK (through the user's module and ``timestep.runs``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from timestep.cli import common
from timestep.cli.safe_text import shown
from timestep.errors import AgentLoadError

if TYPE_CHECKING:
    from rich.console import Console


def _failure(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"SystemExit (exit code {exc.code!r}): it tried to end the process, as sys.exit() does"
    return f"{type(exc).__name__}: {exc}"


def load_agent(path: str) -> Any:
    """The ``Agent`` named by ``module:attribute`` (the attribute may be dotted, or a zero-argument callable
    returning the agent), importing the module with the current directory on ``sys.path``.

    Whatever the user's code raises, ``SystemExit`` included, becomes an ``AgentLoadError``; only Ctrl-C
    (``KeyboardInterrupt``) passes through, to be reported as an interruption.
    """
    module_name, sep, attribute = path.partition(":")
    if not sep or not module_name or not attribute:
        raise AgentLoadError(f"--agent {path!r} must be module:attribute, e.g. myapp.agents:triage_agent")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise AgentLoadError(
                f"cannot import module {module_name!r} (from --agent {path}): no module named {exc.name!r}; run "
                "timestep from the directory that holds it, or install the package that provides it"
            ) from exc
        raise AgentLoadError(f"importing module {module_name!r} (from --agent {path}) failed: {exc}") from exc
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        raise AgentLoadError(
            f"importing module {module_name!r} (from --agent {path}) failed: {_failure(exc)}"
        ) from exc
    target: Any = module
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError as exc:
            raise AgentLoadError(
                f"module {module_name!r} has no attribute {attribute!r} (from --agent {path})"
            ) from exc
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            raise AgentLoadError(f"reading {attribute!r} of module {module_name!r} failed: {_failure(exc)}") from exc
    from agents import Agent

    if not isinstance(target, Agent) and callable(target):
        try:
            target = target()
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            raise AgentLoadError(f"calling {path} to build the agent failed: {_failure(exc)}") from exc
    if not isinstance(target, Agent):
        raise AgentLoadError(
            f"{path} is a {type(target).__name__}, not an agents.Agent (or a zero-argument function returning one)"
        )
    return target


@dataclass
class Resumed:
    run_id: str
    status: str
    final_output: Any
    pending: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "status": self.status, "final_output": self.final_output,
                "pending_approvals": self.pending}

    def render(self, console: Console) -> None:
        if self.status == "interrupted":
            calls = ", ".join(f"{p['call_id']} ({p['tool']})" for p in self.pending)
            console.print(shown(f"Run {self.run_id} stopped again, waiting for approval of {calls}."))
            return
        console.print(shown(f"Run {self.run_id} {self.status}."))
        console.print(shown(f"Final output: {self.final_output}"))


async def _resume(args: argparse.Namespace) -> Resumed:
    agent = load_agent(args.agent)
    import orjson

    from timestep.recovery import recover

    # an interrupted run resumes; a dead one is recovered
    async with common.opened_store(args, schema="migrate") as store:
        result = await recover(agent, args.run, store=store, max_turns=args.max_turns)
    interruptions = list(result.interruptions)
    pending = [{"call_id": getattr(i.raw_item, "call_id", None) if not isinstance(i.raw_item, dict)
                else i.raw_item.get("call_id"), "tool": i.name} for i in interruptions]
    output = result.final_output
    try:
        orjson.dumps(output)
    except TypeError:
        dump = getattr(output, "model_dump", None)
        output = dump(mode="json") if callable(dump) else str(output)
    return Resumed(result.run_id, "interrupted" if interruptions else "completed", output, pending)


def register(commands: Any, parent: argparse.ArgumentParser) -> None:
    resume = commands.add_parser(
        "resume", parents=[parent], help="resume an interrupted run with your agent graph",
        description="Resume an interrupted run from its latest snapshot, applying the decisions stored for it, or "
        "recover a run whose process died, replaying its journal (tools that were running then run again). "
        "--agent names the agent graph the run was started with, as module:attribute (an Agent, or a function "
        "returning one); the current directory is importable.",
    )
    resume.add_argument("run", metavar="RUN", type=common.stored_id)
    resume.add_argument("--agent", metavar="MODULE:ATTRIBUTE", required=True, help="e.g. myapp.agents:triage_agent")
    resume.add_argument("--max-turns", type=common.positive_int, default=None,
                        help="the SDK's max_turns for the resumed part")
    resume.set_defaults(handler=lambda a: common.emit(a, common.run(_resume(a))))
