"""Bad set-ups get an error that names the problem and the fix, and stored data stays as it was."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from timestep.errors import (
    ConfigurationError,
    CorruptDataDirectoryError,
    DatabaseUnavailableError,
    DataDirectoryError,
    NodeNotFoundError,
    NodePackagesMissingError,
    ServerLockedError,
    TimestepError,
)
from timestep.store import node_runtime, open_store
from timestep.store.embedded_server import EmbeddedServer


@pytest.fixture
def fresh_node_lookup() -> Iterator[None]:
    node_runtime.node_executable.cache_clear()
    yield
    node_runtime.node_executable.cache_clear()


def tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(root)).encode() + path.read_bytes())
    return digest.hexdigest()


async def test_missing_node_names_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_node_lookup: None
) -> None:
    monkeypatch.setenv("TIMESTEP_NODE", str(tmp_path / "no-such-node"))
    with pytest.raises(NodeNotFoundError, match="TIMESTEP_NODE"):
        await open_store(tmp_path / "store").open()
    node_runtime.node_executable.cache_clear()
    monkeypatch.delenv("TIMESTEP_NODE")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(NodeNotFoundError, match=r"not found on PATH.*Install Node\.js"):
        await open_store(tmp_path / "store").open()


async def test_too_old_node_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_node_lookup: None
) -> None:
    old_node = tmp_path / "node"
    old_node.write_text("#!/bin/sh\necho v16.20.2\n")
    old_node.chmod(old_node.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("TIMESTEP_NODE", str(old_node))
    with pytest.raises(NodeNotFoundError, match=r"v16\.20\.2 .* too old"):
        await open_store(tmp_path / "store").open()


async def test_missing_npm_packages_name_the_setup_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIMESTEP_NODE_DIR", str(tmp_path / "empty-cache"))
    with pytest.raises(NodePackagesMissingError, match="timestep setup"):
        await open_store(tmp_path / "store").open()


async def test_unusable_data_directory(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(DataDirectoryError, match="data directory"):
        await open_store(blocker / "store").open()
    assert blocker.read_text() == "not a directory"


async def test_foreign_non_empty_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(DataDirectoryError, match="not a timestep data directory"):
        await open_store(tmp_path).open()
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


async def test_corrupt_data_directory_is_reported_and_left_alone(tmp_path: Path, embedded_dir: Path) -> None:
    async with open_store(embedded_dir):
        pass
    broken = tmp_path / "broken"
    EmbeddedServer(embedded_dir, 1).stop()
    shutil.copytree(embedded_dir, broken)
    control = broken / "pgdata" / "global" / "pg_control"
    control.write_bytes(b"\xff" * control.stat().st_size)
    before = tree_digest(broken / "pgdata")
    with pytest.raises(CorruptDataDirectoryError, match="left untouched"):
        await open_store(broken).open()
    assert tree_digest(broken / "pgdata") == before


def test_owner_that_does_not_answer_is_named(tmp_path: Path) -> None:
    server = EmbeddedServer(tmp_path / "store", 1)
    server.data_dir.mkdir()
    fd = os.open(server.lock_path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, f"{os.getpid()}\n".encode())
        with pytest.raises(ServerLockedError, match=rf"process {os.getpid()} owns .*timestep server stop"):
            server.ensure_running(timeout_s=0.5)
    finally:
        os.close(fd)


async def test_server_url_that_does_not_answer(tmp_path: Path) -> None:
    with pytest.raises(DatabaseUnavailableError, match="does not answer") as raised:
        await open_store(f"postgresql://someone:secret@/nodb?host={tmp_path}").open()
    assert "secret" not in str(raised.value)


def test_bad_settings_are_configuration_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="unsupported store location"):
        open_store("mysql://host/db")
    with pytest.raises(ConfigurationError, match="durability"):
        open_store("/tmp/x", durability="sometimes")
    assert issubclass(ConfigurationError, TimestepError)


async def test_pgdata_that_is_not_a_cluster_is_refused_and_left_alone(tmp_path: Path) -> None:
    pgdata = tmp_path / "store" / "pgdata"
    pgdata.mkdir(parents=True)
    (pgdata / "notes.txt").write_text("mine")
    with pytest.raises(CorruptDataDirectoryError, match=r"holds files but no PostgreSQL cluster \(no PG_VERSION\)"):
        await open_store(tmp_path / "store").open()
    assert [p.name for p in pgdata.iterdir()] == ["notes.txt"] and (pgdata / "notes.txt").read_text() == "mine"
