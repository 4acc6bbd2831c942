"""MultiModelProvider routes by prefix to loopback OpenAI, Ollama and custom servers."""

from __future__ import annotations

import pytest
from agents import Agent, ModelSettings, OpenAIProvider, RunConfig, Runner, function_tool

from tests.models.calls import WEATHER_TOOL, ask, function_calls, output_text
from tests.models.conftest import Closer
from tests.models.wire_servers import Reply, ToolCall, WireServer
from timestep.errors import ConfigurationError, UnknownModelPrefixError
from timestep.models import (
    GuardedModel,
    MultiModelProvider,
    MultiModelProviderMap,
    OllamaModelProvider,
    ResolvedModel,
)

STREAM = [False, True]


def _openai(server: WireServer, closer: Closer, *, responses: bool) -> MultiModelProvider:
    return MultiModelProvider(openai_client=closer.client(server.url), openai_use_responses=responses)


@pytest.mark.parametrize("stream", STREAM)
@pytest.mark.parametrize("name", ["gpt-4.1", "openai/gpt-4.1"])
async def test_bare_and_openai_prefixed_names_go_to_openai_responses(
    openai_server: WireServer, closer: Closer, name: str, stream: bool
) -> None:
    provider = _openai(openai_server, closer, responses=True)
    openai_server.enqueue(Reply(text="hello from openai", input_tokens=5, output_tokens=3))
    settings = ModelSettings(temperature=0.3, top_p=0.8, max_tokens=50, tool_choice="auto")
    response = await ask(provider.get_model(name), stream=stream, settings=settings, tools=[WEATHER_TOOL])

    assert output_text(response) == "hello from openai"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (5, 3)
    [request] = openai_server.requests
    assert request.path == "/v1/responses"
    assert request.headers["authorization"] == "Bearer sk-test"
    body = request.body
    assert body["model"] == "gpt-4.1"
    assert (body["temperature"], body["top_p"], body["max_output_tokens"]) == (0.3, 0.8, 50)
    assert body["tool_choice"] == "auto"
    assert [tool["name"] for tool in body["tools"]] == ["get_weather"]
    assert body.get("stream", False) is stream


@pytest.mark.parametrize("stream", STREAM)
async def test_openai_responses_tool_calls(openai_server: WireServer, closer: Closer, stream: bool) -> None:
    provider = _openai(openai_server, closer, responses=True)
    openai_server.enqueue(Reply(tool_calls=(ToolCall("get_weather", {"city": "Oslo"}, "call_r1"),)))
    response = await ask(provider.get_model("gpt-4.1"), stream=stream, tools=[WEATHER_TOOL])
    assert function_calls(response) == [("get_weather", '{"city": "Oslo"}', "call_r1")]


@pytest.mark.parametrize("stream", STREAM)
async def test_openai_chat_completions_with_tool_calls_and_usage(
    openai_server: WireServer, closer: Closer, stream: bool
) -> None:
    provider = _openai(openai_server, closer, responses=False)
    call = ToolCall("get_weather", {"city": "Lima"}, "call_c1")
    openai_server.enqueue(Reply(tool_calls=(call,), input_tokens=12, output_tokens=4))
    settings = ModelSettings(temperature=0.0, parallel_tool_calls=True, tool_choice="get_weather")
    response = await ask(
        provider.get_model("openai/gpt-4.1-mini"), stream=stream, settings=settings, tools=[WEATHER_TOOL]
    )

    assert function_calls(response) == [("get_weather", '{"city": "Lima"}', "call_c1")]
    assert (response.usage.input_tokens, response.usage.output_tokens) == (12, 4)
    [request] = openai_server.requests
    assert request.path == "/v1/chat/completions"
    assert request.body["model"] == "gpt-4.1-mini"
    assert request.body["temperature"] == 0.0
    assert request.body["parallel_tool_calls"] is True
    assert request.body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    if stream:
        assert request.body["stream_options"] == {"include_usage": True}


async def test_openai_key_and_base_url_arguments(openai_server: WireServer) -> None:
    provider = MultiModelProvider(
        openai_api_key="sk-arg", openai_base_url=openai_server.base_url, openai_use_responses=False
    )
    openai_server.enqueue(Reply(text="ok"))
    await ask(provider.get_model("gpt-4.1"), stream=False)
    assert openai_server.requests[0].headers["authorization"] == "Bearer sk-arg"
    assert provider.resolve("gpt-4.1") == ResolvedModel("openai", "gpt-4.1", openai_server.base_url)


@pytest.mark.parametrize("stream", STREAM)
async def test_ollama_prefix_goes_to_ollama_host(
    ollama_server: WireServer, closer: Closer, monkeypatch: pytest.MonkeyPatch, stream: bool
) -> None:
    monkeypatch.setenv("OLLAMA_HOST", ollama_server.url)
    provider = closer.provider(MultiModelProvider(openai_api_key="sk-unused"))
    ollama_server.enqueue(Reply(text="llama says hi", input_tokens=8, output_tokens=2))
    response = await ask(provider.get_model("ollama/llama3"), stream=stream)

    assert output_text(response) == "llama says hi"
    assert response.usage.total_tokens == 10
    [request] = ollama_server.requests
    assert (request.path, request.body["model"]) == ("/v1/chat/completions", "llama3")
    assert request.headers["authorization"] == "Bearer ollama"
    assert provider.resolve("ollama/llama3") == ResolvedModel("ollama", "llama3", ollama_server.base_url)


async def test_mapped_prefixes_win_and_route_to_their_provider(
    openai_server: WireServer, ollama_server: WireServer, closer: Closer
) -> None:
    provider_map = MultiModelProviderMap()
    provider_map.add_provider(
        "lab", OpenAIProvider(base_url=openai_server.base_url, api_key="lab-key", use_responses=False)
    )
    provider_map.add_provider("ollama", OllamaModelProvider(base_url=ollama_server.url, max_retries=0))
    provider = closer.provider(MultiModelProvider(provider_map=provider_map, openai_api_key="sk-unused"))
    openai_server.enqueue(Reply(text="from the lab"))
    ollama_server.enqueue(Reply(text="from the mapped ollama"))

    lab = await ask(provider.get_model("lab/my-model/v2"), stream=True)
    mapped = await ask(provider.get_model("ollama/qwen3:8b"), stream=False)

    assert (output_text(lab), output_text(mapped)) == ("from the lab", "from the mapped ollama")
    assert openai_server.requests[0].body["model"] == "my-model/v2"
    assert openai_server.requests[0].headers["authorization"] == "Bearer lab-key"
    assert ollama_server.requests[0].body["model"] == "qwen3:8b"
    assert provider.resolve("lab/my-model/v2") == ResolvedModel("lab", "my-model/v2", None)
    assert provider.resolve("ollama/qwen3:8b") == ResolvedModel("ollama", "qwen3:8b", ollama_server.base_url)


def test_unknown_prefix_lists_the_known_ones() -> None:
    provider_map = MultiModelProviderMap()
    provider_map.add_provider("lab", OpenAIProvider(api_key="k"))
    provider = MultiModelProvider(provider_map=provider_map)
    with pytest.raises(UnknownModelPrefixError) as raised:
        provider.get_model("anthropic/claude")
    message = str(raised.value)
    assert "'anthropic'" in message
    assert "'openai/', 'ollama/', 'lab/'" in message
    assert isinstance(raised.value, ConfigurationError)
    with pytest.raises(UnknownModelPrefixError):
        provider.resolve("anthropic/claude")


def test_resolve_reports_provider_model_and_host(monkeypatch: pytest.MonkeyPatch) -> None:
    provider = MultiModelProvider()
    assert provider.resolve("gpt-4.1") == ResolvedModel("openai", "gpt-4.1", "https://api.openai.com/v1")
    assert provider.resolve("openai/o3") == ResolvedModel("openai", "o3", "https://api.openai.com/v1")
    assert provider.resolve("ollama/gpt-oss:120b-cloud") == ResolvedModel(
        "ollama", "gpt-oss:120b", "https://ollama.com/v1"
    )
    monkeypatch.setenv("OPENAI_BASE_URL", "http://proxy:8000/v1/")
    assert provider.resolve(None).base_url == "http://proxy:8000/v1"
    assert provider.resolve(None).model  # the SDK's default model


def test_missing_openai_key_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        MultiModelProvider().get_model("gpt-4.1")


def test_provider_map_operations() -> None:
    provider_map = MultiModelProviderMap()
    first, second = OllamaModelProvider(), OllamaModelProvider()
    provider_map.add_provider("a", first)
    assert provider_map.has_prefix("a") and not provider_map.has_prefix("b")
    assert provider_map.get_provider("a") is first
    assert provider_map.get_provider("b") is None

    snapshot = provider_map.get_mapping()
    snapshot["b"] = second
    assert not provider_map.has_prefix("b")  # a copy

    replacement = {"b": second}
    provider_map.set_mapping(replacement)
    replacement["c"] = first
    assert provider_map.get_mapping() == {"b": second}

    provider_map.remove_provider("b")
    assert provider_map.get_mapping() == {}
    with pytest.raises(KeyError):
        provider_map.remove_provider("b")
    with pytest.raises(ConfigurationError):
        provider_map.add_provider("x/y", first)


@function_tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@pytest.mark.parametrize("stream", STREAM)
async def test_runner_uses_the_provider_end_to_end(ollama_server: WireServer, closer: Closer, stream: bool) -> None:
    """A full Runner loop: tool call, tool output sent back, final answer, usage summed."""
    provider = closer.provider(MultiModelProvider(provider_map=_ollama_map(ollama_server), openai_api_key="sk-unused"))
    ollama_server.enqueue(
        Reply(tool_calls=(ToolCall("add", {"a": 2, "b": 3}, "call_add"),), input_tokens=20, output_tokens=5),
        Reply(text="2 + 3 = 5", input_tokens=30, output_tokens=6),
    )
    agent = Agent(name="adder", instructions="Add.", model="ollama/llama3", tools=[add])
    config = RunConfig(model_provider=provider, tracing_disabled=True)
    if stream:
        streamed = Runner.run_streamed(agent, "2+3?", run_config=config)
        async for _ in streamed.stream_events():
            pass
        final, usage = streamed.final_output, streamed.context_wrapper.usage
    else:
        result = await Runner.run(agent, "2+3?", run_config=config)
        final, usage = result.final_output, result.context_wrapper.usage

    assert final == "2 + 3 = 5"
    assert (usage.requests, usage.input_tokens, usage.output_tokens) == (2, 50, 11)
    second = ollama_server.requests[1].body["messages"]
    assert second[-2]["tool_calls"][0]["function"] == {"name": "add", "arguments": '{"a": 2, "b": 3}'}
    assert second[-1] == {"role": "tool", "tool_call_id": "call_add", "content": "5"}


def _ollama_map(server: WireServer) -> MultiModelProviderMap:
    provider_map = MultiModelProviderMap()
    provider_map.add_provider("ollama", OllamaModelProvider(base_url=server.url, max_retries=0))
    return provider_map


def test_returned_models_expose_what_the_runner_probes(closer: Closer) -> None:
    provider = closer.provider(MultiModelProvider(openai_client=closer.client("http://127.0.0.1:9")))
    model = provider.get_model("openai/gpt-4.1")
    assert isinstance(model, GuardedModel)
    assert model.model == "gpt-4.1"  # read by the runner for sandbox and prompt-cache decisions
    assert model.served == ResolvedModel("openai", "gpt-4.1", "http://127.0.0.1:9/v1")
    ollama = provider.get_model("ollama/llama3")
    assert isinstance(ollama, GuardedModel)
    assert ollama.served == provider.resolve("ollama/llama3")


async def test_sdk_usage_errors_pass_through_unchanged(closer: Closer) -> None:
    """Only transport and protocol failures are translated; the SDK's own errors keep their type."""
    provider = closer.provider(MultiModelProvider(openai_client=closer.client("http://127.0.0.1:9")))
    model = provider.get_model("gpt-4.1")
    with pytest.raises(TypeError, match="multiple values for keyword argument 'model'"):
        await ask(model, stream=False, settings=ModelSettings(extra_args={"model": "other"}))
