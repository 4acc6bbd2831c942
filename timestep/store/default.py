"""The store used when an API call is given none: one per event loop, at the default location.

A psycopg pool belongs to the event loop that opened it, so a program that calls ``asyncio.run`` twice gets
a fresh store for the second loop rather than a pool bound to a closed one.
"""

from __future__ import annotations

import asyncio
import weakref

from timestep.store.store import Store, open_store

_stores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Store] = weakref.WeakKeyDictionary()


def default_store() -> Store:
    """The store of the running event loop at ``TIMESTEP_DATABASE_URL`` or the default data directory."""
    loop = asyncio.get_running_loop()
    store = _stores.get(loop)
    if store is None:
        store = _stores[loop] = open_store()
    return store


def resolve_store(store: Store | None) -> Store:
    """The given store, else the default one."""
    return store if store is not None else default_store()
