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
DEFAULT_LEASE_S = 30.0
DEFAULT_HEARTBEAT_S = 10.0
#: The shortest lease: a tenth of a second, about what one commit can take on a busy machine.
MIN_LEASE_S = 0.1
#: About 31 years: longer would not mean anything more, and beyond 1.8e305 the milliseconds overflow a float.
MAX_SECONDS = 1e9


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
    """Seconds an embedded server with no client waits before it exits (``TIMESTEP_IDLE_TIMEOUT``)."""
    return _seconds("TIMESTEP_IDLE_TIMEOUT", DEFAULT_IDLE_TIMEOUT_S, MIN_IDLE_TIMEOUT_S)


def lease_seconds() -> float:
    """How long a run's lease lasts before another process may take the run over (``TIMESTEP_LEASE_SECONDS``)."""
    return _seconds("TIMESTEP_LEASE_SECONDS", DEFAULT_LEASE_S, MIN_LEASE_S)


def heartbeat_seconds(lease: float) -> float:
    """How often a run renews its lease (``TIMESTEP_HEARTBEAT_SECONDS``); by default a third of the lease,
    at most 10 s, so that two renewals can fail before the lease expires."""
    return _seconds("TIMESTEP_HEARTBEAT_SECONDS", min(DEFAULT_HEARTBEAT_S, lease / 3), MIN_LEASE_S / 3)


def max_snapshot_bytes() -> int:
    """The largest snapshot, and so the largest single value a run records (``TIMESTEP_MAX_SNAPSHOT_BYTES``)."""
    raw = os.environ.get("TIMESTEP_MAX_SNAPSHOT_BYTES")
    if raw is None:
        return DEFAULT_MAX_SNAPSHOT_BYTES
    if not (raw.strip().isdigit() and int(raw) > 0):
        raise ConfigurationError(
            f"TIMESTEP_MAX_SNAPSHOT_BYTES={raw!r} must be a positive whole number of bytes (the default is "
            f"{DEFAULT_MAX_SNAPSHOT_BYTES:,}); set it to one, or unset it"
        )
    return int(raw)


def prices_file() -> str | None:
    """A JSON file of model prices that replaces the bundled table (``TIMESTEP_PRICES``), if set."""
    return os.environ.get("TIMESTEP_PRICES") or None


def configured_node() -> str | None:
    """The Node.js executable the embedded engine runs on (``TIMESTEP_NODE``), if set; else ``node`` on PATH."""
    return os.environ.get("TIMESTEP_NODE") or None


def _seconds(name: str, default: float, minimum: float) -> float:
    """A duration setting: a finite number of seconds from ``minimum`` to ``MAX_SECONDS``; anything else is
    refused (``float`` also reads ``nan`` and ``inf``, which no timer can wait for)."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and minimum <= value <= MAX_SECONDS):
        raise ConfigurationError(
            f"{name}={raw!r} must be a number of seconds from {minimum:g} to {MAX_SECONDS:g} (the default is "
            f"{default:g}); set it to one, or unset it"
        )
    return value
