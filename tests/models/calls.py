"""Call a ``Model`` the way the runner does, streamed or not, and return what came back."""

from __future__ import annotations

from typing import Any

from agents import FunctionTool, ModelSettings, function_tool
from agents.items import ModelResponse
from agents.models.interface import Model, ModelTracing
from agents.usage import Usage
from openai.types.responses import Response


@function_tool
def get_weather(city: str) -> str:
    """Current weather in a city."""
    return f"sunny in {city}"


WEATHER_TOOL: FunctionTool = get_weather


async def ask(
    model: Model,
    *,
    stream: bool,
    settings: ModelSettings | None = None,
    tools: list[Any] | None = None,
    instructions: str | None = "Be brief.",
    prompt: str = "What is the weather in Paris?",
) -> ModelResponse:
    """One model turn; for streams, the response carried by the terminal event."""
    arguments: dict[str, Any] = {
        "system_instructions": instructions,
        "input": prompt,
        "model_settings": settings or ModelSettings(),
        "tools": tools or [],
        "output_schema": None,
        "handoffs": [],
        "tracing": ModelTracing.DISABLED,
        "previous_response_id": None,
        "conversation_id": None,
        "prompt": None,
    }
    if not stream:
        return await model.get_response(**arguments)
    final: Response | None = None
    async for event in model.stream_response(**arguments):
        if event.type == "response.completed":
            final = event.response
    assert final is not None, "stream ended without response.completed"
    usage = Usage(requests=1)
    if final.usage is not None:
        usage = Usage(
            requests=1,
            input_tokens=final.usage.input_tokens,
            output_tokens=final.usage.output_tokens,
            total_tokens=final.usage.total_tokens,
        )
    return ModelResponse(output=final.output, usage=usage, response_id=final.id)


def function_calls(response: ModelResponse) -> list[tuple[str, str, str]]:
    """(name, arguments, call_id) of each function call in a model response."""
    return [(item.name, item.arguments, item.call_id) for item in response.output if item.type == "function_call"]


def output_text(response: ModelResponse) -> str:
    return "".join(
        part.text
        for item in response.output
        if item.type == "message"
        for part in item.content
        if part.type == "output_text"
    )
