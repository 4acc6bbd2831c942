"""Loopback model services, one fresh server per test, stopped afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from agents import set_tracing_disabled

from tests.models.wire_servers import WireServer


@pytest.fixture(autouse=True)
def _no_trace_export() -> Iterator[None]:
    """Keep the SDK's trace exporter from calling api.openai.com during tests."""
    set_tracing_disabled(True)
    yield
    set_tracing_disabled(False)


@pytest.fixture(autouse=True)
def _clean_model_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests decide OLLAMA_HOST, OLLAMA_API_KEY and OpenAI's settings themselves."""
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
