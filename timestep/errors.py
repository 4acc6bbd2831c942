"""One error root for everything timestep raises on purpose, in six groups by what the caller does about it.

``TimestepError``
  ``ConfigurationError``  a setting or argument naming code has a value timestep cannot use: change it.
  ``InputError``          a value given to a call or the command line cannot be used as given: change it.
  ``StoreError``          the store (engine, data directory, server, schema, database) failed: fix the store
                          or retry; ``DatabaseError`` is a driver error that left the store, with its SQLSTATE.
  ``RunError``            a run cannot be acted on as asked (not found, not resumable, decided, lost).
  ``StateError``          a saved RunState cannot be read, written or translated faithfully.
  ``ModelProviderError``  a model provider failed a request.

No other class sits directly under ``TimestepError``. Every message says what went wrong and how to fix it;
driver errors are chained with ``raise ... from``. This module imports nothing, so that any layer (and the
command line's fast path) can raise these errors.
"""

from __future__ import annotations

__all__ = [
    "AgentLoadError",
    "AlreadyDecidedError",
    "AlreadyResumingError",
    "ConfigurationError",
    "CorruptDataDirectoryError",
    "DataDirectoryError",
    "DatabaseError",
    "DatabaseUnavailableError",
    "InputError",
    "InputFileError",
    "InvalidIdError",
    "LeaseLostError",
    "MigrationLockTimeout",
    "ModelNotFoundError",
    "ModelProviderAuthError",
    "ModelProviderError",
    "ModelProviderUnreachableError",
    "ModelResponseError",
    "NodeNotFoundError",
    "NodePackagesMissingError",
    "PriceTableError",
    "RecordingError",
    "RecoveryRefusedError",
    "RunError",
    "RunNotFoundError",
    "RunNotResumableError",
    "RunStateError",
    "SchemaError",
    "ScriptExhaustedError",
    "ServerLockedError",
    "ServerStartError",
    "SessionItemError",
    "SessionNotFoundError",
    "SnapshotTooLargeError",
    "StateError",
    "StoreError",
    "TimestepError",
    "ToolCallNotFoundError",
    "TranslationError",
    "UnknownModelPrefixError",
    "UnsafeLocationError",
    "UnstorableError",
    "UnstorableValueError",
    "UnsupportedSchemaVersionError",
]


class TimestepError(Exception):
    """Base class of every error timestep raises deliberately; catch a group below to act by kind.

    ``run_id`` names the stored run an error ended (set when it leaves ``run_agent``, ``resume_run`` or
    ``recover`` after the run was stored), and the message then ends with it, so that the run can be found.
    """

    run_id: str | None = None

    def __str__(self) -> str:
        message = super().__str__()
        return f"{message} (run {self.run_id})" if self.run_id is not None else message


# --- Configuration: change the setting the message names ---------------------------------------------------


class ConfigurationError(TimestepError):
    """A setting (argument or environment variable) has a value timestep cannot use; change the one named."""


class UnknownModelPrefixError(ConfigurationError):
    """A model name starts with a ``prefix/`` that no model provider is registered for; register one or fix
    the name."""


class AgentLoadError(ConfigurationError):
    """A ``module:attribute`` agent path does not import, or does not name an agent; fix the path."""


class PriceTableError(ConfigurationError):
    """A price table (``TIMESTEP_PRICES`` or the packaged one) is unreadable or malformed; fix or unset it."""


# --- Input: change the value given --------------------------------------------------------------------------


class InputError(TimestepError):
    """A value given to a call or to the command line cannot be used as given; nothing was written."""


class UnstorableError(InputError):
    """A value was refused before it reached the database: the store cannot hold it as given."""


class InvalidIdError(UnstorableError):
    """An id (of a session, run, tool call or operation) or an agent name is empty, longer than
    ``timestep.storable.MAX_ID_LENGTH`` characters, or holds a NUL (U+0000) or a lone surrogate."""


class UnstorableValueError(UnstorableError):
    """Text or a document cannot be stored: a NUL (U+0000) where a text column would hold it, a lone
    surrogate anywhere, or more bytes than ``TIMESTEP_MAX_SNAPSHOT_BYTES``."""


class SessionItemError(UnstorableError):
    """An item given to a session cannot be stored: not a mapping, not JSON-serialisable, or too large; fix
    the item at ``index``."""

    def __init__(self, message: str, *, index: int) -> None:
        super().__init__(message)
        self.index = index


class InputFileError(InputError):
    """A file (or standard input) given to the command line cannot be read or parsed; check the path."""


class SessionNotFoundError(InputError):
    """No session has the given id in this store; check the id (``timestep sessions list``)."""


# --- Store: fix the store, or retry once it answers ---------------------------------------------------------


class StoreError(TimestepError):
    """The store cannot be opened or used: its engine, data directory, server, schema or database failed."""


class NodeNotFoundError(StoreError):
    """Node.js, which runs the embedded PGLite engine, is missing or too old; install it or set
    ``TIMESTEP_NODE``."""


class NodePackagesMissingError(StoreError):
    """The pinned npm packages of the embedded engine are not installed; run ``timestep setup``."""


class DataDirectoryError(StoreError):
    """The data directory cannot be created, written, or is not a timestep data directory; choose another."""


class CorruptDataDirectoryError(DataDirectoryError):
    """The embedded engine could not start on an existing data directory (left untouched); restore it from a
    backup, or move it aside to start afresh."""


class UnsafeLocationError(DataDirectoryError):
    """A path of the embedded store belongs to another user, is open to others, or is a symbolic link; fix
    its owner or mode, or choose another location."""


class ServerStartError(StoreError):
    """The embedded engine's server process did not come up; the tail of its log, in the message, says why."""


class ServerLockedError(StoreError):
    """Another process owns the data directory but does not answer on its socket; stop it, or wait."""


class DatabaseUnavailableError(StoreError):
    """A PostgreSQL server (or the embedded one) does not answer a new connection; check it runs, then retry."""


class SchemaError(StoreError):
    """The database schema does not match what this version of timestep knows (fail closed); upgrade
    timestep, or restore the schema it wrote."""


class MigrationLockTimeout(SchemaError):
    """Another process held the migration lock for too long; look for a stuck migration, then retry."""


class DatabaseError(StoreError):
    """The database failed a statement, or the connection under it, as a ``psycopg.Error`` leaving the store:
    ``sqlstate`` is its SQLSTATE (None for a lost connection) and the driver's error is ``__cause__``."""

    def __init__(self, message: str, *, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


# --- Run: the run cannot be acted on as asked ---------------------------------------------------------------


class RunError(TimestepError):
    """A run cannot be acted on as asked: look it up (``timestep runs show``) before trying again."""


class RunNotFoundError(RunError):
    """No run has the given id in this store; check the id (``timestep runs list``)."""


class ToolCallNotFoundError(RunError):
    """The run has no tool call with the given id waiting for a decision; check the call id."""


class AlreadyDecidedError(RunError):
    """The tool call was already approved or rejected; its decision stands."""


class RunNotResumableError(RunError):
    """The run is not in a state that can be resumed (finished, or approvals still undecided); decide its
    pending calls, or leave it."""


class AlreadyResumingError(RunNotResumableError):
    """Another live process is already running or resuming this run; let it finish."""


class RecoveryRefusedError(RunNotResumableError):
    """A run cannot be recovered faithfully: its agent graph has parts the journal cannot replay."""


class LeaseLostError(RunError):
    """Another process took over this run (its lease expired); this process must stop running it."""


class RecordingError(RunError, DatabaseError):
    """The database refused or lost a run's records while they were committed; the run is stored as failed.

    Also a ``DatabaseError`` (``sqlstate``, the driver's error as ``__cause__``): it is one that ended a run."""


# --- State: a saved RunState cannot be used as it is --------------------------------------------------------


class StateError(TimestepError):
    """A RunState (a snapshot, a state file) cannot be read, written or translated faithfully; it is left as
    it was."""


class RunStateError(StateError):
    """A serialized RunState is malformed, truncated, or does not fit the agent graph it is loaded with."""


class UnsupportedSchemaVersionError(RunStateError):
    """A snapshot's schema version is unknown or newer than this SDK reads; it is left as stored."""


class SnapshotTooLargeError(RunStateError):
    """A snapshot exceeds the configured size limit (``TIMESTEP_MAX_SNAPSHOT_BYTES``); raise the limit."""


class TranslationError(StateError):
    """A RunState payload cannot be translated faithfully between the Python and TypeScript SDK formats."""

    def __init__(self, message: str, *, path: str = "$") -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


# --- Model provider: the model server failed a request ------------------------------------------------------


class ModelProviderError(TimestepError):
    """A model provider failed a request; the message names the provider, its host and the model."""

    def __init__(self, message: str, *, provider: str, host: str | None, model: str) -> None:
        super().__init__(message)
        self.provider = provider
        self.host = host
        self.model = model


class ModelProviderUnreachableError(ModelProviderError):
    """The model server refused the connection, could not be resolved, or timed out; check it runs."""


class ModelProviderAuthError(ModelProviderError):
    """The model server rejected the credentials (HTTP 401 or 403); check the API key."""


class ModelNotFoundError(ModelProviderError):
    """The model server does not know the model (HTTP 404); check the name, or pull the model."""


class ModelResponseError(ModelProviderError):
    """The model server's answer was malformed, truncated, or its stream was cut mid-way; retry."""


class ScriptExhaustedError(ModelProviderError):
    """A scripted model (``timestep.testing.ScriptedModel``) was asked for more turns than its script holds;
    add a turn, or find why the run did not end."""

    def __init__(self, message: str, *, model: str = "scripted") -> None:
        super().__init__(message, provider="scripted", host=None, model=model)
