"""Ollama, local or Ollama Cloud, through its OpenAI-compatible ``/v1`` endpoint.

The SDK's own Chat Completions model does the format conversion (tool calls streamed and not,
settings, usage), so nothing here translates messages by hand; LiteLLM's Ollama route is avoided
because it drops tool calls when streaming. Each host gets its own client: a ``-cloud`` model
asked for after a local one still goes to the cloud.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from agents.models.interface import Model, ModelProvider
from agents.models.openai_chatcompletions import OpenAIChatCompletionsModel
from openai import AsyncOpenAI

from timestep.errors import ConfigurationError
from timestep.models.guard import GuardedModel, ProviderHints
from timestep.models.resolved import ResolvedModel

DEFAULT_LOCAL_HOST = "http://localhost:11434"
OLLAMA_CLOUD_HOST = "https://ollama.com"
CLOUD_SUFFIX = "-cloud"
_DEFAULT_PORT = 11434


def normalize_host(raw: str) -> str:
    """``scheme://host:port`` from an ``OLLAMA_HOST``-style value.

    Like the ``ollama`` CLI, a bare ``host`` or ``host:port`` means plain HTTP on port 11434;
    a trailing ``/`` or ``/v1`` is dropped so both forms of base URL work.
    """
    value = raw.strip().rstrip("/").removesuffix("/v1")
    if "://" not in value:
        value = f"http://{value}"
        if urlsplit(value).port is None:
            value = f"{value}:{_DEFAULT_PORT}"
    return value


def _local_hints(model: str) -> ProviderHints:
    return ProviderHints(
        label="Ollama",
        unreachable="Start Ollama with `ollama serve`, or set OLLAMA_HOST (or base_url=) to the address it listens on.",
        auth="This Ollama host wants credentials: pass api_key= to OllamaModelProvider.",
        not_found=f"Pull it with `ollama pull {model}`, or check the name with `ollama list`.",
    )


_CLOUD_HINTS = ProviderHints(
    label="Ollama Cloud",
    unreachable="Check the network connection to ollama.com.",
    auth="Set OLLAMA_API_KEY (or pass api_key=) to a key from https://ollama.com/settings/keys.",
    not_found="Check the name at https://ollama.com/search?c=cloud; the cloud API takes it "
    "without the '-cloud' suffix, which timestep removes.",
)


class OllamaModelProvider(ModelProvider):
    """Serves Ollama model names, local or cloud, one OpenAI-compatible client per host.

    The local host comes from ``base_url``, else ``OLLAMA_HOST``, else ``http://localhost:11434``.
    Models whose name ends in ``-cloud``, and every model when ``base_url`` is the cloud host,
    go to Ollama Cloud with ``api_key`` or ``OLLAMA_API_KEY``; the cloud API takes the name
    without the suffix. ``OLLAMA_API_KEY`` is never sent to a local host; ``api_key`` is sent to
    every host. With ``client``, every model goes to that client, under its own name (the
    suffix is only removed when that client points at the cloud host).

    ``timeout`` (seconds) and ``max_retries`` configure the clients this provider creates
    (the ``openai`` defaults otherwise); ``cloud_host`` replaces ``https://ollama.com``.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        client: AsyncOpenAI | None = None,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
        cloud_host: str = OLLAMA_CLOUD_HOST,
    ) -> None:
        if client is not None and (api_key is not None or base_url is not None):
            raise ConfigurationError(
                "OllamaModelProvider takes either client= or api_key=/base_url=, not both: "
                "configure the client itself instead."
            )
        self._api_key = api_key
        self._client = client
        self._cloud_host = normalize_host(cloud_host)
        self._local_host = normalize_host(base_url or os.environ.get("OLLAMA_HOST") or DEFAULT_LOCAL_HOST)
        self._client_options: dict[str, Any] = {}
        if timeout is not None:
            self._client_options["timeout"] = timeout
        if max_retries is not None:
            self._client_options["max_retries"] = max_retries
        self._clients: dict[str, AsyncOpenAI] = {}

    def _is_cloud_host(self, host: str) -> bool:
        return host == self._cloud_host or urlsplit(host).hostname == "ollama.com"

    def resolve(self, model_name: str | None) -> ResolvedModel:
        """Where ``model_name`` goes and the name sent there, without any request."""
        if not model_name:
            raise ConfigurationError("Name an Ollama model, e.g. model='ollama/llama3.2'.")
        if self._client is not None:
            host = normalize_host(str(self._client.base_url))
            base_url = str(self._client.base_url).rstrip("/")
        else:
            local_is_cloud = self._is_cloud_host(self._local_host)
            host = self._cloud_host if model_name.endswith(CLOUD_SUFFIX) and not local_is_cloud else self._local_host
            base_url = f"{host}/v1"
        sent = model_name.removesuffix(CLOUD_SUFFIX) if self._is_cloud_host(host) else model_name
        return ResolvedModel(provider="ollama", model=sent, base_url=base_url)

    def _client_for(self, base_url: str, cloud: bool, requested: str) -> AsyncOpenAI:
        if self._client is not None:
            return self._client
        client = self._clients.get(base_url)
        if client is not None:
            return client
        api_key = self._api_key
        if cloud:
            api_key = api_key or os.environ.get("OLLAMA_API_KEY")
            if not api_key:
                raise ConfigurationError(
                    f"Ollama Cloud model {requested!r} needs an API key: set OLLAMA_API_KEY to a key "
                    "from https://ollama.com/settings/keys, or pass api_key= to OllamaModelProvider."
                )
        # Ollama ignores the key locally, but the openai client insists on one.
        client = AsyncOpenAI(base_url=base_url, api_key=api_key or "ollama", **self._client_options)
        self._clients[base_url] = client
        return client

    def get_model(self, model_name: str | None) -> Model:
        served = self.resolve(model_name)
        assert served.base_url is not None  # an Ollama provider always knows its host
        cloud = self._is_cloud_host(normalize_host(served.base_url))
        hints = _CLOUD_HINTS if cloud else _local_hints(served.model)
        client = self._client_for(served.base_url, cloud, str(model_name))
        return GuardedModel(OpenAIChatCompletionsModel(served.model, client), served, hints)

    async def aclose(self) -> None:
        """Close the clients this provider created (not one passed in as ``client``)."""
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.close()
