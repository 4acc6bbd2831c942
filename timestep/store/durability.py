"""Make PGLite's committed writes survive power loss, from the host side.

PGLite never calls fsync: its file layer writes through to the OS page cache, which survives a crash of any
process but not of the machine. With ``durability="full"`` the store flushes the data directory's file
system (``syncfs``) after each use of a connection, which covers the WAL and the data files a checkpoint
wrote. The cost is measured in ``scripts/bench_store.py``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from functools import cache
from pathlib import Path


@cache
def _libc_syncfs() -> object | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    syncfs = getattr(ctypes.CDLL(name, use_errno=True), "syncfs", None)
    if syncfs is not None:
        syncfs.argtypes = [ctypes.c_int]
        syncfs.restype = ctypes.c_int
    return syncfs


def flush_to_disk(directory: Path) -> None:
    """Flush every dirty page of the file system holding ``directory`` to stable storage."""
    syncfs = _libc_syncfs()
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if syncfs is None:  # no syncfs (not Linux): fsync the WAL files, which carry every commit
            _fsync_tree(directory / "pg_wal")
            os.fsync(fd)
        elif syncfs(fd) != 0:  # type: ignore[operator]
            errno = ctypes.get_errno()
            raise OSError(errno, os.strerror(errno), str(directory))
    finally:
        os.close(fd)


def _fsync_tree(directory: Path) -> None:
    for entry in os.scandir(directory):
        if entry.is_file():
            fd = os.open(entry.path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
