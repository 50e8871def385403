"""Compacting the store after pruning, for the system cleanup task. Blocking: run in a thread.

VACUUM cannot run inside a transaction on either backend, so SQLite's runs through the
runner's read path (autocommit) and PostgreSQL's on an autocommit connection of its own.
https://www.sqlite.org/lang_vacuum.html https://www.postgresql.org/docs/current/sql-vacuum.html
"""

from __future__ import annotations

from typing import Protocol

import psycopg
from psycopg import sql

from perfpilot.store.base import StoreError
from perfpilot.store.factory import is_postgres_url
from perfpilot.store.sqlrunner import SqlRunner


class Compactor(Protocol):
    def compact(self) -> str:
        """Reclaim space and refresh planner statistics; returns what was done."""
        ...


class SqliteCompactor:
    """PRAGMA optimize, VACUUM and a WAL checkpoint of the store file.

    https://www.sqlite.org/pragma.html#pragma_optimize
    """

    def __init__(self, runner: SqlRunner) -> None:
        self._runner = runner

    def compact(self) -> str:
        before = self._size_bytes()
        for statement in ("PRAGMA optimize", "VACUUM", "PRAGMA wal_checkpoint(TRUNCATE)"):
            self._runner.query(f"compact: {statement}", statement)
        after = self._size_bytes()
        return f"sqlite VACUUM and PRAGMA optimize: {before} -> {after} bytes"

    def _size_bytes(self) -> int:
        pages = self._runner.query("compact: page count", "PRAGMA page_count")[0][0]
        size = self._runner.query("compact: page size", "PRAGMA page_size")[0][0]
        return int(pages) * int(size)


class PostgresCompactor:
    """VACUUM (ANALYZE) of every table in the ``perfpilot`` schema."""

    def __init__(self, conninfo: str, connect_timeout_s: int = 5) -> None:
        self._conninfo = conninfo
        self._connect_timeout_s = connect_timeout_s

    def compact(self) -> str:
        try:
            with psycopg.connect(
                self._conninfo, autocommit=True, connect_timeout=self._connect_timeout_s
            ) as conn:
                rows = conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'perfpilot'"
                    " ORDER BY tablename"
                ).fetchall()
                for (table,) in rows:
                    statement = sql.SQL("VACUUM (ANALYZE) {}.{}").format(
                        sql.Identifier("perfpilot"), sql.Identifier(str(table))
                    )
                    conn.execute(statement)
        except psycopg.Error as exc:
            raise StoreError(f"postgres store: compaction failed: {exc}") from exc
        return f"postgres VACUUM (ANALYZE) of {len(rows)} perfpilot tables"


def compactor_for(url: str, runner: SqlRunner) -> Compactor:
    """The compactor of the store at ``url`` (PERFORMANCE_STORE_URL)."""
    if is_postgres_url(url):
        return PostgresCompactor(url)
    return SqliteCompactor(runner)
