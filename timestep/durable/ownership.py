"""Which process runs a run, and whether that process is still alive.

An owner is ``host:pid:start`` where ``start`` is the process's start time in clock ticks since boot, so a
recycled pid is not mistaken for the original owner. Liveness can be judged only on the same host.
"""

from __future__ import annotations

import os
import socket
from functools import cache


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """The process's state letter and start time, or None when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat") as stat_file:
            stat = stat_file.read()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return fields[0], fields[19]  # fields 3 and 22 of the whole line: state and starttime


def current_owner() -> str:
    return _owner_of(os.getpid())  # by pid: a forked child is an owner of its own


@cache
def _owner_of(pid: int) -> str:
    """Read once per process: every run start asks, and reading /proc costs more than the rest of it."""
    stat = _proc_stat(pid)
    return f"{socket.gethostname()}:{pid}:{stat[1] if stat else '?'}"


def owner_is_alive(owner: str | None) -> bool:
    """False only when the owner is known to be gone: a process of this host that no longer runs."""
    if not owner:
        return False
    host, _, rest = owner.partition(":")
    pid_text, _, start = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return True  # another host's process: assume alive
    stat = _proc_stat(int(pid_text))
    if stat is None:
        try:
            os.kill(int(pid_text), 0)  # no /proc (not Linux): ask the kernel
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        return True
    state, started = stat
    return state not in ("Z", "X") and start in ("?", started)
