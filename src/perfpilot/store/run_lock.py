"""Run locks for the scheduler: a PostgreSQL advisory lock per task, or a local one.

With the store in PostgreSQL every replica asks the same server, so a session-level advisory
lock held on its own connection for the run's duration gives one runner per task; if the
replica dies, the server ends its session and the lock goes with it. The same is true when only
the connection dies (server restart, network cut, terminated backend) while the replica keeps
running, so a lease can tell whether its lock is still held; the scheduler asks periodically.
A concurrency limit shared by the replicas is a pool of such locks, one per slot: a run holds
any free one of them (``try_acquire_slot``), so at most ``size`` runs hold one at a time.
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

# Bounds on a lease check, so "is the lock still ours?" gets an answer within seconds even when
# the network is cut: the server cancels a statement after statement_timeout; libpq drops the
# connection when sent data stays unacknowledged for tcp_user_timeout, and when a silent peer
# misses keepalives (idle 10 s, then 3 probes 5 s apart). A lost answer counts as not held.
# https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-TCP-USER-TIMEOUT
_CHECK_TIMEOUT_MS = 5_000
_TCP_USER_TIMEOUT_MS = 10_000
_SET_TIMEOUT_SQL = "SELECT set_config('statement_timeout', %s, false)"

# pg_locks lists a bigint advisory key with its high 32 bits in classid, its low 32 bits in
# objid and objsubid = 1; filtering on our own backend pid proves the lock is this session's.
# https://www.postgresql.org/docs/current/view-pg-locks.html
_HELD_SQL = """
SELECT EXISTS (
    SELECT 1 FROM pg_locks
    WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid()
      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND classid = %s::bigint::oid AND objid = %s::bigint::oid AND objsubid = 1
)
"""


def advisory_key(key: str) -> int:
    """A signed 64-bit lock key: the first 8 bytes of sha256(key)."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)


def slot_keys(pool: str, size: int) -> list[str]:
    """The keys of the ``size`` slots of ``pool``, in the order they are tried."""
    return [f"{pool}:{index}" for index in range(size)]


def advisory_lock_ids(lock_id: int) -> tuple[int, int]:
    """``(classid, objid)`` under which pg_locks shows the bigint advisory lock ``lock_id``."""
    unsigned = lock_id & 0xFFFF_FFFF_FFFF_FFFF
    return unsigned >> 32, unsigned & 0xFFFF_FFFF


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

    def try_acquire_slot(self, pool: str, size: int) -> _LocalLease | None:
        for key in slot_keys(pool, size):
            lease = self.try_acquire(key)
            if lease is not None:
                return lease
        return None

    def _release(self, key: str) -> None:
        with self._mutex:
            self._held.discard(key)


class _LocalLease:
    """Held until released: nothing outside this process can take it away."""

    def __init__(self, owner: LocalRunLock, key: str) -> None:
        self._owner = owner
        self._key = key
        self.lost_reason: str | None = None

    def release(self) -> None:
        if self.lost_reason is None:
            self.lost_reason = "released"
            self._owner._release(self._key)

    def held(self) -> bool:
        return self.lost_reason is None


class PostgresRunLock:
    """``pg_try_advisory_lock`` on a connection of its own per lease (not from the store's
    pool: a run holds its lease for up to an hour and must not starve the pool)."""

    def __init__(self, conninfo: str, connect_timeout_s: int = 5) -> None:
        self._conninfo = conninfo
        self._connect_timeout_s = connect_timeout_s

    def try_acquire(self, key: str) -> _PostgresLease | None:
        return self._try_keys([key])

    def try_acquire_slot(self, pool: str, size: int) -> _PostgresLease | None:
        return self._try_keys(slot_keys(pool, size))

    def _try_keys(self, keys: list[str]) -> _PostgresLease | None:
        """A lease on the first of ``keys`` no session holds, all tried on one new connection."""
        conn = self._connect()
        try:
            conn.execute(_SET_TIMEOUT_SQL, (f"{_CHECK_TIMEOUT_MS}ms",))
            for key in keys:
                lock_id = advisory_key(key)
                row = conn.execute("SELECT pg_try_advisory_lock(%s)", (lock_id,)).fetchone()
                if row is not None and row[0]:
                    return _PostgresLease(conn, key, lock_id)
        except psycopg.Error as exc:
            conn.close()
            raise StoreError(f"scheduler lock: acquiring failed: {exc}") from exc
        conn.close()
        return None

    def _connect(self) -> psycopg.Connection[tuple[object, ...]]:
        try:
            return psycopg.connect(
                self._conninfo,
                autocommit=True,
                connect_timeout=self._connect_timeout_s,
                application_name="perfpilot-scheduler-lock",
                keepalives=1,
                keepalives_idle=10,
                keepalives_interval=5,
                keepalives_count=3,
                tcp_user_timeout=_TCP_USER_TIMEOUT_MS,
            )
        except psycopg.Error as exc:
            raise StoreError(f"scheduler lock: cannot connect: {exc}") from exc


class _PostgresLease:
    """The advisory lock ``lock_id`` held by the session of ``conn``, which nothing else uses."""

    def __init__(
        self, conn: psycopg.Connection[tuple[object, ...]], key: str, lock_id: int
    ) -> None:
        self._conn = conn
        self._key = key
        self._lock_id = lock_id
        self.lost_reason: str | None = None

    def held(self) -> bool:
        if self.lost_reason is not None:
            return False
        if self._conn.closed:
            self.lost_reason = "connection closed"
            return False
        try:
            row = self._conn.execute(_HELD_SQL, advisory_lock_ids(self._lock_id)).fetchone()
        except psycopg.Error as exc:
            # Whether the session broke or the check timed out, the lock cannot be proven ours,
            # so it counts as lost; closing the session makes that true on the server too.
            state = "connection closed" if self._conn.closed else "check failed"
            self.lost_reason = f"{state}: {_first_line(exc)}"
            logger.warning("scheduler lock %s lost (%s): %s", self._key, state, exc)
            self._conn.close()
            return False
        if row is None or not row[0]:
            self.lost_reason = "the server no longer lists the advisory lock for this session"
            logger.warning("scheduler lock %s lost: %s", self._key, self.lost_reason)
            self._conn.close()
            return False
        return True

    def release(self) -> None:
        if self.lost_reason is None:
            self.lost_reason = "released"
        if self._conn.closed:
            return
        try:
            self._conn.execute("SELECT pg_advisory_unlock(%s)", (self._lock_id,))
        except psycopg.Error as exc:
            # Closing the session below releases the lock all the same.
            logger.warning("scheduler lock: unlock failed (%s); closing the session", exc)
        finally:
            self._conn.close()


def _first_line(exc: BaseException) -> str:
    """The first line of libpq's message (the rest repeats it for humans at a terminal)."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def run_lock_for(url: str) -> LocalRunLock | PostgresRunLock:
    """The run lock matching the store at ``url``: advisory locks when it is PostgreSQL."""
    if is_postgres_url(url):
        return PostgresRunLock(url)
    return LocalRunLock()
