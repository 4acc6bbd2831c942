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
import functools
import hashlib
import os
import pwd
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
    UnsafeLocationError,
)
from timestep.store import node_runtime
from timestep.store.private_files import (
    check_directory,
    check_entry,
    check_peer,
    check_socket_owner,
    open_private,
    private_directory,
)

SOCKET_NAME = ".s.PGSQL.5432"
_MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes on Linux, fewer elsewhere
_EXIT_CANNOT_OPEN = 3  # launcher.mjs exits with this when PGLite refuses the data directory
_POLL_S = 0.005
_KILL_WAIT_S = 5.0
# A young generation of 2 MB instead of Node's 16 MB semi-spaces: the server allocates little that lives
# long, and its resident memory is 25-50 MiB lower for it.
_NODE_FLAGS = ("--max-semi-space-size=2",)
_DATA_DIR_FIX = "Use a directory of your own, closed to other users (chmod 700), in the argument or TIMESTEP_HOME."


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

    @property
    def _socket_dirs(self) -> tuple[Path, ...]:
        """The directories the socket lives in that must be private: ``run/``, or those of the fallback."""
        directory = self.socket_dir
        return (directory,) if directory.parent == self.data_dir else (directory.parent, directory)

    @property
    def _socket_fix(self) -> str:
        return (
            f"Remove {self._socket_dirs[0]} if it is yours, or choose a data directory with a shorter path so "
            "that the socket lives inside it."
        )

    def conninfo(self) -> str:
        """How to connect; ``requirepeer`` makes libpq itself refuse a server run by another user."""
        peer = f" requirepeer={_user_name()}" if _user_name() else ""
        return f"host={self.socket_dir} port=5432 user=postgres dbname=postgres sslmode=disable{peer}"

    def is_answering(self) -> bool:
        """Whether this user's server accepts connections on the socket right now. A socket in a directory
        another user controls, or a server another user runs, is refused before anything is sent to it."""
        for directory in self._socket_dirs:
            if not check_directory(directory, what="the socket directory", fix=self._socket_fix):
                return False
        check_socket_owner(self.socket_path, self._socket_fix)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(str(self.socket_path))
            except OSError:
                return False
            check_peer(probe, self.socket_path, self._socket_fix)
        return True

    def ensure_running(self, timeout_s: float = 60.0) -> None:
        """Return once a server answers on the socket, starting one if no process owns the directory."""
        if self.is_answering():
            return
        self._prepare_directories()
        deadline = time.monotonic() + timeout_s
        while True:
            lock_fd = open_private(self.lock_path, os.O_RDWR)
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
        """Stop the server that owns the data directory; False if none ran.

        Only a process that is this data directory's launcher (its command line names the launcher and this
        directory, and it holds ``server.lock`` open) is signalled. It gets SIGTERM, and SIGKILL if it has
        not exited after ``timeout_s`` (a statement it is running holds up SIGTERM); committed data is safe.
        """
        pid = self._owner_pid()
        if pid is None:
            return False
        self._check_is_launcher(pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if self._wait_for_exit(time.monotonic() + timeout_s):
            return True
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        if self._wait_for_exit(time.monotonic() + _KILL_WAIT_S):
            return True
        raise ServerLockedError(
            f"the PGLite server (pid {pid}) of {self.data_dir} did not stop, even after SIGKILL; "
            "check it with `ps` and `timestep doctor`"
        )

    def _wait_for_exit(self, deadline: float) -> bool:
        while self._owner_pid() is not None:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def _check_is_launcher(self, pid: int) -> None:
        """Refuse to signal a process that is not this data directory's server, whatever the lock file says."""
        found = describe_process(pid)
        holds_lock = holds_file_open(pid, self.lock_path)
        if found is None or not holds_lock or "launcher.mjs" not in found or str(self.pgdata) not in found:
            raise ServerLockedError(
                f"{self.lock_path} names process {pid}, which is not this data directory's server "
                f"(command line: {found or 'unknown'}; holds the lock file open: {holds_lock}); nothing was "
                "signalled. If no timestep server runs for this directory, stop the process that holds "
                f"{self.lock_path} open (`fuser {self.lock_path}`)."
            )

    def _owner_pid(self) -> int | None:
        """The pid of the process holding the lock, or None when the directory has no owner."""
        check_entry(self.lock_path, what="the lock file", fix=_DATA_DIR_FIX)
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
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
        """Check every path the server uses, then create what is missing, private to the current user.
        Everything is checked before anything is written: a refused directory is left untouched."""
        data_dir = Path(os.path.realpath(self.data_dir))
        try:
            exists = check_directory(data_dir, what="the data directory", fix=_DATA_DIR_FIX)
            if exists:
                entries = [entry.name for entry in data_dir.iterdir()]
                if entries and not any(_is_ours(name) for name in entries):
                    raise DataDirectoryError(
                        f"{self.data_dir} is not empty and is not a timestep data directory; "
                        "give an empty or new directory (argument or TIMESTEP_HOME)"
                    )
                for name in ("server.lock", "server.log", "run", "pgdata"):
                    check_entry(data_dir / name, what=f"the data directory's {name}", fix=_DATA_DIR_FIX)
            for directory in self._socket_dirs[:-1]:  # those outside the data directory
                check_directory(directory, what="the socket directory", fix=self._socket_fix)
            if not exists:
                data_dir.parent.mkdir(parents=True, exist_ok=True)
            private_directory(data_dir, what="the data directory", fix=_DATA_DIR_FIX)
            for directory in self._socket_dirs:
                private_directory(directory, what="the socket directory", fix=self._socket_fix)
            with tempfile.TemporaryFile(dir=data_dir, prefix=".write-test-"):  # unique: processes race here
                pass
        except UnsafeLocationError:
            raise
        except PermissionError as exc:
            raise DataDirectoryError(
                f"cannot write to the data directory {self.data_dir} ({exc.strerror}); fix its permissions "
                "or choose another directory (argument or TIMESTEP_HOME)"
            ) from exc
        except OSError as exc:
            raise DataDirectoryError(f"cannot use the data directory {self.data_dir}: {exc}") from exc

    def _spawn(self, lock_fd: int) -> subprocess.Popen[bytes]:
        node = node_runtime.node_executable()
        launcher = node_runtime.launcher_path()
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()  # left by a server that was killed; we hold the lock
        log_fd = open_private(self.log_path, os.O_WRONLY | os.O_APPEND)
        try:
            process = subprocess.Popen(
                [
                    node,
                    *_NODE_FLAGS,
                    str(launcher),
                    str(self.pgdata),
                    str(self.socket_path),
                    str(int(self.idle_timeout_s * 1000)),
                    str(self.max_clients),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log_fd,
                stderr=log_fd,
                pass_fds=(lock_fd,),
                start_new_session=True,  # a Ctrl-C in the starting terminal must not kill the shared server
                cwd=launcher.parent,
            )
        finally:
            os.close(log_fd)
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


@functools.cache
def _user_name() -> str | None:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:  # a uid without a passwd entry (some containers): the probe's own check remains
        return None


def describe_process(pid: int) -> str | None:
    """A process's command line, or None if there is no such process (or it is another user's)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except FileNotFoundError:
        if Path("/proc/self").exists():
            return None
    except OSError:
        return None
    result = subprocess.run(["ps", "-o", "args=", "-p", str(pid)], capture_output=True, text=True, check=False)
    return result.stdout.strip() or None


def holds_file_open(pid: int, path: Path) -> bool:
    """Whether ``pid`` has ``path`` open (Linux: its ``/proc/PID/fd``; elsewhere assumed)."""
    fds = Path(f"/proc/{pid}/fd")
    if not Path("/proc/self").exists():
        return True
    try:
        wanted = os.stat(path, follow_symlinks=False)
        for fd in fds.iterdir():
            with contextlib.suppress(OSError):
                found = os.stat(fd)
                if (found.st_dev, found.st_ino) == (wanted.st_dev, wanted.st_ino):
                    return True
    except OSError:
        return False
    return False


def _is_ours(name: str) -> bool:
    """Whether a data directory entry is one timestep makes (another starter's may be there already)."""
    return name in ("pgdata", "server.lock", "server.log", "run") or name.startswith((".write-test-", "pgdata.new-"))


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"
