"""Model routing: one ``ModelProvider`` for OpenAI, Ollama (local and cloud) and your own prefixes."""

from __future__ import annotations

from timestep.models.guard import GuardedModel, ProviderHints
from timestep.models.multi_provider import MultiModelProvider
from timestep.models.ollama import OllamaModelProvider
from timestep.models.provider_map import MultiModelProviderMap
from timestep.models.resolved import ResolvedModel, ResolvingProvider

__all__ = [
    "GuardedModel",
    "MultiModelProvider",
    "MultiModelProviderMap",
    "OllamaModelProvider",
    "ProviderHints",
    "ResolvedModel",
    "ResolvingProvider",
]
