"""The PostgreSQL store: tables in the ``perfpilot`` schema, reached through a small pool.

Several perfpilot replicas can share one database: migrations are serialized with a
transaction-level advisory lock, and every write is a single upsert or delete.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool

from perfpilot.store.base import StoreError, to_utc
from perfpilot.store.migrations import MIGRATIONS, pending
from perfpilot.store.records import MonitorRecords
from perfpilot.store.sqlrunner import Dialect, Row, SqlRunner

# Key of the advisory lock that serializes migrators: the first 8 bytes of
# sha256("perfpilot:migrations") as a signed bigint, so other users of advisory locks in the
# same database are unlikely to collide with it.
MIGRATION_LOCK_KEY = -2_043_392_939_922_323_479

_BOOTSTRAP = (
    "CREATE SCHEMA IF NOT EXISTS perfpilot",
    """CREATE TABLE IF NOT EXISTS perfpilot.schema_migrations (
        version integer PRIMARY KEY,
        description text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
    )""",
)

Connection = psycopg.Connection[TupleRow]


class PostgresStore(MonitorRecords):
    """Store in a PostgreSQL database given by a libpq URL or key=value conninfo.

    The pool opens in the background and reconnects by itself; an operation that cannot get a
    connection within ``timeout_s`` raises :class:`StoreError`.
    """

    def __init__(
        self,
        conninfo: str,
        *,
        min_size: int = 1,
        max_size: int = 4,
        timeout_s: float = 5.0,
        connect_timeout_s: int = 5,
    ) -> None:
        self._description = describe_conninfo(conninfo)
        self._pool: ConnectionPool[Connection] = ConnectionPool(
            conninfo,
            min_size=min_size,
            max_size=max_size,
            open=True,
            timeout=timeout_s,
            name="perfpilot-store",
            # A connection broken by a server restart is replaced instead of handed out.
            check=ConnectionPool.check_connection,
            kwargs={
                "autocommit": True,
                "application_name": "perfpilot",
                "connect_timeout": connect_timeout_s,
                # Sessions in UTC so timestamptz values come back as UTC datetimes.
                "options": "-c TimeZone=UTC",
            },
        )

    def describe(self) -> str:
        return self._description

    @property
    def runner(self) -> SqlRunner:
        """Runs repository SQL (see ``sqlrunner``) in this database."""
        return _PostgresRunner(self)

    def close(self) -> None:
        self._pool.close()

    def ping(self) -> None:
        with self._connection("ping") as conn:
            conn.execute("SELECT 1").fetchone()

    def migrate(self) -> list[int]:
        applied: list[int] = []
        with self._connection("migrate") as conn:
            with conn.transaction():
                _lock_migrations(conn)
                for statement in _BOOTSTRAP:
                    conn.execute(statement)
            done = _applied_versions(conn)
            for migration in pending(done, MIGRATIONS):
                with conn.transaction():
                    _lock_migrations(conn)
                    # Re-checked under the lock: another replica may have applied it meanwhile.
                    if migration.version in _applied_versions(conn):
                        continue
                    for statement in migration.postgres:
                        conn.execute(statement)
                    conn.execute(
                        "INSERT INTO perfpilot.schema_migrations (version, description)"
                        " VALUES (%s, %s)",
                        (migration.version, migration.description),
                    )
                applied.append(migration.version)
        return applied

    def schema_version(self) -> int:
        with self._connection("read schema version") as conn:
            return max(_applied_versions(conn), default=0)

    @contextmanager
    def _connection(self, action: str) -> Iterator[Connection]:
        try:
            with self._pool.connection() as conn:
                yield conn
        except psycopg.Error as exc:
            raise StoreError(
                f"postgres store ({self._description}): {action} failed: {exc}"
            ) from exc


def describe_conninfo(conninfo: str) -> str:
    """``postgresql user@host:port/dbname`` from a URL or conninfo; raises ValueError if bad."""
    try:
        parts = conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError as exc:
        raise ValueError(f"invalid PostgreSQL URL: {exc}") from exc
    user = parts.get("user", "")
    host = parts.get("host", "")
    port = parts.get("port", "5432")
    dbname = parts.get("dbname", user)
    return f"postgresql {user}@{host}:{port}/{dbname}"


def _lock_migrations(conn: Connection) -> None:
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))


def _applied_versions(conn: Connection) -> set[int]:
    row = conn.execute("SELECT to_regclass('perfpilot.schema_migrations')").fetchone()
    if row is None or row[0] is None:
        return set()
    return {int(r[0]) for r in conn.execute("SELECT version FROM perfpilot.schema_migrations")}


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


POSTGRES = Dialect("postgresql", "perfpilot.", "%s", to_utc, _utc)


class _PostgresRunner:
    def __init__(self, store: PostgresStore) -> None:
        self._store = store

    @property
    def dialect(self) -> Dialect:
        return POSTGRES

    def query(self, action: str, template: str, params: Sequence[Any] = ()) -> list[Row]:
        with self._store._connection(action) as conn:
            return [tuple(row) for row in conn.execute(POSTGRES.sql(template), params).fetchall()]

    def write(self, action: str, template: str, rows: Sequence[Sequence[Any]]) -> int:
        with self._store._connection(action) as conn, conn.transaction(), conn.cursor() as cur:
            cur.executemany(POSTGRES.sql(template), rows)
            return cur.rowcount
