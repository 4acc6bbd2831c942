"""Loopback model services, one fresh server per test, stopped afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TypeVar

import pytest
from agents.models.interface import ModelProvider
from openai import AsyncOpenAI

from tests.models.wire_servers import WireServer

P = TypeVar("P", bound=ModelProvider)


class Closer:
    """Closes the clients and providers a test opened, on the test's own event loop."""

    def __init__(self) -> None:
        self._clients: list[AsyncOpenAI] = []
        self._providers: list[ModelProvider] = []

    def client(self, host: str, api_key: str = "sk-test") -> AsyncOpenAI:
        """An OpenAI client for ``<host>/v1`` that fails at once instead of retrying."""
        client = AsyncOpenAI(base_url=f"{host}/v1", api_key=api_key, max_retries=0)
        self._clients.append(client)
        return client

    def provider(self, provider: P) -> P:
        self._providers.append(provider)
        return provider

    async def close(self) -> None:
        for provider in self._providers:
            await provider.aclose()
        for client in self._clients:
            await client.close()


@pytest.fixture
async def closer() -> AsyncIterator[Closer]:
    opened = Closer()
    yield opened
    await opened.close()


@pytest.fixture(autouse=True)
def _clean_model_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests decide OLLAMA_HOST, OLLAMA_API_KEY and OpenAI's settings themselves.

    Without OPENAI_API_KEY the SDK's trace exporter also skips api.openai.com.
    """
    for name in ("OLLAMA_HOST", "OLLAMA_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def openai_server() -> Iterator[WireServer]:
    server = WireServer("openai").start()
    yield server
    server.stop()


@pytest.fixture
def ollama_server() -> Iterator[WireServer]:
    server = WireServer("ollama").start()
    yield server
    server.stop()


@pytest.fixture
def cloud_server() -> Iterator[WireServer]:
    """Stands in for https://ollama.com (same wire protocol, reached through ``cloud_host=``)."""
    server = WireServer("ollama").start()
    yield server
    server.stop()
