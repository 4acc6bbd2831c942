"""Model routing: one ``ModelProvider`` for OpenAI, Ollama (local and cloud) and your own prefixes.

::

    provider = MultiModelProvider(openai_api_key=os.environ.get("OPENAI_API_KEY", ""))
    Agent(model="gpt-4.1")                    # OpenAI
    Agent(model="ollama/llama3")              # local Ollama (OLLAMA_HOST, else localhost:11434)
    Agent(model="ollama/gpt-oss:120b-cloud")  # Ollama Cloud (OLLAMA_API_KEY)

    provider_map = MultiModelProviderMap()
    provider_map.add_provider("lab", OpenAIProvider(base_url="http://lab:8000/v1"))
    provider = MultiModelProvider(provider_map=provider_map)  # "lab/my-model" -> the lab server
    provider.resolve("ollama/llama3")  # ResolvedModel("ollama", "llama3", "http://localhost:11434/v1")

Failures of the model server raise ``timestep.errors.ModelProviderError`` subclasses that name
the provider, the host and the model.
"""

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
