"""Files, directories and sockets that only the current user may control.

The embedded store keeps every prompt, tool call and output in its data directory, and its socket accepts
anyone who can reach it. On a machine with other users, each path the store uses must belong to the current
user and be closed to everybody else, and must not be a symbolic link that someone planted: checked before
anything is written, so that a refusal leaves everything untouched.
"""

from __future__ import annotations

import os
import socket
import stat
import struct
import sys
from pathlib import Path

from timestep.errors import UnsafeLocationError

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def check_directory(path: Path, *, what: str, fix: str) -> bool:
    """Whether ``path`` exists as a directory of the current user that no one else may write; refuses a
    symbolic link, another user's directory, or one writable by group or others."""
    try:
        info = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    if stat.S_ISLNK(info.st_mode):
        raise UnsafeLocationError(f"{what} {path} is a symbolic link; timestep does not follow it. {fix}")
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeLocationError(f"{what} {path} is not a directory. {fix}")
    _check_owner(path, info, what, fix)
    if info.st_mode & 0o022:
        raise UnsafeLocationError(
            f"{what} {path} can be written by other users (mode {stat.S_IMODE(info.st_mode):o}), so its "
            f"contents cannot be trusted. {fix}"
        )
    return True


def private_directory(path: Path, *, what: str, fix: str) -> None:
    """Make ``path`` a 0700 directory of the current user, or refuse one that is not safe to use."""
    if not check_directory(path, what=what, fix=fix):
        try:
            path.mkdir(mode=PRIVATE_DIR_MODE)
        except FileExistsError:  # another process made it meanwhile: check what it made
            check_directory(path, what=what, fix=fix)
    if stat.S_IMODE(os.lstat(path).st_mode) != PRIVATE_DIR_MODE:
        os.chmod(path, PRIVATE_DIR_MODE, follow_symlinks=False)


def check_entry(path: Path, *, what: str, fix: str) -> None:
    """Refuse an existing entry of a data directory that is a symbolic link or another user's."""
    try:
        info = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return
    if stat.S_ISLNK(info.st_mode):
        raise UnsafeLocationError(f"{what} {path} is a symbolic link; timestep does not follow it. {fix}")
    _check_owner(path, info, what, fix)


def open_private(path: Path, flags: int) -> int:
    """Open (creating it 0600) a file that must not be a symbolic link and must be the current user's."""
    fd = os.open(path, flags | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, PRIVATE_FILE_MODE)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeLocationError(f"{path} is not a regular file; move it away")
        _check_owner(path, info, "the file", "Move it away.")
        if stat.S_IMODE(info.st_mode) & 0o077:
            os.fchmod(fd, PRIVATE_FILE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def check_socket_owner(path: Path, fix: str) -> None:
    """Refuse a socket file that another user created."""
    try:
        info = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return
    if not stat.S_ISSOCK(info.st_mode):
        raise UnsafeLocationError(f"{path} is not a socket. {fix}")
    _check_owner(path, info, "the socket", fix)


def check_peer(sock: socket.socket, path: Path, fix: str) -> None:
    """Refuse a server run by another user (Linux: the peer's credentials, SO_PEERCRED)."""
    if not sys.platform.startswith("linux"):
        return
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _, uid, _ = struct.unpack("3i", creds)
    if uid != os.geteuid():
        raise UnsafeLocationError(
            f"the server on {path} runs as user id {uid}, not as you ({os.geteuid()}): another user may have "
            f"planted it. Nothing was sent to it. {fix}"
        )


def _check_owner(path: Path, info: os.stat_result, what: str, fix: str) -> None:
    if info.st_uid != os.geteuid():
        raise UnsafeLocationError(
            f"{what} {path} belongs to user id {info.st_uid}, not to you ({os.geteuid()}). {fix}"
        )
