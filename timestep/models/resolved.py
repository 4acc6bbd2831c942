"""What a model name resolves to: who serves it, under which name, at which host.

Usage records need the provider and the model name the server actually saw, not the
``prefix/name`` string an agent was configured with; error messages need the host.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class ResolvedModel:
    """The provider, the model name sent to the server, and the server's base URL.

    ``base_url`` is ``None`` when the serving provider does not say where it sends requests
    (a third-party ``ModelProvider`` registered in a ``MultiModelProviderMap``).
    """

    provider: str
    model: str
    base_url: str | None


@runtime_checkable
class ResolvingProvider(Protocol):
    """A provider that can say, without a request, how it would serve a model name."""

    def resolve(self, model_name: str | None) -> ResolvedModel: ...
