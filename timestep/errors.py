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


class UnsafeLocationError(DataDirectoryError):
    """A path of the embedded store belongs to another user, is open to others, or is a symbolic link."""


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


class RunStateError(TimestepError):
    """A serialized RunState is malformed, truncated, or does not fit the agent graph it is loaded with."""


class UnsupportedSchemaVersionError(RunStateError):
    """A snapshot's schema version is unknown or newer than this SDK reads; it is left as stored."""


class SnapshotTooLargeError(RunStateError):
    """A snapshot exceeds the configured size limit (``TIMESTEP_MAX_SNAPSHOT_BYTES``)."""


class RunNotFoundError(TimestepError):
    """No run has the given id in this store."""


class ToolCallNotFoundError(TimestepError):
    """The run has no tool call with the given id waiting for a decision."""


class AlreadyDecidedError(TimestepError):
    """The tool call was already approved or rejected."""


class RunNotResumableError(TimestepError):
    """The run is not in a state that can be resumed (finished, or approvals still undecided)."""


class AlreadyResumingError(RunNotResumableError):
    """Another live process is already running or resuming this run."""


class UnstorableError(TimestepError):
    """A value was refused before it reached the database: the store cannot hold it as given."""


class InvalidIdError(UnstorableError):
    """An id (of a session, run, tool call or operation) or an agent name is empty, longer than
    ``timestep.storable.MAX_ID_LENGTH`` characters, or holds a NUL (U+0000) or a lone surrogate."""


class UnstorableValueError(UnstorableError):
    """Text or a document cannot be stored: a NUL (U+0000) where a text column would hold it, a lone
    surrogate anywhere, or more bytes than ``TIMESTEP_MAX_SNAPSHOT_BYTES``."""


class RecordingError(TimestepError):
    """The database refused or lost a run's records while they were committed; the run is stored as failed."""


class SessionItemError(UnstorableError):
    """An item given to a session cannot be stored: not a mapping, not JSON-serialisable, or too large."""

    def __init__(self, message: str, *, index: int) -> None:
        super().__init__(message)
        self.index = index


class AgentLoadError(ConfigurationError):
    """A ``module:attribute`` agent path does not import, or does not name an agent."""


class InputFileError(TimestepError):
    """A file (or standard input) given to the command line cannot be read or parsed."""


class SessionNotFoundError(TimestepError):
    """No session has the given id in this store."""


class PriceTableError(ConfigurationError):
    """A price table (``TIMESTEP_PRICES`` or the packaged one) is unreadable or malformed."""


class RecoveryRefusedError(RunNotResumableError):
    """A run cannot be recovered faithfully: its agent graph has parts the journal cannot replay."""


class LeaseLostError(TimestepError):
    """Another process took over this run (its lease expired); this process must stop running it."""
