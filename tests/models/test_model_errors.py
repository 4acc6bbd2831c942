"""Every way a model server fails becomes an error naming the provider, the host and the model."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import openai
import pytest
from agents import OpenAIProvider
from agents.models.interface import Model

from tests.models.calls import ask
from tests.models.conftest import Closer
from tests.models.wire_servers import Fault, Reply, WireServer, unused_port_url
from timestep.errors import (
    ModelNotFoundError,
    ModelProviderAuthError,
    ModelProviderError,
    ModelProviderUnreachableError,
    ModelResponseError,
    TimestepError,
)
from timestep.models import MultiModelProvider, MultiModelProviderMap, OllamaModelProvider


@dataclass(frozen=True)
class Target:
    """A route under test: how to build its model for a host, and how errors must name it."""

    label: str
    provider: str
    requested: str
    sent: str
    build: Callable[[str, Closer], Model]  # (host url, closer) -> model


def _lab(host: str, closer: Closer) -> Model:
    provider_map = MultiModelProviderMap()
    provider_map.add_provider("lab", OpenAIProvider(openai_client=closer.client(host), use_responses=False))
    return MultiModelProvider(provider_map=provider_map).get_model("lab/tiny")


TARGETS = {
    "ollama": Target(
        "Ollama",
        "ollama",
        "llama3",
        "llama3",
        lambda host, closer: closer.provider(OllamaModelProvider(base_url=host, max_retries=0)).get_model("llama3"),
    ),
    "ollama-cloud": Target(
        "Ollama Cloud",
        "ollama",
        "gpt-oss:120b-cloud",
        "gpt-oss:120b",
        lambda host, closer: closer.provider(
            OllamaModelProvider(api_key="bad-key", cloud_host=host, max_retries=0)
        ).get_model("gpt-oss:120b-cloud"),
    ),
    "openai-responses": Target(
        "OpenAI",
        "openai",
        "gpt-4.1",
        "gpt-4.1",
        lambda host, closer: MultiModelProvider(openai_client=closer.client(host), openai_use_responses=True).get_model(
            "gpt-4.1"
        ),
    ),
    "openai-chat": Target(
        "OpenAI",
        "openai",
        "openai/gpt-4.1",
        "gpt-4.1",
        lambda host, closer: MultiModelProvider(
            openai_client=closer.client(host), openai_use_responses=False
        ).get_model("openai/gpt-4.1"),
    ),
    "mapped": Target("model provider 'lab'", "lab", "lab/tiny", "tiny", _lab),
}

FAULTS: dict[str, tuple[Fault, type[ModelProviderError], str]] = {
    "401": (Fault("status", 401, "invalid api key"), ModelProviderAuthError, "HTTP 401: invalid api key"),
    "403": (Fault("status", 403, "no access"), ModelProviderAuthError, "HTTP 403: no access"),
    "404": (
        Fault("status", 404, 'model "x" not found, try pulling it first'),
        ModelNotFoundError,
        'HTTP 404: model "x" not found, try pulling it first',
    ),
    "500": (Fault("status", 500, "boom"), ModelProviderError, "HTTP 500: boom"),
    "malformed": (Fault("malformed"), ModelResponseError, ""),
    "cut": (Fault("cut"), ModelResponseError, "closed the connection before the answer was complete"),
}

HINTS = {
    ("ollama", "unreachable"): "`ollama serve`",
    ("ollama", "401"): "api_key=",
    ("ollama", "404"): "`ollama pull llama3`",
    ("ollama-cloud", "401"): "OLLAMA_API_KEY",
    ("ollama-cloud", "404"): "ollama.com/search",
    ("openai-responses", "401"): "OPENAI_API_KEY",
    ("openai-chat", "unreachable"): "OPENAI_BASE_URL",
    ("mapped", "401"): "API key the provider was given",
}


def _check(error: ModelProviderError, target: Target, host: str, kind: type[ModelProviderError]) -> None:
    assert type(error) is kind
    assert isinstance(error, TimestepError)
    where = f"{target.label} at {host}/v1"
    assert str(error).startswith(where), str(error)
    assert f"model {target.sent!r}" in str(error)
    assert (error.provider, error.host, error.model) == (target.provider, f"{host}/v1", target.sent)


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("fault_name", list(FAULTS))
@pytest.mark.parametrize("target_name", list(TARGETS))
async def test_server_failures_name_provider_host_and_model(
    cloud_server: WireServer, closer: Closer, target_name: str, fault_name: str, stream: bool
) -> None:
    target = TARGETS[target_name]
    fault, kind, detail = FAULTS[fault_name]
    cloud_server.enqueue(fault)
    model = target.build(cloud_server.url, closer)

    with pytest.raises(ModelProviderError) as raised:
        await ask(model, stream=stream)

    _check(raised.value, target, cloud_server.url, kind)
    assert detail in str(raised.value)
    if not (fault_name == "malformed" and stream):  # a non-SSE stream is caught by its missing end
        assert raised.value.__cause__ is not None  # the transport error is chained, not lost
    if (hint := HINTS.get((target_name, fault_name))) is not None:
        assert hint in str(raised.value)
    assert len(cloud_server.requests) == 1, "no hidden retries"
    assert cloud_server.requests[0].body["model"] == target.sent


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("target_name", list(TARGETS))
async def test_unreachable_server(closer: Closer, target_name: str, stream: bool) -> None:
    target = TARGETS[target_name]
    host = unused_port_url()
    with pytest.raises(ModelProviderUnreachableError) as raised:
        await ask(target.build(host, closer), stream=stream)
    _check(raised.value, target, host, ModelProviderUnreachableError)
    assert "not reachable" in str(raised.value)
    assert isinstance(raised.value.__cause__, openai.APIConnectionError)
    if (hint := HINTS.get((target_name, "unreachable"))) is not None:
        assert hint in str(raised.value)


@pytest.mark.parametrize(
    ("target_name", "phrase"),
    [
        ("ollama", "before the usage chunk that was requested"),
        ("openai-chat", "before the usage chunk that was requested"),
        ("openai-responses", "before the final event"),
    ],
)
async def test_stream_that_is_not_an_event_stream(
    cloud_server: WireServer, closer: Closer, target_name: str, phrase: str
) -> None:
    """A 200 whose body is not SSE yields no events; it must not pass for an empty answer."""
    target = TARGETS[target_name]
    cloud_server.enqueue(Fault("malformed"))
    with pytest.raises(ModelResponseError, match=phrase) as raised:
        await ask(target.build(cloud_server.url, closer), stream=True)
    _check(raised.value, target, cloud_server.url, ModelResponseError)


async def test_timeout_is_unreachable_and_quick(cloud_server: WireServer, closer: Closer) -> None:
    """A server that accepts but never answers fails within the configured timeout."""
    cloud_server.enqueue(Reply(text="late"))
    cloud_server.delay = 2.0
    provider = closer.provider(OllamaModelProvider(base_url=cloud_server.url, timeout=0.3, max_retries=0))
    model = provider.get_model("llama3")
    with pytest.raises(ModelProviderUnreachableError, match="did not answer in time") as raised:
        await ask(model, stream=False)
    assert isinstance(raised.value.__cause__, openai.APITimeoutError)
