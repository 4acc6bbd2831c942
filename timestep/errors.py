"""One error root for everything timestep raises on purpose.

Every message says what went wrong and how to fix it; driver errors are chained with ``raise ... from``.
"""

from __future__ import annotations


class TimestepError(Exception):
    """Base class of every error timestep raises deliberately."""


class ConfigurationError(TimestepError):
    """A setting (argument or environment variable) has a value timestep cannot use."""


class NodeNotFoundError(TimestepError):
    """Node.js, which runs the embedded PGLite engine, is missing or too old."""


class NodePackagesMissingError(TimestepError):
    """The pinned npm packages of the embedded engine are not installed."""


class DataDirectoryError(TimestepError):
    """The data directory cannot be created, written, or is not a timestep data directory."""


class CorruptDataDirectoryError(DataDirectoryError):
    """The embedded engine could not start on an existing data directory (left untouched)."""


class ServerStartError(TimestepError):
    """The embedded engine's server process did not come up."""


class ServerLockedError(TimestepError):
    """Another process owns the data directory but does not answer on its socket."""


class DatabaseUnavailableError(TimestepError):
    """A PostgreSQL server URL does not answer."""


class SchemaError(TimestepError):
    """The database schema does not match what this version of timestep knows (fail closed)."""


class MigrationLockTimeout(SchemaError):
    """Another process held the migration lock for too long."""


class ScriptExhaustedError(TimestepError):
    """A scripted model was asked for more turns than its script holds."""


class TranslationError(TimestepError):
    """A RunState payload cannot be translated faithfully between the Python and TypeScript SDK formats."""

    def __init__(self, message: str, *, path: str = "$") -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


class UnknownModelPrefixError(ConfigurationError):
    """A model name starts with a ``prefix/`` that no model provider is registered for."""


class ModelProviderError(TimestepError):
    """A model provider failed a request; the message names the provider, its host and the model."""

    def __init__(self, message: str, *, provider: str, host: str | None, model: str) -> None:
        super().__init__(message)
        self.provider = provider
        self.host = host
        self.model = model


class ModelProviderUnreachableError(ModelProviderError):
    """The model server refused the connection, could not be resolved, or timed out."""


class ModelProviderAuthError(ModelProviderError):
    """The model server rejected the credentials (HTTP 401 or 403)."""


class ModelNotFoundError(ModelProviderError):
    """The model server does not know the model (HTTP 404)."""


class ModelResponseError(ModelProviderError):
    """The model server's answer was malformed, truncated, or its stream was cut mid-way."""
