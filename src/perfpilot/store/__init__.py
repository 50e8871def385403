"""Persistence: a SQLite file by default, PostgreSQL when ``PERFORMANCE_STORE_URL`` says so.

Both backends implement the :class:`Store` protocol (the components' own store protocols plus
schema management) with a synchronous API: callers run it in worker threads or through
``asyncio.to_thread``, never on the event loop. :func:`open_store` picks the backend from the URL.
"""

from perfpilot.store.base import Store, StoreError
from perfpilot.store.factory import open_store

__all__ = ["Store", "StoreError", "open_store"]
