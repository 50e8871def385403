"""Run locks for the scheduler: a PostgreSQL advisory lock per task, or a local one.

With the store in PostgreSQL every replica asks the same server, so a session-level advisory
lock held on its own connection for the run's duration gives one runner per task; if the
replica dies, the server ends its session and the lock goes with it.
https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS
"""

from __future__ import annotations

import hashlib
import logging
import threading

import psycopg

from perfpilot.store.base import StoreError
from perfpilot.store.factory import is_postgres_url

logger = logging.getLogger(__name__)


def advisory_key(key: str) -> int:
    """A signed 64-bit lock key: the first 8 bytes of sha256(key)."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)


class LocalRunLock:
    """Locks within this process: enough for the single replica a SQLite store allows."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._held: set[str] = set()

    def try_acquire(self, key: str) -> _LocalLease | None:
        with self._mutex:
            if key in self._held:
                return None
            self._held.add(key)
        return _LocalLease(self, key)

    def _release(self, key: str) -> None:
        with self._mutex:
            self._held.discard(key)


class _LocalLease:
    def __init__(self, owner: LocalRunLock, key: str) -> None:
        self._owner = owner
        self._key = key

    def release(self) -> None:
        self._owner._release(self._key)


class PostgresRunLock:
    """``pg_try_advisory_lock`` on a connection of its own per lease (not from the store's
    pool: a run holds its lease for up to an hour and must not starve the pool)."""

    def __init__(self, conninfo: str, connect_timeout_s: int = 5) -> None:
        self._conninfo = conninfo
        self._connect_timeout_s = connect_timeout_s

    def try_acquire(self, key: str) -> _PostgresLease | None:
        lock_id = advisory_key(key)
        try:
            conn = psycopg.connect(
                self._conninfo,
                autocommit=True,
                connect_timeout=self._connect_timeout_s,
                application_name="perfpilot-scheduler-lock",
            )
        except psycopg.Error as exc:
            raise StoreError(f"scheduler lock: cannot connect: {exc}") from exc
        try:
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (lock_id,)).fetchone()
        except psycopg.Error as exc:
            conn.close()
            raise StoreError(f"scheduler lock: pg_try_advisory_lock failed: {exc}") from exc
        if row is None or not row[0]:
            conn.close()
            return None
        return _PostgresLease(conn, lock_id)


class _PostgresLease:
    def __init__(self, conn: psycopg.Connection[tuple[object, ...]], lock_id: int) -> None:
        self._conn = conn
        self._lock_id = lock_id

    def release(self) -> None:
        if self._conn.closed:
            return
        try:
            self._conn.execute("SELECT pg_advisory_unlock(%s)", (self._lock_id,))
        except psycopg.Error as exc:
            # Closing the session below releases the lock all the same.
            logger.warning("scheduler lock: unlock failed (%s); closing the session", exc)
        finally:
            self._conn.close()


def run_lock_for(url: str) -> LocalRunLock | PostgresRunLock:
    """The run lock matching the store at ``url``: advisory locks when it is PostgreSQL."""
    if is_postgres_url(url):
        return PostgresRunLock(url)
    return LocalRunLock()
