"""ScriptedModel drives the real runner, streamed and not, and fails loudly when its script runs out."""

from __future__ import annotations

import pytest
from agents import Agent, RunConfig, Runner, function_tool

from timestep.errors import ScriptExhaustedError, TimestepError
from timestep.testing import ScriptedModel, ScriptedModelProvider, TurnUsage


@function_tool
def book(n: int) -> str:
    """Book n seats."""
    return f"booked {n}"


def _script() -> ScriptedModel:
    return ScriptedModel(
        [
            ScriptedModel.turn(
                ScriptedModel.tool_call("book", {"n": 2}, call_id="call_1"),
                usage=TurnUsage(10, 5, cached_tokens=4, reasoning_tokens=2),
            ),
            ScriptedModel.turn(ScriptedModel.text("done ✓"), usage=TurnUsage(20, 3, cached_tokens=1)),
        ]
    )


@pytest.mark.parametrize("streamed", [False, True])
async def test_runs_tool_then_answers(streamed: bool) -> None:
    model = _script()
    agent = Agent(name="booker", model=model, tools=[book])
    if streamed:
        streaming = Runner.run_streamed(agent, "book two")
        raw = [e.data.type async for e in streaming.stream_events() if e.type == "raw_response_event"]
        result = streaming
        assert raw.count("response.created") == raw.count("response.completed") == 2
        assert raw[0] == "response.created" and raw[-1] == "response.completed"
        assert "response.function_call_arguments.done" in raw and "response.output_text.delta" in raw
    else:
        result = await Runner.run(agent, "book two")  # type: ignore[assignment]
    assert result.final_output == "done ✓"
    usage = result.context_wrapper.usage
    assert (usage.requests, usage.input_tokens, usage.output_tokens) == (2, 30, 8)
    assert usage.input_tokens_details.cached_tokens == 5
    assert usage.output_tokens_details.reasoning_tokens == 2
    assert [c.streamed for c in model.calls] == [streamed, streamed]
    second_input = model.calls[1].input
    assert isinstance(second_input, list)
    outputs = [i for i in second_input if isinstance(i, dict) and i.get("type") == "function_call_output"]
    assert outputs == [{"type": "function_call_output", "call_id": "call_1", "output": "booked 2"}]
    assert model.calls[0].tool_names == ("book",)
    assert model.remaining_turns == 0


async def test_deterministic_ids_and_handoff() -> None:
    model = ScriptedModel([[ScriptedModel.handoff("Billing Desk")], [ScriptedModel.text("hi")]], id_prefix="t")
    billing = Agent(name="Billing Desk")
    triage = Agent(name="triage", handoffs=[billing])
    result = await Runner.run(triage, "x", run_config=RunConfig(model_provider=ScriptedModelProvider(model)))
    assert result.last_agent is billing
    assert model.calls[0].handoff_names == ("transfer_to_billing_desk",)
    call = result.new_items[0].raw_item
    assert getattr(call, "call_id", None) == "call_t_0_0"
    assert getattr(call, "id", None) == "fc_t_0_0"
    assert result.raw_responses[1].response_id == "resp_t_1"


@pytest.mark.parametrize("streamed", [False, True])
async def test_exhausted_script_raises(streamed: bool) -> None:
    agent = Agent(name="a", model=ScriptedModel([]))
    with pytest.raises(ScriptExhaustedError, match="only 0 turns were scripted") as info:
        if streamed:
            async for _ in Runner.run_streamed(agent, "x").stream_events():
                pass
        else:
            await Runner.run(agent, "x")
    assert isinstance(info.value, TimestepError)
