"""The SQLite store: one file (or ``:memory:``), one connection shared by threads under a lock.

WAL journal mode lets readers in other processes (the CLI, a backup) work while the service
writes; ``busy_timeout`` makes a writer wait for a lock held elsewhere instead of failing.
https://www.sqlite.org/wal.html
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from perfpilot.store.base import StoreError, to_utc
from perfpilot.store.migrations import MIGRATIONS, pending
from perfpilot.store.records import MonitorRecords
from perfpilot.store.sqlrunner import Dialect, Row, SqlRunner

MEMORY = ":memory:"

_CREATE_MIGRATIONS_TABLE = """
    CREATE TABLE IF NOT EXISTS schema_migrations (
        version INTEGER PRIMARY KEY,
        description TEXT NOT NULL,
        applied_at TEXT NOT NULL
    )
"""


class SqliteStore(MonitorRecords):
    """Store backed by a SQLite database file; its parent directory is created if missing."""

    def __init__(self, path: str, *, busy_timeout_s: float = 5.0) -> None:
        if not path:
            raise ValueError("empty SQLite path")
        self._path = path if path == MEMORY else str(Path(path).resolve())
        if path != MEMORY:
            try:
                Path(self._path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"sqlite store: cannot create directory for {path}: {exc}"
                ) from exc
        self._lock = threading.Lock()
        with _translated(f"open {self._path}"):
            # isolation_level=None: transactions are opened explicitly with BEGIN IMMEDIATE.
            self._conn = sqlite3.connect(
                self._path,
                timeout=busy_timeout_s,
                isolation_level=None,
                check_same_thread=False,
            )
            self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            self._conn.execute("PRAGMA journal_mode = WAL")
            # NORMAL is durable across application crashes in WAL mode; only a power loss
            # can drop the last transactions, which for metrics history is acceptable.
            self._conn.execute("PRAGMA synchronous = NORMAL")

    def describe(self) -> str:
        return f"sqlite {self._path}"

    @property
    def runner(self) -> SqlRunner:
        """Runs repository SQL (see ``sqlrunner``) on this file."""
        return _SqliteRunner(self)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def ping(self) -> None:
        with self._read("ping") as conn:
            conn.execute("SELECT 1").fetchone()

    def migrate(self) -> list[int]:
        applied: list[int] = []
        with self._read("read schema version") as conn:
            done = _applied_versions(conn)
        for migration in pending(done, MIGRATIONS):
            # Re-checked under the write lock: another process may have applied it meanwhile.
            with self._write(f"migrate to version {migration.version}") as conn:
                conn.execute(_CREATE_MIGRATIONS_TABLE)
                if migration.version in _applied_versions(conn):
                    continue
                for statement in migration.sqlite:
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations (version, description, applied_at)"
                    " VALUES (?, ?, ?)",
                    (migration.version, migration.description, _text(datetime.now(UTC))),
                )
            applied.append(migration.version)
        return applied

    def schema_version(self) -> int:
        with self._read("read schema version") as conn:
            return max(_applied_versions(conn), default=0)

    @contextmanager
    def _read(self, action: str) -> Iterator[sqlite3.Connection]:
        with self._lock, _translated(action):
            yield self._conn

    @contextmanager
    def _write(self, action: str) -> Iterator[sqlite3.Connection]:
        # BEGIN IMMEDIATE takes the write lock up front, so two writers wait (busy_timeout)
        # instead of deadlocking on a lock upgrade; the connection's context manager commits,
        # or rolls back when the block raises.
        with self._lock, _translated(action), self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            yield self._conn


@contextmanager
def _translated(action: str) -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as exc:
        raise StoreError(f"sqlite store: {action} failed: {exc}") from exc


def _applied_versions(conn: sqlite3.Connection) -> set[int]:
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
    ).fetchone()
    if exists is None:
        return set()
    return {int(row[0]) for row in conn.execute("SELECT version FROM schema_migrations")}


def _text(moment: datetime) -> str:
    # Fixed width (always microseconds, always +00:00) so text order equals time order.
    return to_utc(moment).isoformat(timespec="microseconds")


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


SQLITE = Dialect("sqlite", "", "?", _text, _time)


class _SqliteRunner:
    def __init__(self, store: SqliteStore) -> None:
        self._store = store

    @property
    def dialect(self) -> Dialect:
        return SQLITE

    def query(self, action: str, template: str, params: Sequence[Any] = ()) -> list[Row]:
        with self._store._read(action) as conn:
            return [tuple(row) for row in conn.execute(SQLITE.sql(template), params).fetchall()]

    def write(self, action: str, template: str, rows: Sequence[Sequence[Any]]) -> int:
        with self._store._write(action) as conn:
            cursor = conn.executemany(SQLITE.sql(template), rows)
            return cursor.rowcount
