"""One PGLite server process per data directory, found or started by whichever process needs it.

PGLite has no lock of its own and two processes opening one data directory corrupt it silently, so the
process that starts the server takes an exclusive ``flock`` on ``server.lock`` and hands the locked file
descriptor down to the Node process: the lock lives exactly as long as the server. Every other process,
Python or Node, connects to the server's unix socket. The server exits after an idle timeout; a client
that finds no server (never started, idle-exited, killed) takes the lock and starts a new one.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from timestep.errors import (
    CorruptDataDirectoryError,
    DataDirectoryError,
    ServerLockedError,
    ServerStartError,
)
from timestep.store import node_runtime

SOCKET_NAME = ".s.PGSQL.5432"
_MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes on Linux, fewer elsewhere
_EXIT_CANNOT_OPEN = 3  # launcher.mjs exits with this when PGLite refuses the data directory
_POLL_S = 0.005


@dataclass(frozen=True)
class ServerStatus:
    running: bool
    pid: int | None
    socket_path: Path


@dataclass(frozen=True)
class EmbeddedServer:
    """The server of one data directory: where its files are, and how to reach or start it."""

    data_dir: Path
    idle_timeout_s: float
    max_clients: int = 256

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    @property
    def lock_path(self) -> Path:
        return self.data_dir / "server.lock"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "server.log"

    @property
    def socket_dir(self) -> Path:
        local = self.data_dir / "run"
        if len(str(local / SOCKET_NAME)) <= _MAX_SOCKET_PATH:
            return local
        digest = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:16]
        base = Path(os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir())
        return base / f"timestep-{os.getuid()}" / digest

    @property
    def socket_path(self) -> Path:
        return self.socket_dir / SOCKET_NAME

    def conninfo(self) -> str:
        return f"host={self.socket_dir} port=5432 user=postgres dbname=postgres sslmode=disable"

    def is_answering(self) -> bool:
        """Whether a server accepts connections on the socket right now."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(str(self.socket_path))
            except OSError:
                return False
        return True

    def ensure_running(self, timeout_s: float = 60.0) -> None:
        """Return once a server answers on the socket, starting one if no process owns the directory."""
        if self.is_answering():
            return
        self._prepare_directories()
        deadline = time.monotonic() + timeout_s
        while True:
            lock_fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(lock_fd)
                if self._wait_for_owner(deadline):
                    return
                continue  # the owner exited while we waited: try to become the owner
            try:
                process = self._spawn(lock_fd)
            finally:
                os.close(lock_fd)  # the server keeps its inherited copy, and with it the lock
            self._wait_until_answering(process, deadline)
            return

    def status(self) -> ServerStatus:
        return ServerStatus(self.is_answering(), self._owner_pid(), self.socket_path)

    def stop(self, timeout_s: float = 10.0) -> bool:
        """Ask the owning server to exit (SIGTERM) and wait until the lock is free; False if none ran."""
        pid = self._owner_pid()
        if pid is None:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while self._owner_pid() is not None:
            if time.monotonic() > deadline:
                raise ServerLockedError(
                    f"the PGLite server (pid {pid}) of {self.data_dir} did not stop within {timeout_s:.0f} s; "
                    f"end it with `kill -9 {pid}` (committed data is safe)"
                )
            time.sleep(0.02)
        return True

    def _owner_pid(self) -> int | None:
        """The pid of the process holding the lock, or None when the directory has no owner."""
        try:
            fd = os.open(self.lock_path, os.O_RDWR)
        except FileNotFoundError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                text = os.pread(fd, 32, 0).decode(errors="replace").strip()
                return int(text) if text.isdigit() else -1
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)

    def _prepare_directories(self) -> None:
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            entries = [entry.name for entry in self.data_dir.iterdir()]
            if entries and not any(_is_ours(name) for name in entries):
                raise DataDirectoryError(
                    f"{self.data_dir} is not empty and is not a timestep data directory; "
                    "give an empty or new directory (argument or TIMESTEP_HOME)"
                )
            self.socket_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.socket_dir.chmod(0o700)
            if self.socket_dir.parent.name.startswith("timestep-"):
                self.socket_dir.parent.chmod(0o700)
            with tempfile.TemporaryFile(dir=self.data_dir, prefix=".write-test-"):  # unique: processes race here
                pass
        except PermissionError as exc:
            raise DataDirectoryError(
                f"cannot write to the data directory {self.data_dir} ({exc.strerror}); fix its permissions "
                "or choose another directory (argument or TIMESTEP_HOME)"
            ) from exc
        except OSError as exc:
            if isinstance(exc, DataDirectoryError):
                raise
            raise DataDirectoryError(f"cannot use the data directory {self.data_dir}: {exc}") from exc

    def _spawn(self, lock_fd: int) -> subprocess.Popen[bytes]:
        node = node_runtime.node_executable()
        launcher = node_runtime.launcher_path()
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()  # left by a server that was killed; we hold the lock
        with open(self.log_path, "ab") as log:
            process = subprocess.Popen(
                [
                    node,
                    str(launcher),
                    str(self.pgdata),
                    str(self.socket_path),
                    str(int(self.idle_timeout_s * 1000)),
                    str(self.max_clients),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                pass_fds=(lock_fd,),
                start_new_session=True,  # a Ctrl-C in the starting terminal must not kill the shared server
                cwd=launcher.parent,
            )
        os.ftruncate(lock_fd, 0)
        os.pwrite(lock_fd, f"{process.pid}\n".encode(), 0)
        threading.Thread(target=process.wait, name="timestep-server-reaper", daemon=True).start()
        return process

    def _wait_until_answering(self, process: subprocess.Popen[bytes], deadline: float) -> None:
        while not self.is_answering():
            code = process.poll()
            if code is not None:
                tail = _tail(self.log_path)
                if code == _EXIT_CANNOT_OPEN:
                    raise CorruptDataDirectoryError(
                        f"PGLite could not open the data directory {self.pgdata}; it was left untouched. "
                        f"Restore it from a backup or move it aside to start afresh. Server log:\n{tail}"
                    )
                raise ServerStartError(f"the PGLite server exited with code {code} during start-up:\n{tail}")
            if time.monotonic() > deadline:
                process.terminate()
                raise ServerStartError(
                    f"the PGLite server for {self.data_dir} did not answer in time; log:\n{_tail(self.log_path)}"
                )
            time.sleep(_POLL_S)

    def _wait_for_owner(self, deadline: float) -> bool:
        """Wait for another process's server to answer; False if that owner let go of the lock."""
        while time.monotonic() < deadline:
            if self.is_answering():
                return True
            if self._owner_pid() is None:
                return False
            time.sleep(_POLL_S)
        pid = self._owner_pid()
        raise ServerLockedError(
            f"process {pid} owns the data directory {self.data_dir} but does not answer on {self.socket_path}; "
            f"stop it with `timestep server stop` or `kill {pid}`, then retry"
        )


def _is_ours(name: str) -> bool:
    """Whether a data directory entry is one timestep makes (another starter's may be there already)."""
    return name in ("pgdata", "server.lock", "server.log", "run") or name.startswith(".write-test-")


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"
