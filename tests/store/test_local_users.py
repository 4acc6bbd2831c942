"""Other users of the machine: they can neither read the embedded store nor plant a server, a directory or a
link that the store would use. Refusals leave everything untouched.

Some cases need a second user: the tests run as root (as CI does) and act as ``nobody``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import IN_CI
from timestep.errors import ServerLockedError, UnsafeLocationError
from timestep.store import open_store
from timestep.store.embedded_server import EmbeddedServer

ROOT = Path(__file__).resolve().parents[2]
NOBODY = 65534


@pytest.fixture
def as_root() -> None:
    if os.geteuid() != 0:
        message = "acting as a second user needs root (CI runs as root)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def server_dirs(tmp_path: Path) -> Iterator[list[Path]]:
    """Data directories a test makes; their servers are stopped afterwards."""
    made: list[Path] = []
    yield made
    for directory in made:
        with contextlib.suppress(Exception):
            EmbeddedServer(directory, 1.0).stop()


def tree_digest(path: Path) -> str:
    digest = hashlib.sha256()
    for entry in sorted(path.rglob("*")):
        info = entry.lstat()
        digest.update(f"{entry} {info.st_mode} {info.st_uid}".encode())
        if entry.is_file() and not entry.is_symlink():
            digest.update(entry.read_bytes())
    return digest.hexdigest()


OPEN_AND_WRITE = """
import asyncio, sys
from timestep.session import TimestepSession
from timestep.store import open_store
async def main():
    async with open_store(sys.argv[1]) as store:
        await TimestepSession("secret", store).add_items([{"role": "user", "content": "my password is hunter2"}])
asyncio.run(main())
"""


@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_the_data_directory_is_closed_to_other_users_whatever_the_umask(
    tmp_path: Path, server_dirs: list[Path], umask: int
) -> None:
    location = tmp_path / "store"
    server_dirs.append(location)
    subprocess.run(
        [sys.executable, "-c", OPEN_AND_WRITE, str(location)],
        cwd=ROOT, check=True, umask=umask,
    )
    open_to_others = [
        f"{oct(path.lstat().st_mode & 0o777)} {path}"
        for path in [location, *location.rglob("*")]
        if path.lstat().st_mode & 0o077 and not path.is_symlink()
    ]
    assert open_to_others == []
    assert location.stat().st_mode & 0o777 == 0o700


def long_data_dir(tmp_path: Path) -> Path:
    """A data directory whose socket path is too long for ``sun_path``: the socket goes elsewhere."""
    return tmp_path / ("d" * 60) / ("e" * 60) / "store"


class Listener:
    """A stranger's server on a unix socket, recording whether anyone sent it anything."""

    def __init__(self, path: Path) -> None:
        self.received = b""
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self.sock.accept()
                conn.settimeout(1)
                with contextlib.suppress(OSError):
                    self.received += conn.recv(65536)
                conn.close()


async def test_a_socket_directory_planted_by_another_user_is_refused(tmp_path: Path, as_root: None) -> None:
    runtime = tmp_path / "xdg"
    runtime.mkdir()
    location = long_data_dir(tmp_path)
    planted = runtime / f"timestep-{os.getuid()}"
    server = EmbeddedServer(location, 1.0)
    os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    try:
        sockets = server.socket_dir
        assert sockets.parent == planted  # the fallback location is used
        sockets.mkdir(parents=True)
        stranger = Listener(server.socket_path)
        os.chown(sockets, NOBODY, NOBODY)
        os.chown(planted, NOBODY, NOBODY)
        with pytest.raises(UnsafeLocationError, match=rf"{planted}.*belongs to user id {NOBODY}"):
            await open_store(location).open()
        time.sleep(0.2)
        assert stranger.received == b""
        assert not location.exists()
    finally:
        del os.environ["XDG_RUNTIME_DIR"]


async def test_a_socket_directory_open_to_others_is_refused(tmp_path: Path) -> None:
    runtime = tmp_path / "xdg"
    runtime.mkdir()
    os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    try:
        server = EmbeddedServer(long_data_dir(tmp_path), 1.0)
        server.socket_dir.parent.mkdir(mode=0o777)
        os.chmod(server.socket_dir.parent, 0o777)
        with pytest.raises(UnsafeLocationError, match="can be written by other users"):
            await open_store(server.data_dir).open()
    finally:
        del os.environ["XDG_RUNTIME_DIR"]


# Node, since the test's Python lives where the other user cannot run it.
LISTEN_AS_STRANGER = """
const net = require('net')
net.createServer((c) => c.on('data', (d) => console.log('received', d.length)))
  .listen(process.argv[1], () => console.log('listening'))
"""


async def test_a_server_run_by_another_user_is_refused(tmp_path: Path, as_root: None) -> None:
    location = tmp_path / "store"
    server = EmbeddedServer(location, 1.0)
    location.mkdir(mode=0o700)
    server.socket_dir.mkdir(mode=0o700)
    drop = Path(tempfile.mkdtemp(dir=tmp_path.anchor + "tmp"))  # where the other user can reach
    os.chmod(drop, 0o777)
    node = shutil.which("node")
    assert node, "Node.js is needed for the stranger's server"
    stranger = subprocess.Popen(
        [node, "-e", LISTEN_AS_STRANGER, str(drop / "s")], user=NOBODY, stdout=subprocess.PIPE, text=True, cwd="/"
    )
    try:
        assert stranger.stdout is not None
        assert stranger.stdout.readline().strip() == "listening"
        os.rename(drop / "s", server.socket_path)  # the file is ours, the process behind it is not
        os.chown(server.socket_path, 0, 0)
        with pytest.raises(UnsafeLocationError, match=rf"runs as user id {NOBODY}"):
            await open_store(location).open()
        time.sleep(0.3)
        stranger.terminate()
        out, _ = stranger.communicate(timeout=5)
        assert "received" not in out  # nothing was sent to it
    finally:
        stranger.kill()
        shutil.rmtree(drop, ignore_errors=True)


async def test_a_data_directory_of_another_user_is_refused_untouched(tmp_path: Path, as_root: None) -> None:
    location = tmp_path / "store"
    location.mkdir(mode=0o755)
    (location / "server.log").write_text("theirs\n")
    os.chown(location, NOBODY, NOBODY)
    before = tree_digest(location)
    with pytest.raises(UnsafeLocationError, match=rf"belongs to user id {NOBODY}"):
        await open_store(location).open()
    assert tree_digest(location) == before


async def test_a_data_directory_writable_by_others_is_refused_untouched(tmp_path: Path) -> None:
    location = tmp_path / "store"
    location.mkdir()
    os.chmod(location, 0o777)
    before = tree_digest(location)
    with pytest.raises(UnsafeLocationError, match="can be written by other users"):
        await open_store(location).open()
    assert tree_digest(location) == before
    assert location.stat().st_mode & 0o777 == 0o777


@pytest.mark.parametrize("entry", ["server.lock", "server.log", "run", "pgdata"])
async def test_planted_symbolic_links_are_not_followed(tmp_path: Path, entry: str) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious").write_text("keep me\n")
    os.chmod(victim, 0o755)
    location = tmp_path / "store"
    location.mkdir(mode=0o700)
    target = victim if entry in ("run", "pgdata") else victim / "precious"
    (location / entry).symlink_to(target)
    before = tree_digest(victim), tree_digest(location)
    with pytest.raises(UnsafeLocationError, match="symbolic link"):
        await open_store(location).open()
    assert (tree_digest(victim), tree_digest(location)) == before
    assert victim.stat().st_mode & 0o777 == 0o755


def test_server_stop_signals_only_this_directorys_server(tmp_path: Path) -> None:
    location = tmp_path / "store"
    location.mkdir(mode=0o700)
    bystander = subprocess.Popen(["sleep", "60"])
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(location / "server.lock"), str(bystander.pid)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(ServerLockedError, match=rf"names process {bystander.pid}, which is not this"):
            EmbeddedServer(location, 1.0).stop()
        assert bystander.poll() is None  # not signalled
    finally:
        holder.kill()
        bystander.kill()


HOLD_LOCK = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, f"{sys.argv[2]}\\n".encode())
print("locked", flush=True)
time.sleep(60)
"""


async def test_stop_ends_a_server_that_is_running_a_long_statement(tmp_path: Path) -> None:
    location = tmp_path / "store"
    server = EmbeddedServer(location, 30.0)
    async with open_store(location) as store, store.transaction() as conn:
        await conn.execute("INSERT INTO timestep_sessions (session_id) VALUES ('kept')")
    pid = server.status().pid
    busy = psycopg.connect(server.conninfo(), autocommit=True)
    sleeper = threading.Thread(target=_sleep_quietly, args=(busy,), daemon=True)
    sleeper.start()
    time.sleep(0.3)
    assert server.stop(timeout_s=1.0) is True
    assert pid is not None and not _alive(pid)
    async with open_store(location) as store, store.connection() as conn:
        cur = await conn.execute("SELECT session_id FROM timestep_sessions")
        assert await cur.fetchall() == [("kept",)]
    server.stop()


def _sleep_quietly(conn: psycopg.Connection[object]) -> None:
    with contextlib.suppress(psycopg.Error):
        conn.execute("SELECT pg_sleep(30)")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_lock_file_is_opened_without_following_links(tmp_path: Path) -> None:
    location = tmp_path / "store"
    location.mkdir(mode=0o700)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (location / "server.lock").symlink_to(victim)
    with pytest.raises(UnsafeLocationError):
        EmbeddedServer(location, 1.0).status()
    assert victim.read_text() == "precious\n"
    fd = os.open(victim, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # nobody locked it
    finally:
        os.close(fd)
