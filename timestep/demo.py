"""``make demo``: a tool call that needs approval, stopped, approved and resumed across processes.

Every step runs in its own process, as it would in an app: the agent's process exits while the run waits for
approval; ``timestep runs list`` shows it waiting; ``timestep approve`` approves it from the shell; a new
process (``timestep resume``) finishes it; ``timestep usage`` prices it. The demo keeps its data in
``.timestep-demo/`` in the current directory (or ``TIMESTEP_HOME``), never in your default store.

The model: ``gpt-4.1-mini`` when ``OPENAI_API_KEY`` is set; else the first model of an Ollama server reachable
at ``OLLAMA_HOST`` (default localhost:11434); else ``timestep.testing.ScriptedModel``, offline.

Usage: ``python -m timestep.demo`` (the whole demo), or ``python -m timestep.demo start`` (one step, used by
the demo itself). ``timestep resume RUN --agent timestep.demo:demo_agent`` rebuilds the demo's agent.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from timestep import config
from timestep.redaction import redact

PROMPT = "Please book a table for two at Chez Nous tonight at 19:30."
INSTRUCTIONS = (
    "You are a restaurant concierge. To book a table, always call the book_table tool right away with the "
    "restaurant, party size and time from the request; do not ask questions. After the booking, confirm it "
    "in one sentence."
)
OPENAI_MODEL = "gpt-4.1-mini"
SCRIPTED = "scripted"
TS_RESUMER = Path(__file__).resolve().parent.parent / "conformance" / "js" / "store_run.mjs"
TS_SCENARIO = Path(__file__).resolve().parent / "data" / "demo_scenario.json"
TS_PROMPT = "Please book a table for four at Le Petit Jardin tonight at 20:00."


def demo_agent() -> Any:
    """The demo's agent: a concierge whose ``book_table`` tool needs approval.

    The model comes from ``TIMESTEP_DEMO_MODEL`` (a model name, or ``scripted``); a scripted model plays the
    turns of ``TIMESTEP_DEMO_STAGE`` (``start``: the tool call; ``resume``: the confirmation).
    """
    from agents import Agent, function_tool

    @function_tool(needs_approval=True)
    def book_table(restaurant: str, party: int, time: str) -> str:
        """Book a table at a restaurant."""
        return f"Booked: table for {party} at {restaurant}, {time}. Confirmation TS-1042."

    name = os.environ.get("TIMESTEP_DEMO_MODEL", SCRIPTED)
    model = _scripted(os.environ.get("TIMESTEP_DEMO_STAGE", "start")) if name == SCRIPTED else name
    return Agent(name="concierge", instructions=INSTRUCTIONS, model=model, tools=[book_table])


def _scripted(stage: str) -> Any:
    from timestep.testing import ScriptedModel, TurnUsage

    if stage == "start-typescript":
        return ScriptedModel([ScriptedModel.turn(
            ScriptedModel.tool_call("book_table", {"restaurant": "Le Petit Jardin", "party": 4, "time": "20:00"},
                                    call_id="call_demo_ts_book"),
            usage=TurnUsage(input_tokens=150, output_tokens=30),
        )], id_prefix="demo_ts")
    if stage == "start":
        return ScriptedModel([ScriptedModel.turn(
            ScriptedModel.tool_call("book_table", {"restaurant": "Chez Nous", "party": 2, "time": "19:30"},
                                    call_id="call_demo_book"),
            usage=TurnUsage(input_tokens=142, output_tokens=28),
        )], id_prefix="demo_start")
    return ScriptedModel([ScriptedModel.turn(
        ScriptedModel.text("Your table for two at Chez Nous is booked for 19:30 (confirmation TS-1042)."),
        usage=TurnUsage(input_tokens=196, cached_tokens=128, output_tokens=21),
    )], id_prefix="demo_resume")


async def _start(for_typescript: bool = False) -> dict[str, Any]:
    """Run the concierge to its approval request; for TypeScript, also save a TypeScript snapshot of it."""
    from timestep import RunStateStore, run_agent
    from timestep.session import TimestepSession
    from timestep.store import open_store

    agent = demo_agent()
    prompt = TS_PROMPT if for_typescript else PROMPT
    async with open_store() as store:
        session = TimestepSession("demo-typescript" if for_typescript else "demo", store=store)
        result = await run_agent(agent, prompt, session=session, store=store)
        if for_typescript and result.interruptions:
            await RunStateStore(agent, run_id=result.run_id, store=store, format="typescript").save(
                result.state, kind="interrupted"
            )
            print("A TypeScript snapshot of its state is stored beside the Python one.")
    print(f"user: {prompt}")
    for item in result.interruptions:
        arguments = getattr(item.raw_item, "arguments", None) or ""
        print(f"{agent.name} asks to call {item.name}({arguments}); the tool needs approval.")
    if result.interruptions:
        print(f"Run {result.run_id} is stored as interrupted; this process exits now.")
        return {"run_id": result.run_id, "status": "interrupted"}
    print(f"{agent.name}: {result.final_output}")
    return {"run_id": result.run_id, "status": "completed"}


def choose_model() -> tuple[str, str]:
    """(model for TIMESTEP_DEMO_MODEL, why) from OPENAI_API_KEY, a reachable Ollama, or the scripted model."""
    if os.environ.get("OPENAI_API_KEY"):
        return OPENAI_MODEL, f"OpenAI {OPENAI_MODEL} (OPENAI_API_KEY is set)"
    host = ollama_host()
    try:
        with urllib.request.urlopen(f"{host}/api/tags", timeout=0.5) as response:
            models = json.load(response).get("models") or []
    except (OSError, ValueError, urllib.error.URLError):
        models = None
    names = [str(m.get("name") or m.get("model")) for m in models or [] if isinstance(m, dict)]
    usable = [n for n in names if not n.endswith("-cloud") and "embed" not in n]  # local chat models
    if usable:
        return f"ollama/{usable[0]}", f"Ollama model {usable[0]} at {redact(host)}"
    reason = "none answered" if models is None else "it lists no local chat model"
    return SCRIPTED, (f"timestep.testing.ScriptedModel, offline: OPENAI_API_KEY is not set and no Ollama server "
                      f"is usable at {redact(host)} ({reason})")


def ollama_host() -> str:
    raw = os.environ.get("OLLAMA_HOST", "").strip() or "localhost:11434"
    if "://" not in raw:
        raw = f"http://{raw}"
    scheme, _, rest = raw.partition("://")
    hostport = rest.split("/")[0]
    if ":" not in hostport.rsplit("]", 1)[-1]:
        hostport += ":11434"
    return f"{scheme}://{hostport}"


class Demo:
    def __init__(self) -> None:
        self.home = Path(os.environ.get("TIMESTEP_HOME") or ".timestep-demo").expanduser().absolute()
        self.env = {**os.environ, "TIMESTEP_HOME": str(self.home)}
        self.env.pop("TIMESTEP_DATABASE_URL", None)
        self.env.setdefault("PYTHONUNBUFFERED", "1")

    def say(self, text: str, indent: str = "") -> None:
        print(textwrap.fill(text, 100, initial_indent=indent, subsequent_indent=indent))

    def step(self, number: int, text: str) -> None:
        print()
        print(textwrap.fill(f"{number}. {text}", 100, subsequent_indent="   "))

    def run(self, shown: str, argv: list[str], env: dict[str, str] | None = None, *, hide_last: bool = False
            ) -> subprocess.CompletedProcess[str]:
        print(f"   $ {shown}")
        done = subprocess.run(argv, env={**self.env, **(env or {})}, capture_output=True, text=True)
        lines = done.stdout.rstrip("\n").splitlines()
        for line in lines[:-1] if hide_last and done.returncode == 0 else lines:
            print(f"     {redact(line)}".rstrip())
        for line in done.stderr.rstrip("\n").splitlines():  # a traceback may show a URL with its password
            print(f"     {redact(line)}".rstrip(), file=sys.stderr)
        return done

    def cli(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return self.run(f"timestep {' '.join(args)}", [sys.executable, "-m", "timestep", *args], env)

    def main(self) -> int:
        model, why = choose_model()
        self.env["TIMESTEP_DEMO_MODEL"] = model
        if not os.environ.get("OPENAI_API_KEY"):
            self.env["OPENAI_AGENTS_DISABLE_TRACING"] = "1"  # no key to export traces with
        print("timestep demo: a tool call that needs approval, across processes")
        self.say(f"Data directory: {self.home} (TIMESTEP_HOME); your default store is not touched.")
        self.say(f"Model: {why}.")

        self.step(1, "Start a run in a new process. The agent asks to call book_table, which needs approval: the "
                  "run is stored as interrupted and the process exits.")
        started = self.run("python -m timestep.demo start", [sys.executable, "-m", "timestep.demo", "start"],
                           {"TIMESTEP_DEMO_STAGE": "start"}, hide_last=True)
        if started.returncode != 0:
            return self.fail("the first step failed (see above)")
        outcome = json.loads(started.stdout.strip().splitlines()[-1])
        run_id = outcome["run_id"]
        if outcome["status"] != "interrupted":
            return self.fail("the model answered without asking to book, so there is nothing to approve; run the "
                             "demo again, or unset OPENAI_API_KEY/OLLAMA_HOST to use the scripted model")

        self.step(2, "From a shell, while no process runs the agent, list the runs waiting for a decision:")
        if self.cli("runs", "list", "--status", "interrupted").returncode != 0:
            return self.fail("`timestep runs list` failed")

        self.step(3, "Approve the pending call from the command line (any process, any time later):")
        if self.cli("approve", run_id, "--by", "demo").returncode != 0:
            return self.fail("`timestep approve` failed")

        self.step(4, "Resume in a new process: timestep imports the agent graph and continues from the stored "
                  "state; the approved tool runs and the agent answers.")
        resumed = self.cli("resume", run_id, "--agent", "timestep.demo:demo_agent", TIMESTEP_DEMO_STAGE="resume")
        if resumed.returncode != 0:
            return self.fail("`timestep resume` failed")

        self.step(5, "What it used and cost (prices from the packaged table; override with TIMESTEP_PRICES):")
        if self.cli("usage", "--run", run_id).returncode != 0:
            return self.fail("`timestep usage` failed")
        if model == SCRIPTED:
            self.say("The scripted model costs nothing; with an OpenAI model the same table shows US dollars, and "
                     "a model missing from the price table shows as unknown, never as $0.", indent="   ")

        self.step(6, "A second run, started in Python and resumed in TypeScript with the official @openai/agents "
                  "SDK (both halves use scripted models):")
        if not self.typescript():
            return self.fail("the TypeScript resume failed (see above)")
        print()
        self.say(f"Done. Look around with `TIMESTEP_HOME={self.home} timestep runs show {run_id}`; "
                 f"remove {self.home} to start afresh.")
        return 0

    def typescript(self) -> bool:
        node = shutil.which(config.configured_node() or "node")
        if node is None or not (TS_RESUMER.parent / "node_modules").is_dir():
            self.say("Skipped: it needs Node.js and the TypeScript SDK (`npm ci --prefix conformance/js`, which "
                     "`make` runs).", indent="   ")
            return True
        started = self.run("python -m timestep.demo start-typescript",
                           [sys.executable, "-m", "timestep.demo", "start-typescript"],
                           {"TIMESTEP_DEMO_STAGE": "start-typescript", "TIMESTEP_DEMO_MODEL": SCRIPTED}, hide_last=True)
        if started.returncode != 0:
            return False
        run_id = json.loads(started.stdout.strip().splitlines()[-1])["run_id"]
        if self.cli("approve", run_id, "--by", "demo").returncode != 0:
            return False
        resumed = self.run(f"node conformance/js/store_run.mjs resume --run {run_id} ...",
                           [node, str(TS_RESUMER), "resume", "--store", str(self.home), "--run", run_id,
                            "--spec", str(TS_SCENARIO)], hide_last=True)
        if resumed.returncode != 0:
            print(f"     {redact(resumed.stdout.strip())}", file=sys.stderr)
            return False
        outcome = json.loads(resumed.stdout.strip().splitlines()[-1])
        self.say(f"TypeScript finished run {run_id}: {outcome.get('final_output')}", indent="     ")
        self.say("Python sees it as any other run:", indent="   ")
        return self.cli("runs", "list").returncode == 0

    def fail(self, message: str) -> int:
        print(f"\ndemo stopped: {message}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] in (["start"], ["start-typescript"]):
        outcome = asyncio.run(_start(for_typescript=args[0] == "start-typescript"))
        print(json.dumps(outcome), flush=True)
        return 0
    if args:
        print("usage: python -m timestep.demo [start|start-typescript]", file=sys.stderr)
        return 2
    return Demo().main()


if __name__ == "__main__":
    sys.exit(main())
