"""The SDK's runner drives TimestepSession: history is saved after a run and sent with the next one."""

from __future__ import annotations

from typing import Any

from agents import Agent, RunConfig, Runner

from timestep.session import TimestepSession, current_run_id
from timestep.store import Store
from timestep.testing import ScriptedModel

NO_TRACING = RunConfig(tracing_disabled=True)


def texts(items: list[Any]) -> list[tuple[str, str]]:
    """(role, text) of each message item."""
    out = []
    for item in items:
        content = item["content"]
        text = content if isinstance(content, str) else "".join(part["text"] for part in content)
        out.append((item["role"], text))
    return out


async def test_runner_run_keeps_history_in_the_session(store: Store) -> None:
    model = ScriptedModel([[ScriptedModel.text("Paris.")], [ScriptedModel.text("About 2.1 million.")]])
    agent = Agent(name="geo", instructions="Answer briefly.", model=model)
    session = TimestepSession("conversation", store)

    first = await Runner.run(agent, "Capital of France?", session=session, run_config=NO_TRACING)
    assert first.final_output == "Paris."
    second = await Runner.run(agent, "Its population?", session=session, run_config=NO_TRACING)
    assert second.final_output == "About 2.1 million."

    # the second model call saw the first turn, read back from the store
    sent = model.calls[1].input
    assert isinstance(sent, list)
    assert texts(sent) == [
        ("user", "Capital of France?"),
        ("assistant", "Paris."),
        ("user", "Its population?"),
    ]
    assert texts(await session.get_items()) == [*texts(sent), ("assistant", "About 2.1 million.")]


async def test_streamed_run_and_run_id_tagging(store: Store) -> None:
    model = ScriptedModel([[ScriptedModel.text("Hello ü")]])
    agent = Agent(name="a", model=model)
    session = TimestepSession("streamed", store)
    token = current_run_id.set("run-42")
    try:
        result = Runner.run_streamed(agent, "Hi", session=session, run_config=NO_TRACING)
        async for _ in result.stream_events():
            pass
    finally:
        current_run_id.reset(token)
    assert result.final_output == "Hello ü"
    assert texts(await session.get_items()) == [("user", "Hi"), ("assistant", "Hello ü")]
    async with store.connection() as conn:
        cur = await conn.execute("SELECT DISTINCT run_id FROM timestep_session_items")
        assert [r[0] for r in await cur.fetchall()] == ["run-42"]
