"""The store: an embedded PGLite data directory or a PostgreSQL server, one schema, one API."""

from timestep.store.default import default_store, resolve_store
from timestep.store.store import Store, open_store

__all__ = ["Store", "default_store", "open_store", "resolve_store"]
