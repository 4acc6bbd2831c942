"""Every error timestep raises belongs to one of a few groups, so that callers can catch by what they do
about it; the names callers caught before the groups existed still catch what they did."""

from __future__ import annotations

import inspect

import pytest

import timestep.errors as errors
from timestep.errors import (
    ConfigurationError,
    DatabaseError,
    InputError,
    ModelProviderError,
    RunError,
    StateError,
    StoreError,
    TimestepError,
)

GROUPS = (ConfigurationError, InputError, StoreError, RunError, StateError, ModelProviderError)


def _descendants(base: type[BaseException]) -> set[type[BaseException]]:
    found: set[type[BaseException]] = set()
    for sub in base.__subclasses__():
        found |= {sub, *_descendants(sub)}
    return found


ALL = sorted(_descendants(TimestepError), key=lambda c: c.__name__)


def test_only_the_groups_sit_directly_under_the_root() -> None:
    assert set(TimestepError.__subclasses__()) == set(GROUPS)


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_every_error_is_in_a_group(cls: type[TimestepError]) -> None:
    assert cls in GROUPS or any(group in cls.__mro__ for group in GROUPS)
    assert cls.__doc__ and cls.__doc__.strip(), f"{cls.__name__} says nothing of when it is raised"


def test_every_error_of_the_module_is_listed_and_descends_from_the_root() -> None:
    defined = {name for name, value in vars(errors).items()
               if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == errors.__name__}
    assert set(errors.__all__) == defined
    assert {cls.__name__ for cls in ALL} | {"TimestepError"} == defined


@pytest.mark.parametrize(("name", "old_base"), [
    ("AlreadyResumingError", "RunNotResumableError"),
    ("RecoveryRefusedError", "RunNotResumableError"),
    ("UnknownModelPrefixError", "ConfigurationError"),
    ("AgentLoadError", "ConfigurationError"),
    ("PriceTableError", "ConfigurationError"),
    ("CorruptDataDirectoryError", "DataDirectoryError"),
    ("UnsafeLocationError", "DataDirectoryError"),
    ("MigrationLockTimeout", "SchemaError"),
    ("UnsupportedSchemaVersionError", "RunStateError"),
    ("SnapshotTooLargeError", "RunStateError"),
    ("InvalidIdError", "UnstorableError"),
    ("UnstorableValueError", "UnstorableError"),
    ("SessionItemError", "UnstorableError"),
    ("ModelProviderUnreachableError", "ModelProviderError"),
    ("ModelProviderAuthError", "ModelProviderError"),
    ("ModelNotFoundError", "ModelProviderError"),
    ("ModelResponseError", "ModelProviderError"),
])
def test_the_bases_callers_relied_on_are_kept(name: str, old_base: str) -> None:
    assert issubclass(getattr(errors, name), getattr(errors, old_base))


def test_a_recording_error_is_a_run_error_and_a_database_error() -> None:
    failed = errors.RecordingError("run r: the database refused its records", sqlstate="23514")
    assert isinstance(failed, RunError) and isinstance(failed, DatabaseError) and isinstance(failed, StoreError)
    assert failed.sqlstate == "23514"
    assert errors.RecordingError("no sqlstate given").sqlstate is None


def test_a_scripted_model_that_runs_out_is_a_model_provider_error() -> None:
    exhausted = errors.ScriptExhaustedError("only 0 turns were scripted", model="demo")
    assert isinstance(exhausted, ModelProviderError)
    assert (exhausted.provider, exhausted.host, exhausted.model) == ("scripted", None, "demo")
