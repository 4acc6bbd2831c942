"""Prefix -> provider registry, the same shape as the SDK's ``MultiProviderMap``."""

from __future__ import annotations

from collections.abc import Mapping

from agents.models.interface import ModelProvider

from timestep.errors import ConfigurationError


class MultiModelProviderMap:
    """Maps a model-name prefix (``"lab"`` in ``"lab/my-model"``) to the provider serving it.

    Entries win over the built-in ``openai/`` and ``ollama/`` routes.
    """

    def __init__(self) -> None:
        self._mapping: dict[str, ModelProvider] = {}

    def has_prefix(self, prefix: str) -> bool:
        """Whether ``prefix`` has a provider."""
        return prefix in self._mapping

    def get_mapping(self) -> dict[str, ModelProvider]:
        """A copy of the prefix -> provider mapping."""
        return self._mapping.copy()

    def set_mapping(self, mapping: Mapping[str, ModelProvider]) -> None:
        """Replace the whole mapping (copied, so later changes to ``mapping`` do not leak in)."""
        self._mapping = dict(mapping)

    def get_provider(self, prefix: str) -> ModelProvider | None:
        """The provider for ``prefix``, or ``None``."""
        return self._mapping.get(prefix)

    def add_provider(self, prefix: str, provider: ModelProvider) -> None:
        """Route ``prefix/...`` model names to ``provider`` (replacing any earlier entry)."""
        if not prefix or "/" in prefix:
            raise ConfigurationError(
                f"A model prefix must be non-empty and contain no '/', got {prefix!r}: "
                "register 'lab' to route 'lab/my-model'."
            )
        self._mapping[prefix] = provider

    def remove_provider(self, prefix: str) -> None:
        """Stop routing ``prefix``; a ``KeyError`` if it was not registered."""
        del self._mapping[prefix]
