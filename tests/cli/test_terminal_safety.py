"""Text that models and users stored reaches the terminal literally: no markup, no control sequences.

An approver must see exactly the arguments the tool will receive, and nothing stored may crash a listing
or act on the terminal (move the cursor, hide text, plant a hyperlink, reverse the reading order).
"""

from __future__ import annotations

import io
import json
import unicodedata
from datetime import UTC, datetime
from typing import Any

from agents import Agent, function_tool
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from tests.cli.conftest import cli
from timestep import approve, resume_run, run_agent
from timestep.cli.runs import RunList
from timestep.cli.safe_text import ESCAPE_STYLE, shown
from timestep.durable.run_records import Run
from timestep.session import TimestepSession
from timestep.store import Store
from timestep.testing import ScriptedModel, TurnUsage

SMUGGLED = '{"usd":"5","[conceal]":1,"usd":"50000"}'
OSC8 = "\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\"
HOSTILE = f"s[/]{OSC8}\x1b[2J\x9b31m\u202eabc\u2066[/x]"  # markup, OSC 8, CSI, C1 CSI, bidi override
RAW = ("\x1b", "\x9b", "\u202e", "\u2066")
ESCAPED = ("\\x1b]8;;https://evil.example\\x1b\\click", "\\x1b[2J", "\\x9b31m", "\\u202eabc", "\\u2066[/x]")
RECEIVED: list[str] = []


@function_tool(needs_approval=True)
def pay(usd: str) -> str:
    """Pay an amount in US dollars."""
    RECEIVED.append(usd)
    return f"paid {usd}"


def payer(*turns: Any) -> Agent[Any]:
    return Agent(name="payer[/x]", instructions="Pay.", model=ScriptedModel(list(turns)), tools=[pay])


def assert_safe(outcome: Any) -> str:
    assert outcome.code == 0, outcome.stderr
    assert "Traceback" not in outcome.stderr and "MarkupError" not in outcome.stderr
    for char in RAW:
        assert char not in outcome.stdout, (char, outcome.stdout)
    return str(outcome.stdout)


async def test_approver_sees_what_the_tool_receives(store: Store, store_location: str) -> None:
    call = ScriptedModel.turn(ScriptedModel.tool_call("pay", SMUGGLED, call_id="p1"))
    result = await run_agent(payer(call), "Pay the invoice", store=store)
    run_id = str(result.run_id)

    shown_text = assert_safe(cli("runs", "show", run_id, store=store_location))
    assert SMUGGLED in shown_text  # whole, [conceal] included, both amounts
    assert "duplicate key 'usd': the tool receives the last value, \"50000\"" in shown_text
    assert '"[conceal]"' in shown_text and "payer[/x]" in shown_text
    assert json.loads(cli("runs", "show", run_id, "--json", store=store_location).stdout)["tool_calls"][0][
        "arguments"] == SMUGGLED

    await approve(run_id, "p1", store=store)
    RECEIVED.clear()
    await resume_run(payer(ScriptedModel.turn(ScriptedModel.text("Paid."))), run_id, store=store)
    assert RECEIVED == ["50000"]  # the SDK's json.loads keeps the last duplicate: what the warning said


async def test_hostile_ids_and_text_are_shown_escaped(store: Store, store_location: str) -> None:
    call = ScriptedModel.turn(ScriptedModel.tool_call("pay", '{"usd":"' + HOSTILE + '"}', call_id="p[/]1"),
                              usage=TurnUsage(input_tokens=3))
    result = await run_agent(payer(call), f"input {HOSTILE}", session=TimestepSession(HOSTILE, store=store),
                             store=store)
    run_id = str(result.run_id)

    for args in (("runs", "list"), ("runs", "show", run_id), ("sessions", "list"), ("sessions", "show", HOSTILE),
                 ("runs", "list", "--session", HOSTILE), ("usage", "--by", "session")):
        stdout = assert_safe(cli(*args, store=store_location))
        assert "s[/]" + ESCAPED[0] in stdout, (args, stdout)  # [/] kept, the hyperlink shown as text
        assert all(escaped in stdout for escaped in ESCAPED), (args, stdout)
    for args in (("runs", "list"), ("runs", "show", run_id), ("sessions", "list"), ("sessions", "show", HOSTILE)):
        outcome = cli(*args, "--json", store=store_location)
        assert any(HOSTILE in text for text in strings(outcome.json)), args  # the exact value, as JSON
        assert_safe(outcome)

    missing = cli("runs", "show", f"no{HOSTILE}", store=store_location)
    assert missing.code == 1 and not any(char in missing.stderr for char in RAW)


def strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [*value, *strings(list(value.values()))]
    if isinstance(value, list):
        return [text for entry in value for text in strings(entry)]
    return [value] if isinstance(value, str) else []


def rendered(session_id: str) -> str:
    at = datetime(2025, 1, 1, tzinfo=UTC)
    run = Run("r1", session_id, "interrupted", session_id, "python", None, None, None, None, at, at, None, None,
              True, True, False)
    out = io.StringIO()
    RunList([(run, 1)]).render(Console(file=out, width=120, color_system=None, highlight=False))
    return out.getvalue()


def unescaped(text: Any) -> str:
    """The original text back from ``shown``: its marked escapes decoded, everything else as is."""
    return "".join(
        segment.text.encode().decode("unicode_escape") if ESCAPE_STYLE in str(segment.style) else segment.text
        for segment in text.render(Console(width=10_000))
    )


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=("Cn",)), max_size=40))
def test_any_text_renders_without_controls_and_can_be_read_back(text: str) -> None:
    output = rendered(text)
    assert all(c == "\n" or unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Zl", "Zp") for c in output), output
    assert unescaped(shown(text, keep="")) == text
