"""Node.js and the pinned npm packages that run the embedded PGLite engine.

The packages live in a per-user cache folder named after the hash of the files that define them
(``package.json``, ``package-lock.json`` and the server's scripts), so upgrades never mix versions and several
checkouts or virtualenvs share one install. They are installed by ``timestep setup`` (``make`` runs it),
never implicitly on first use, together with the template that new data directories are copied from.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path

from timestep import config
from timestep.config import node_cache_root
from timestep.errors import NodeNotFoundError, NodePackagesMissingError

MIN_NODE_MAJOR = 18
PACKAGE_SOURCE = Path(__file__).with_name("node")
PACKAGE_FILES = ("package.json", "package-lock.json", *sorted(p.name for p in PACKAGE_SOURCE.glob("*.mjs")))
_COMPLETE_MARKER = ".installed"


@cache
def node_executable() -> str:
    """The path of a Node.js new enough for PGLite, or a clear error saying how to get one."""
    node = config.configured_node() or shutil.which("node")
    if not node:
        raise NodeNotFoundError(
            "Node.js was not found on PATH; the embedded store runs PGLite under Node. "
            f"Install Node.js {MIN_NODE_MAJOR} or newer (e.g. `apt-get install nodejs`), "
            "set TIMESTEP_NODE to its path, or use a server with TIMESTEP_DATABASE_URL=postgresql://..."
        )
    try:
        version = subprocess.run(
            [node, "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        raise NodeNotFoundError(
            f"could not run Node.js at {node} ({exc}); install Node.js {MIN_NODE_MAJOR} or newer, "
            "or set TIMESTEP_NODE to the path of a working one"
        ) from exc
    match = re.match(r"v(\d+)\.", version)
    if not match or int(match.group(1)) < MIN_NODE_MAJOR:
        raise NodeNotFoundError(
            f"Node.js {version or '(unknown version)'} at {node} is too old: the embedded store needs "
            f"Node.js {MIN_NODE_MAJOR} or newer. Upgrade Node.js or set TIMESTEP_NODE to a newer one."
        )
    return node


def package_hash() -> str:
    digest = hashlib.sha256()
    for name in PACKAGE_FILES:
        digest.update(name.encode())
        digest.update((PACKAGE_SOURCE / name).read_bytes())
    return digest.hexdigest()[:16]


def package_dir() -> Path:
    """The folder holding the installed packages and the launcher for this version of timestep."""
    return node_cache_root() / package_hash()


def launcher_path() -> Path:
    """The installed launcher script, or a clear error naming the setup command."""
    target = package_dir()
    if not (target / _COMPLETE_MARKER).exists():
        raise NodePackagesMissingError(
            f"the embedded engine's npm packages are not installed (looked in {target}). "
            "Run `timestep setup` (or `make` in a clone of timestep) once; it runs `npm ci`."
        )
    return target / "launcher.mjs"


def install_packages() -> Path:
    """Install the pinned packages with ``npm ci`` into the cache; idempotent and atomic.

    The install happens in a temporary sibling folder that is renamed into place only when complete, so an
    interrupted install never leaves a half-filled folder that looks usable.
    """
    target = package_dir()
    if (target / _COMPLETE_MARKER).exists():
        return target
    node = node_executable()
    npm = shutil.which("npm", path=str(Path(node).parent) + os.pathsep + os.environ.get("PATH", ""))
    if not npm:
        raise NodeNotFoundError("npm was not found next to Node.js; install npm (e.g. `apt-get install npm`)")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        for name in PACKAGE_FILES:
            shutil.copy2(PACKAGE_SOURCE / name, staging / name)
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=staging,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise NodePackagesMissingError(
                f"`npm ci` failed in {staging} (exit {result.returncode}):\n{result.stderr.strip()}\n"
                "Check that the npm registry is reachable, then run `timestep setup` again."
            )
        result = subprocess.run(
            [node, "database.mjs", "template", "template.tar.gz"], cwd=staging, capture_output=True, text=True
        )
        if result.returncode != 0:
            raise NodePackagesMissingError(
                f"making the data directory template failed in {staging} (exit {result.returncode}):\n"
                f"{result.stderr.strip()}\nRun `timestep setup` again; if it fails again, report it."
            )
        (staging / _COMPLETE_MARKER).write_text(package_hash())
        try:
            staging.rename(target)
        except OSError:
            if not (target / _COMPLETE_MARKER).exists():  # not a concurrent install that finished first
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target
