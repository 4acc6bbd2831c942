"""Make PGLite's committed writes survive power loss, from the host side.

PGLite never calls fsync: its file layer writes through to the OS page cache, which survives a crash of any
process but not of the machine. With ``durability="full"`` the store calls ``WalFlusher.flush()`` after each
use of a connection. Every commit is in the write-ahead log, so flushing the WAL files written since the last
flush makes it durable; when a checkpoint has run (``global/pg_control`` changed), the data files it wrote
are flushed too (``syncfs`` of the data directory's file system), before the WAL they replace can be reused.
Timestamps are coarse, so "written since" is judged with a margin: a file is flushed again if it changed
within a second of the previous flush. The cost is measured in ``scripts/bench_store.py``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import time
from functools import cache
from pathlib import Path
from typing import Any

_MARGIN_NS = 1_000_000_000


@cache
def _libc_syncfs() -> Any:
    name = ctypes.util.find_library("c")
    syncfs = getattr(ctypes.CDLL(name, use_errno=True), "syncfs", None) if name else None
    if syncfs is not None:
        syncfs.argtypes = [ctypes.c_int]
        syncfs.restype = ctypes.c_int
    return syncfs


class WalFlusher:
    """Flushes what changed in one PGLite data directory since the previous flush."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata
        self._last_flush_ns = 0

    def flush(self) -> None:
        started = time.time_ns()
        since = self._last_flush_ns - _MARGIN_NS
        if _changed_since(self.pgdata / "global" / "pg_control", since):
            sync_file_system(self.pgdata)  # a checkpoint wrote data files: flush them all
        else:
            wal = self.pgdata / "pg_wal"
            for entry in os.scandir(wal):
                if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime_ns >= since:
                    _fdatasync(entry.path)
            if _changed_since(wal, since):  # a segment was created or renamed
                _fdatasync(str(wal))
        self._last_flush_ns = started


def _changed_since(path: Path, since_ns: int) -> bool:
    try:
        return path.stat().st_mtime_ns >= since_ns
    except FileNotFoundError:
        return False


def _fdatasync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fdatasync(fd)
    finally:
        os.close(fd)


def sync_file_system(directory: Path) -> None:
    syncfs = _libc_syncfs()
    if syncfs is None:  # not Linux: fsync every file of the data directory
        for root, _, files in os.walk(directory):
            for name in files:
                _fdatasync(os.path.join(root, name))
        return
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if syncfs(fd) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, os.strerror(errno), str(directory))
    finally:
        os.close(fd)
