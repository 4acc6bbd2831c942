"""Settings resolved in one place: argument, then environment variable, then default."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import platformdirs

from timestep.errors import ConfigurationError

Durability = Literal["process", "full"]
DURABILITIES: tuple[Durability, ...] = ("process", "full")

#: Durability when neither the argument nor ``TIMESTEP_DURABILITY`` says otherwise. Chosen from the
#: measurement in ``scripts/bench_store.py``: see the README's figures.
DEFAULT_DURABILITY: Durability = "process"
DEFAULT_IDLE_TIMEOUT_S = 30.0
DEFAULT_MAX_SNAPSHOT_BYTES = 32 * 1024 * 1024
#: The server counts the idle timeout in whole milliseconds, so a shorter one would be zero.
MIN_IDLE_TIMEOUT_S = 0.001
#: About 31 years: longer would not mean anything more, and beyond 1.8e305 the milliseconds overflow a float.
MAX_IDLE_TIMEOUT_S = 1e9


@dataclass(frozen=True)
class StoreLocation:
    """Where a store lives: an embedded data directory or a PostgreSQL server URL."""

    kind: Literal["embedded", "server"]
    value: str  # a directory path, or a postgresql:// URL

    @property
    def path(self) -> Path:
        if self.kind != "embedded":
            raise ConfigurationError(f"{self.value!r} is a server URL, not a data directory")
        return Path(self.value)


def timestep_home() -> Path:
    """The default data directory: ``$TIMESTEP_HOME`` or the platform's user data directory."""
    home = os.environ.get("TIMESTEP_HOME")
    if home:
        return Path(home).expanduser()
    return Path(platformdirs.user_data_dir("timestep", appauthor=False))


def node_cache_root() -> Path:
    """Where the embedded engine's npm packages are installed (one folder per lock file hash)."""
    override = os.environ.get("TIMESTEP_NODE_DIR")
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_cache_dir("timestep", appauthor=False)) / "node"


def resolve_location(location: str | os.PathLike[str] | None) -> StoreLocation:
    """A path or URL argument wins; else ``TIMESTEP_DATABASE_URL``; else the default data directory."""
    if location is None:
        url = os.environ.get("TIMESTEP_DATABASE_URL")
        if url:
            return _from_string(url)
        return StoreLocation("embedded", str(timestep_home()))
    return _from_string(os.fspath(location))


def _from_string(value: str) -> StoreLocation:
    if value.startswith(("postgresql://", "postgres://")):
        return StoreLocation("server", value)
    if "://" in value:
        raise ConfigurationError(
            f"unsupported store location {value!r}: give a data directory path or a postgresql:// URL"
        )
    return StoreLocation("embedded", str(Path(value).expanduser().absolute()))


def resolve_durability(durability: str | None) -> Durability:
    value = durability or os.environ.get("TIMESTEP_DURABILITY") or DEFAULT_DURABILITY
    for known in DURABILITIES:
        if value == known:
            return known
    raise ConfigurationError(
        f"unknown durability {value!r}: use one of {', '.join(DURABILITIES)} "
        "(argument durability= or TIMESTEP_DURABILITY)"
    )


def resolve_idle_timeout() -> float:
    """Seconds an embedded server with no client waits before it exits (``TIMESTEP_IDLE_TIMEOUT``).

    ``float`` also reads ``nan`` and ``inf``, which no server can wait for: only finite values in range pass.
    """
    raw = os.environ.get("TIMESTEP_IDLE_TIMEOUT")
    if raw is None:
        return DEFAULT_IDLE_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and MIN_IDLE_TIMEOUT_S <= value <= MAX_IDLE_TIMEOUT_S):
        raise ConfigurationError(
            f"TIMESTEP_IDLE_TIMEOUT={raw!r} must be a number of seconds from {MIN_IDLE_TIMEOUT_S:g} to "
            f"{MAX_IDLE_TIMEOUT_S:g} (the default is {DEFAULT_IDLE_TIMEOUT_S:g}); set it to one, or unset it"
        )
    return value


def max_snapshot_bytes() -> int:
    """The largest snapshot, and so the largest single value a run records (``TIMESTEP_MAX_SNAPSHOT_BYTES``)."""
    raw = os.environ.get("TIMESTEP_MAX_SNAPSHOT_BYTES")
    return int(raw) if raw and raw.isdigit() else DEFAULT_MAX_SNAPSHOT_BYTES
