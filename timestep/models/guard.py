"""Turn a model server's failures into errors that say who failed, where, and what to do.

The SDK's models surface raw ``openai``/``httpx`` exceptions ("Connection error.") that name
neither the provider nor the host; a run that dies on one leaves the user guessing. ``GuardedModel``
wraps any SDK ``Model`` and re-raises those failures as ``ModelProviderError`` subclasses.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import httpx2
import openai
from agents.models.interface import Model, ModelTracing
from agents.models.openai_chatcompletions import OpenAIChatCompletionsModel
from openai import AsyncOpenAI

from timestep.errors import (
    ModelNotFoundError,
    ModelProviderAuthError,
    ModelProviderError,
    ModelProviderUnreachableError,
    ModelResponseError,
)
from timestep.models.resolved import ResolvedModel
from timestep.redaction import redact

if TYPE_CHECKING:
    from agents.agent_output import AgentOutputSchemaBase
    from agents.handoffs import Handoff
    from agents.items import ModelResponse, TResponseInputItem, TResponseStreamEvent
    from agents.model_settings import ModelSettings
    from agents.retry import ModelRetryAdvice, ModelRetryAdviceRequest
    from agents.tool import Tool
    from openai.types.responses.response_prompt_param import ResponsePromptParam

_TERMINAL_STREAM_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})


@dataclass(frozen=True)
class ProviderHints:
    """How to name a provider in messages, and how to fix its usual failures."""

    label: str
    unreachable: str
    auth: str
    not_found: str


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _host_of(error: BaseException) -> str | None:
    """The scheme://host:port an openai/httpx error was about, when it carries its request."""
    for candidate in _chain(error):
        try:
            request = getattr(candidate, "request", None)
        except RuntimeError:  # httpx raises when an error has no request attached
            continue
        if isinstance(request, httpx2.Request):
            url = request.url
            return f"{url.scheme}://{url.netloc.decode()}"
    return None


def served_base_url(model: Model) -> str | None:
    """The base URL of an SDK OpenAI model (Responses or Chat Completions), else ``None``.

    Those models keep their client in ``_client``; the SDK version is pinned, and the tests
    of mapped providers fail if that ever changes.
    """
    client = getattr(model, "_client", None)
    return str(client.base_url).rstrip("/") if isinstance(client, AsyncOpenAI) else None


def _server_message(error: openai.APIStatusError) -> str:
    body = error.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
    return error.message


def provider_failure(
    kind: type[ModelProviderError],
    served: ResolvedModel,
    hints: ProviderHints,
    host: str | None,
    what: str,
    fix: str | None = None,
) -> ModelProviderError:
    """A ``kind`` error whose message names the provider, the host and the model, then the fix; a password in
    the host's URL (or in the error it reports) is redacted."""
    host = redact(host) if host else host
    where = f"{hints.label} at {host}" if host else hints.label
    message = f"{where} {what} for model {served.model!r}."
    if fix:
        message = f"{message} {fix}"
    return kind(redact(message), provider=served.provider, host=host, model=served.model)


def translate_error(error: BaseException, served: ResolvedModel, hints: ProviderHints) -> ModelProviderError | None:
    """The ``ModelProviderError`` for a transport or protocol failure, or ``None`` to re-raise as is."""
    host = served.base_url or _host_of(error)

    def build(kind: type[ModelProviderError], what: str, fix: str | None = None) -> ModelProviderError:
        return provider_failure(kind, served, hints, host, what, fix)

    if isinstance(error, openai.APITimeoutError):
        return build(ModelProviderUnreachableError, "did not answer in time", hints.unreachable)
    if isinstance(error, openai.APIConnectionError):
        causes = list(_chain(error))
        if any(isinstance(cause, httpx2.ConnectError | httpx2.ConnectTimeout) for cause in causes):
            return build(
                ModelProviderUnreachableError,
                "is not reachable (connection refused or failed)",
                hints.unreachable,
            )
        if any(isinstance(cause, httpx2.RemoteProtocolError | httpx2.ReadError) for cause in causes):
            return build(
                ModelResponseError,
                "closed the connection before the answer was complete",
                "The server stopped or the network dropped mid-answer; run again to retry.",
            )
        return build(ModelProviderUnreachableError, f"could not be reached ({error})", hints.unreachable)
    if isinstance(error, openai.AuthenticationError | openai.PermissionDeniedError):
        return build(
            ModelProviderAuthError,
            f"rejected the credentials (HTTP {error.status_code}: {_server_message(error)})",
            hints.auth,
        )
    if isinstance(error, openai.NotFoundError):
        return build(
            ModelNotFoundError,
            f"does not know the model (HTTP 404: {_server_message(error)})",
            hints.not_found,
        )
    if isinstance(error, openai.APIStatusError):
        return build(ModelProviderError, f"failed (HTTP {error.status_code}: {_server_message(error)})")
    if isinstance(error, openai.APIResponseValidationError | json.JSONDecodeError):
        return build(
            ModelResponseError,
            f"sent a malformed response ({error})",
            "Check that the base URL points at an OpenAI-compatible API, not a proxy or web page.",
        )
    if isinstance(error, httpx2.TransportError):
        return build(ModelResponseError, f"failed mid-answer ({type(error).__name__}: {error})")
    return None


@asynccontextmanager
async def _closing(events: AsyncIterator[Any]) -> AsyncIterator[None]:
    """Close the wrapped stream when the consumer stops early (if it can be closed)."""
    try:
        yield
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()


class GuardedModel(Model):
    """An SDK ``Model`` whose transport and protocol failures become ``ModelProviderError``s.

    Everything else (SDK behaviour errors, cancellation) passes through unchanged, and any
    attribute the SDK looks up on its own model classes is forwarded to the wrapped model.
    Streams ask for the final usage chunk unless ``include_usage=False``: the SDK only asks
    api.openai.com, and a run's usage should not depend on which server answered. Once asked,
    a Chat Completions stream that ends without usage did not reach its end (cut short, or not
    an event stream at all) and fails instead of passing for an empty answer.
    """

    def __init__(self, model: Model, served: ResolvedModel, hints: ProviderHints) -> None:
        self.inner = model
        self.served = served
        self.hints = hints

    def __getattr__(self, name: str) -> Any:
        # The runner probes optional hooks (``model``, ``_supports_default_prompt_cache_key``).
        if name == "inner":  # not set yet (a copy under construction): no recursion
            raise AttributeError(name)
        return getattr(self.inner, name)

    def _translate(self, error: Exception) -> ModelProviderError | None:
        return translate_error(error, self.served, self.hints)

    async def get_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None,
        conversation_id: str | None,
        prompt: ResponsePromptParam | None,
    ) -> ModelResponse:
        try:
            return await self.inner.get_response(
                system_instructions,
                input,
                model_settings,
                tools,
                output_schema,
                handoffs,
                tracing,
                previous_response_id=previous_response_id,
                conversation_id=conversation_id,
                prompt=prompt,
            )
        except Exception as error:
            translated = self._translate(error)
            if translated is None:
                raise
            raise translated from error

    async def stream_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None,
        conversation_id: str | None,
        prompt: ResponsePromptParam | None,
    ) -> AsyncIterator[TResponseStreamEvent]:
        if model_settings.include_usage is None:
            model_settings = replace(model_settings, include_usage=True)
        events = self.inner.stream_response(
            system_instructions,
            input,
            model_settings,
            tools,
            output_schema,
            handoffs,
            tracing,
            previous_response_id=previous_response_id,
            conversation_id=conversation_id,
            prompt=prompt,
        )
        usage_expected = model_settings.include_usage is True and isinstance(self.inner, OpenAIChatCompletionsModel)
        finished = False
        try:
            async with _closing(events):
                async for event in events:
                    finished = finished or event.type in _TERMINAL_STREAM_EVENTS
                    if usage_expected and event.type == "response.completed" and event.response.usage is None:
                        raise provider_failure(
                            ModelResponseError,
                            self.served,
                            self.hints,
                            self.served.base_url,
                            "ended its stream before the usage chunk that was requested",
                            "The answer was cut short or was not an event stream; if this server ignores "
                            "stream_options.include_usage, set ModelSettings(include_usage=False).",
                        )
                    yield event
        except Exception as error:
            translated = self._translate(error)
            if translated is None:
                raise
            raise translated from error
        if not finished:
            raise provider_failure(
                ModelResponseError,
                self.served,
                self.hints,
                self.served.base_url,
                "ended its stream before the final event",
                "The answer was truncated or was not an event stream; run again to retry.",
            )

    def get_retry_advice(self, request: ModelRetryAdviceRequest) -> ModelRetryAdvice | None:
        return self.inner.get_retry_advice(request)

    async def close(self) -> None:
        await self.inner.close()

    async def _cleanup_on_run_end(self, owner: object) -> None:
        await self.inner._cleanup_on_run_end(owner)
