"""Every ``TIMESTEP_*`` setting is read in ``timestep.config`` and meets a bad value the same way: a
``ConfigurationError`` that names the variable, the accepted values and the default."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from agents import Agent

from timestep import config, run_agent
from timestep.durable.lease import lease_settings
from timestep.errors import ConfigurationError
from timestep.store import open_store
from timestep.testing import ScriptedModel

SECONDS: dict[str, Callable[[], float]] = {
    "TIMESTEP_IDLE_TIMEOUT": config.resolve_idle_timeout,
    "TIMESTEP_LEASE_SECONDS": config.lease_seconds,
    "TIMESTEP_HEARTBEAT_SECONDS": lambda: config.heartbeat_seconds(30.0),
}
NOT_SECONDS = ["nan", "inf", "-inf", "1e400", "0", "-5", "soon", ""]


@pytest.mark.parametrize("name", list(SECONDS))
@pytest.mark.parametrize("raw", NOT_SECONDS)
def test_a_duration_that_no_timer_can_wait_for_is_refused(
    name: str, raw: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, raw)
    with pytest.raises(ConfigurationError, match=rf"^{name}={raw!r} must be a number of seconds from .* default"):
        SECONDS[name]()


@pytest.mark.parametrize("name", list(SECONDS))
def test_a_duration_in_range_is_read(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(name, "2.5")
    assert SECONDS[name]() == 2.5


def test_the_heartbeat_defaults_to_a_third_of_the_lease_at_most_ten_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TIMESTEP_HEARTBEAT_SECONDS", raising=False)
    monkeypatch.setenv("TIMESTEP_LEASE_SECONDS", "6")
    assert lease_settings() == lease_settings(6.0, 2.0)
    monkeypatch.setenv("TIMESTEP_LEASE_SECONDS", "300")
    assert lease_settings().interval == 10.0


@pytest.mark.parametrize("raw", ["lots", "-1", "0", "1.5", "1e6", ""])
def test_a_snapshot_limit_that_is_not_a_positive_whole_number_is_refused(
    raw: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It used to fall back to 32 MiB in silence, so a typo gave a limit nobody chose."""
    monkeypatch.setenv("TIMESTEP_MAX_SNAPSHOT_BYTES", raw)
    with pytest.raises(ConfigurationError, match=r"TIMESTEP_MAX_SNAPSHOT_BYTES=.* positive whole number of bytes"):
        config.max_snapshot_bytes()


async def test_a_bad_lease_setting_stops_a_run_before_the_store_is_opened(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TIMESTEP_LEASE_SECONDS", "nan")
    agent = Agent(name="a", model=ScriptedModel([ScriptedModel.turn(ScriptedModel.text("ok"))]))
    with pytest.raises(ConfigurationError, match="TIMESTEP_LEASE_SECONDS='nan'"):
        await run_agent(agent, "hi", store=open_store(tmp_path / "never-created"))
    assert not (tmp_path / "never-created").exists()
