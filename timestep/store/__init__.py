"""The store: an embedded PGLite data directory or a PostgreSQL server, one schema, one API."""

from timestep.store.store import Store, open_store

__all__ = ["Store", "open_store"]
