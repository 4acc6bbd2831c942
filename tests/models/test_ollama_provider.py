"""OllamaModelProvider against loopback servers speaking Ollama's /v1/chat/completions."""

from __future__ import annotations

import json

import pytest
from agents import ModelSettings

from tests.models.calls import WEATHER_TOOL, ask, function_calls, output_text
from tests.models.conftest import Closer
from tests.models.wire_servers import Reply, ToolCall, WireServer
from timestep.errors import ConfigurationError
from timestep.models import OllamaModelProvider, ResolvedModel
from timestep.models.ollama import normalize_host

STREAM = [False, True]


@pytest.mark.parametrize(
    ("raw", "host"),
    [
        ("localhost", "http://localhost:11434"),
        ("0.0.0.0:11500", "http://0.0.0.0:11500"),
        ("http://gpu-box:8080/", "http://gpu-box:8080"),
        ("http://127.0.0.1:11434/v1", "http://127.0.0.1:11434"),
        ("https://ollama.com", "https://ollama.com"),
    ],
)
def test_normalizes_hosts_like_the_ollama_cli(raw: str, host: str) -> None:
    assert normalize_host(raw) == host


def test_local_host_comes_from_argument_then_env_then_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert OllamaModelProvider().resolve("llama3") == ResolvedModel("ollama", "llama3", "http://localhost:11434/v1")
    monkeypatch.setenv("OLLAMA_HOST", "10.1.2.3:9999")
    assert OllamaModelProvider().resolve("llama3").base_url == "http://10.1.2.3:9999/v1"
    assert OllamaModelProvider(base_url="http://box:1").resolve("llama3").base_url == "http://box:1/v1"


def test_cloud_models_resolve_to_ollama_cloud_without_the_suffix() -> None:
    provider = OllamaModelProvider(base_url="http://box:1")
    assert provider.resolve("gpt-oss:120b-cloud") == ResolvedModel("ollama", "gpt-oss:120b", "https://ollama.com/v1")
    assert provider.resolve("llama3") == ResolvedModel("ollama", "llama3", "http://box:1/v1")
    everything_cloud = OllamaModelProvider(base_url="https://ollama.com")
    assert everything_cloud.resolve("gpt-oss:20b").base_url == "https://ollama.com/v1"


async def test_cloud_model_after_local_one_still_goes_to_the_cloud(
    ollama_server: WireServer, cloud_server: WireServer, closer: Closer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_API_KEY", "cloud-key")
    provider = closer.provider(
        OllamaModelProvider(base_url=ollama_server.url, cloud_host=cloud_server.url, max_retries=0)
    )
    ollama_server.enqueue(Reply(text="local answer"), Reply(text="local again"))
    cloud_server.enqueue(Reply(text="cloud answer"))

    local = await ask(provider.get_model("llama3"), stream=False)
    cloud = await ask(provider.get_model("gpt-oss:120b-cloud"), stream=False)
    again = await ask(provider.get_model("llama3"), stream=True)

    assert (output_text(local), output_text(cloud), output_text(again)) == (
        "local answer",
        "cloud answer",
        "local again",
    )
    assert [r.body["model"] for r in ollama_server.requests] == ["llama3", "llama3"]
    assert [r.body["model"] for r in cloud_server.requests] == ["gpt-oss:120b"]
    assert cloud_server.requests[0].headers["authorization"] == "Bearer cloud-key"
    # The cloud key never goes to the local host.
    assert all(r.headers["authorization"] == "Bearer ollama" for r in ollama_server.requests)


def test_cloud_model_without_key_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="OLLAMA_API_KEY"):
        OllamaModelProvider().get_model("gpt-oss:120b-cloud")


def test_model_name_is_required() -> None:
    with pytest.raises(ConfigurationError, match=r"ollama/llama3\.2"):
        OllamaModelProvider().get_model(None)


async def test_explicit_api_key_goes_to_the_local_host(ollama_server: WireServer, closer: Closer) -> None:
    provider = closer.provider(OllamaModelProvider(api_key="proxy-key", base_url=ollama_server.base_url, max_retries=0))
    ollama_server.enqueue(Reply(text="hi"))
    await ask(provider.get_model("llama3"), stream=False)
    assert ollama_server.requests[0].headers["authorization"] == "Bearer proxy-key"
    assert ollama_server.requests[0].path == "/v1/chat/completions"


async def test_a_given_client_serves_every_model(ollama_server: WireServer, closer: Closer) -> None:
    provider = OllamaModelProvider(client=closer.client(ollama_server.url, api_key="mine"))
    assert provider.resolve("qwen3:8b-cloud") == ResolvedModel("ollama", "qwen3:8b-cloud", ollama_server.base_url)
    ollama_server.enqueue(Reply(text="proxied"))
    response = await ask(provider.get_model("qwen3:8b-cloud"), stream=False)
    assert output_text(response) == "proxied"
    assert ollama_server.requests[0].body["model"] == "qwen3:8b-cloud"
    assert ollama_server.requests[0].headers["authorization"] == "Bearer mine"


async def test_client_and_base_url_together_are_rejected(closer: Closer) -> None:
    with pytest.raises(ConfigurationError, match="not both"):
        OllamaModelProvider(base_url="http://x:1", client=closer.client("http://x:1"))


@pytest.mark.parametrize("stream", STREAM)
async def test_settings_and_tools_reach_the_server(ollama_server: WireServer, closer: Closer, stream: bool) -> None:
    provider = closer.provider(OllamaModelProvider(base_url=ollama_server.url, max_retries=0))
    ollama_server.enqueue(Reply(text="ok"))
    settings = ModelSettings(
        temperature=0.2, top_p=0.9, max_tokens=64, tool_choice="required", parallel_tool_calls=False
    )
    await ask(provider.get_model("llama3"), stream=stream, settings=settings, tools=[WEATHER_TOOL])

    body = ollama_server.requests[0].body
    assert body["model"] == "llama3"
    assert (body["temperature"], body["top_p"], body["max_tokens"]) == (0.2, 0.9, 64)
    assert body["tool_choice"] == "required"
    assert body["parallel_tool_calls"] is False
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is the weather in Paris?"},
    ]
    [tool] = body["tools"]
    assert tool["type"] == "function"
    assert tool["function"]["name"] == "get_weather"
    assert tool["function"]["parameters"]["properties"]["city"]["type"] == "string"
    assert body.get("stream", False) is stream
    if stream:
        assert body["stream_options"] == {"include_usage": True}
    else:
        assert "stream_options" not in body


@pytest.mark.parametrize("stream", STREAM)
async def test_tool_calls_and_usage_come_back(ollama_server: WireServer, closer: Closer, stream: bool) -> None:
    provider = closer.provider(OllamaModelProvider(base_url=ollama_server.url, max_retries=0))
    parallel = (
        ToolCall("get_weather", {"city": "Paris"}, call_id="call_w1"),
        ToolCall("get_weather", {"city": "Rome"}, call_id="call_w2"),
    )
    ollama_server.enqueue(Reply(tool_calls=parallel, input_tokens=31, output_tokens=9))
    response = await ask(provider.get_model("llama3"), stream=stream, tools=[WEATHER_TOOL])

    calls = [(name, json.loads(arguments), call_id) for name, arguments, call_id in function_calls(response)]
    assert calls == [
        ("get_weather", {"city": "Paris"}, "call_w1"),
        ("get_weather", {"city": "Rome"}, "call_w2"),
    ]
    assert (response.usage.input_tokens, response.usage.output_tokens, response.usage.total_tokens) == (
        31,
        9,
        40,
    )


async def test_stream_without_usage_when_the_caller_opts_out(ollama_server: WireServer, closer: Closer) -> None:
    provider = closer.provider(OllamaModelProvider(base_url=ollama_server.url, max_retries=0))
    ollama_server.enqueue(Reply(text="no usage please"))
    response = await ask(provider.get_model("llama3"), stream=True, settings=ModelSettings(include_usage=False))
    assert output_text(response) == "no usage please"
    assert ollama_server.requests[0].body["stream_options"] == {"include_usage": False}
    assert response.usage.total_tokens == 0
