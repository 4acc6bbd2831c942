"""One model provider for every agent: the model name's prefix picks the service.

Shaped like the SDK's ``MultiProvider`` so it drops into ``RunConfig(model_provider=...)``, with
an ``ollama/`` route built in, errors that name provider, host and model, and ``resolve()`` so
usage can be recorded against the provider and the model name the server actually saw.
"""

from __future__ import annotations

import asyncio
import os

import openai
from agents.models.default_models import get_default_model
from agents.models.interface import Model, ModelProvider
from agents.models.openai_provider import OpenAIProvider
from openai import AsyncOpenAI

from timestep.errors import ConfigurationError, UnknownModelPrefixError
from timestep.models.guard import GuardedModel, ProviderHints, served_base_url
from timestep.models.ollama import OllamaModelProvider
from timestep.models.provider_map import MultiModelProviderMap
from timestep.models.resolved import ResolvedModel, ResolvingProvider

OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"

_OPENAI_HINTS = ProviderHints(
    label="OpenAI",
    unreachable="Check the network, or OPENAI_BASE_URL / openai_base_url= if you meant another server.",
    auth="Set OPENAI_API_KEY (or pass openai_api_key=) to a valid key.",
    not_found="Check the model name, and that your key's project has access to it.",
)


def _mapped_hints(prefix: str) -> ProviderHints:
    return ProviderHints(
        label=f"model provider {prefix!r}",
        unreachable="Check that its server is running at the base URL the provider was given.",
        auth="Check the API key the provider was given.",
        not_found="Check the model name after the prefix.",
    )


class MultiModelProvider(ModelProvider):
    """Routes a model name by its prefix.

    - no prefix, or ``openai/``: OpenAI (``openai_*`` arguments, as for the SDK's ``OpenAIProvider``);
    - ``ollama/``: :class:`OllamaModelProvider` (local, or Ollama Cloud for ``-cloud`` models);
    - any prefix registered in ``provider_map``, which wins over both built-in routes (register an
      ``OllamaModelProvider(...)`` under ``"ollama"`` to configure the Ollama route).

    Any other prefix raises :class:`UnknownModelPrefixError` listing the known ones.
    """

    def __init__(
        self,
        *,
        provider_map: MultiModelProviderMap | None = None,
        openai_api_key: str | None = None,
        openai_base_url: str | None = None,
        openai_client: AsyncOpenAI | None = None,
        openai_organization: str | None = None,
        openai_project: str | None = None,
        openai_use_responses: bool | None = None,
    ) -> None:
        self.provider_map = provider_map
        self.openai_provider = OpenAIProvider(
            api_key=openai_api_key,
            base_url=openai_base_url,
            openai_client=openai_client,
            organization=openai_organization,
            project=openai_project,
            use_responses=openai_use_responses,
        )
        self.ollama_provider = OllamaModelProvider()
        self._openai_base_url = openai_base_url
        self._openai_client = openai_client

    def known_prefixes(self) -> list[str]:
        """Every prefix this provider routes, built-in ones first."""
        mapped = self.provider_map.get_mapping() if self.provider_map is not None else {}
        return [
            "openai",
            "ollama",
            *sorted(prefix for prefix in mapped if prefix not in ("openai", "ollama")),
        ]

    def _route(self, model_name: str | None) -> tuple[str, ModelProvider, str | None]:
        """(prefix, provider, name passed to that provider)."""
        if model_name is None or "/" not in model_name:
            return "openai", self.openai_provider, model_name
        prefix, rest = model_name.split("/", 1)
        mapped = self.provider_map.get_provider(prefix) if self.provider_map is not None else None
        if mapped is not None:
            return prefix, mapped, rest
        if prefix == "openai":
            return prefix, self.openai_provider, rest
        if prefix == "ollama":
            return prefix, self.ollama_provider, rest
        known = ", ".join(f"'{known}/'" for known in self.known_prefixes())
        raise UnknownModelPrefixError(
            f"Unknown model prefix {prefix!r} in {model_name!r}. Known prefixes: {known}, or none for "
            "OpenAI. Register another with MultiModelProviderMap.add_provider(prefix, provider)."
        )

    def _openai_served_base_url(self) -> str:
        if self._openai_client is not None:
            return str(self._openai_client.base_url).rstrip("/")
        configured = self._openai_base_url or os.environ.get("OPENAI_BASE_URL")
        return (configured or OPENAI_DEFAULT_BASE_URL).rstrip("/")

    def resolve(self, model_name: str | None) -> ResolvedModel:
        """Which provider serves ``model_name``, the model name sent to it, and its base URL.

        For the built-in routes the base URL is the one configured here (for OpenAI:
        ``openai_client``, ``openai_base_url``, ``OPENAI_BASE_URL``, else api.openai.com). A
        registered provider that has its own ``resolve()`` answers for itself; for any other,
        ``provider`` is its prefix and ``base_url`` is ``None`` (known only once ``get_model``
        has built the model, which then reports it in its errors).
        """
        prefix, provider, name = self._route(model_name)
        if provider is self.openai_provider:
            return ResolvedModel("openai", name or get_default_model(), self._openai_served_base_url())
        if isinstance(provider, ResolvingProvider):
            return provider.resolve(name)
        return ResolvedModel(prefix, name or "", None)

    def get_model(self, model_name: str | None) -> Model:
        prefix, provider, name = self._route(model_name)
        try:
            model = provider.get_model(name)
        except openai.OpenAIError as error:  # raised when the client cannot be built, e.g. no API key
            raise ConfigurationError(
                f"Cannot create the client for model {model_name!r} ({prefix}): {error} "
                "For OpenAI, set OPENAI_API_KEY or pass openai_api_key=."
            ) from error
        if isinstance(model, GuardedModel):
            return model
        if provider is self.openai_provider:
            return GuardedModel(model, self.resolve(model_name), _OPENAI_HINTS)
        served = ResolvedModel(prefix, name or "", served_base_url(model))
        return GuardedModel(model, served, _mapped_hints(prefix))

    async def aclose(self) -> None:
        """Close every distinct child provider; the first failure is raised after all were tried."""
        providers: list[ModelProvider] = [self.openai_provider, self.ollama_provider]
        if self.provider_map is not None:
            providers.extend(self.provider_map.get_mapping().values())
        seen: set[int] = set()
        first_error: Exception | None = None
        for provider in providers:
            if provider is self or id(provider) in seen:
                continue
            seen.add(id(provider))
            try:
                await provider.aclose()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                first_error = first_error or error
        if first_error is not None:
            raise first_error
