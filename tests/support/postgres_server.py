"""A throwaway PostgreSQL server from the machine's own binaries, for the server-backend tests."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


def find_bindir() -> Path | None:
    """The folder holding initdb and pg_ctl (PATH first, then Debian's versioned folders)."""
    initdb = shutil.which("initdb")
    if initdb:
        return Path(os.path.realpath(initdb)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


@dataclass
class PostgresServer:
    """A PostgreSQL cluster in a temporary directory, reachable on a unix socket only."""

    bindir: Path
    root: Path

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@/{dbname}?host={self.socket_dir}"

    def start(self) -> None:
        self.socket_dir.mkdir(parents=True)
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root: hand the cluster to the postgres user
            shutil.chown(self.root, "postgres")
            shutil.chown(self.socket_dir, "postgres")
        self._run("initdb", "-D", str(self.root / "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self._run(
            "pg_ctl", "-D", str(self.root / "data"), "-l", str(self.root / "log"), "-w", "start",
            "-o", f"-k {self.socket_dir} -c listen_addresses='' -c fsync=on",
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def psql(self, sql: str, dbname: str = "postgres") -> str:
        return subprocess.run(
            [str(self.bindir / "psql"), self.url(dbname), "-XAtqc", sql],
            check=True, capture_output=True, text=True,
        ).stdout

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bindir / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, cwd=self.root)


def start_postgres() -> PostgresServer | None:
    """Start a server, or None when PostgreSQL's binaries are not installed."""
    bindir = find_bindir()
    if bindir is None:
        return None
    root = Path(tempfile.mkdtemp(prefix="timestep-pg-"))
    root.chmod(0o755)
    server = PostgresServer(bindir, root)
    server.start()
    return server
