"""Passwords in URLs never reach what timestep stores, raises or prints.

``OLLAMA_HOST=http://admin:pw@host`` made the provider's error (which names its base URL) put the password
into ``timestep_runs.error``. Every URL in a stored error, and in the errors timestep raises, shows
``admin:***@`` instead.
"""

from __future__ import annotations

import pytest
from agents import Agent, function_tool
from hypothesis import given
from hypothesis import strategies as st

from tests.models.conftest import Closer
from tests.models.wire_servers import unused_port_url
from tests.support.queries import fetch
from timestep import run_agent
from timestep.errors import ModelProviderUnreachableError
from timestep.models import OllamaModelProvider
from timestep.redaction import redact
from timestep.store import Store
from timestep.testing import ScriptedModel

PASSWORD = "s3cr3t-Pa55"  # the secret the tests look for


def with_credentials(url: str, password: str = PASSWORD) -> str:
    scheme, rest = url.split("://", 1)
    return f"{scheme}://admin:{password}@{rest}"


async def test_a_model_url_with_a_password_is_redacted_in_the_run_error(
    store: Store, closer: Closer, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = unused_port_url()
    monkeypatch.setenv("OLLAMA_HOST", with_credentials(host))
    provider = closer.provider(OllamaModelProvider(max_retries=0))
    with pytest.raises(ModelProviderUnreachableError) as raised:
        await run_agent(Agent(name="a", model="llama3"), "hi", store=store, model_provider=provider)
    shown = with_credentials(host, "***")
    assert PASSWORD not in str(raised.value) and f"{shown}/v1" in str(raised.value)
    assert raised.value.host == f"{shown}/v1"
    [(status, error)] = await fetch(store, "SELECT status, error FROM timestep_runs")
    assert status == "failed"
    assert PASSWORD not in error and shown in error


async def test_a_failing_tool_stores_its_error_redacted(store: Store) -> None:
    url = with_credentials("postgresql://db.internal:5432/orders")

    @function_tool(failure_error_function=None)
    def lookup() -> str:
        """Look the order up."""
        raise RuntimeError(f"could not connect to {url}")

    model = ScriptedModel([ScriptedModel.turn(ScriptedModel.tool_call("lookup", {}, call_id="c1"))])
    with pytest.raises(Exception, match="could not connect"):
        await run_agent(Agent(name="a", model=model, tools=[lookup]), "Find it.", store=store)
    [(status, error)] = await fetch(store, "SELECT status, error FROM timestep_runs")
    assert status == "failed" and PASSWORD not in error
    assert "postgresql://admin:***@db.internal:5432/orders" in error
    [(call_status, output)] = await fetch(store, "SELECT status, output FROM timestep_tool_calls")
    assert call_status == "failed" and PASSWORD not in output
    assert "postgresql://admin:***@db.internal:5432/orders" in output


users = st.text(st.sampled_from("abcXYZ019-._~!$&'()*+,;=%"), min_size=1, max_size=12)
passwords = st.text(st.sampled_from("abcXYZ019-._~!$&'()*+,;=%:"), min_size=1, max_size=12)
hosts = st.sampled_from(["h", "example.com", "127.0.0.1:8080", "[::1]:11434"])
rests = st.sampled_from(["", "/", "/v1", "/db?sslmode=require", "#frag"])


@given(
    scheme=st.sampled_from(["http", "https", "postgresql", "redis+tls"]),
    user=users, password=passwords, host=hosts, rest=rests,
    before=st.sampled_from(["", "error: ", "(", "'"]), after=st.sampled_from(["", " failed", ")", "'", "."]),
)
def test_redact_hides_the_password_of_every_url_and_keeps_the_rest(
    scheme: str, user: str, password: str, host: str, rest: str, before: str, after: str
) -> None:
    url = f"{scheme}://{user}:{password}@{host}{rest}"
    assert redact(f"{before}{url}{after}") == f"{before}{scheme}://{user}:***@{host}{rest}{after}"


@pytest.mark.parametrize(
    "text",
    ["no url here", "http://example.com/a:b@c", "http://user@example.com", "mailto:a:b@c", "a:b@c", "x://@h"],
)
def test_redact_leaves_text_without_a_url_password_alone(text: str) -> None:
    assert redact(text) == text


def test_redact_handles_several_urls() -> None:
    text = "tried http://a:1@h1 then https://b:2@h2/v1"
    assert redact(text) == "tried http://a:***@h1 then https://b:***@h2/v1"
