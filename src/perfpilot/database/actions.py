"""The Database Tuner's changes: index builds and drops, VACUUM, ALTER SYSTEM.

Every function here opens its own autocommit connection: ``CREATE INDEX CONCURRENTLY`` and
``VACUUM`` fail inside a transaction block (PostgreSQL docs, "CREATE INDEX": "a regular
CREATE INDEX command can be performed within a transaction block, but CREATE INDEX
CONCURRENTLY cannot"). Identifiers are composed with ``psycopg.sql``, never formatted in.
One tuner change runs at a time across every perfpilot replica (a session advisory lock).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from psycopg import sql

from perfpilot.core.audit import Outcome
from perfpilot.database.connection import APPLICATION_NAME

logger = logging.getLogger(__name__)

# Only indexes whose name starts with this are ever dropped automatically (DESIGN.md, Safety).
OWN_PREFIX = "perfpilot_"
# Key of the session advisory lock serialising tuner changes ("perfpilot" in ASCII, truncated).
TUNER_LOCK_KEY = 0x7065726670696C


class TunerBusy(Exception):
    """Another tuner change holds the advisory lock."""


@dataclass(frozen=True, slots=True)
class ChangeResult:
    """What one change did; ``statement`` is the exact SQL sent."""

    outcome: Outcome
    statement: str
    detail: str


@dataclass(frozen=True, slots=True)
class IndexBuild:
    """An index to build. ``keys`` are SQL fragments produced by the advisor from parsed
    queries (column identifiers already quoted, or expressions such as ``lower("email")``)."""

    schema: str
    table: str
    name: str
    keys: tuple[str, ...]
    comment: str


@contextmanager
def tuner_session(
    dsn: str, statement_timeout_ms: int, lock_timeout_ms: int
) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """An autocommit session holding the tuner lock, with bounded waits."""
    with psycopg.connect(dsn, autocommit=True, application_name=APPLICATION_NAME) as conn:
        conn.execute(
            sql.SQL("/* perfpilot */ SET statement_timeout = {}").format(
                sql.Literal(statement_timeout_ms)
            )
        )
        conn.execute(
            sql.SQL("/* perfpilot */ SET lock_timeout = {}").format(sql.Literal(lock_timeout_ms))
        )
        row = conn.execute(
            "/* perfpilot */ SELECT pg_try_advisory_lock(%s)", (TUNER_LOCK_KEY,)
        ).fetchone()
        if not row or not row[0]:
            raise TunerBusy("another perfpilot tuner change is running")
        try:
            yield conn
        finally:
            conn.execute("/* perfpilot */ SELECT pg_advisory_unlock(%s)", (TUNER_LOCK_KEY,))


def create_index_statement(build: IndexBuild) -> sql.Composed:
    """``CREATE INDEX CONCURRENTLY IF NOT EXISTS name ON schema.table (keys)``."""
    return sql.SQL("CREATE INDEX CONCURRENTLY IF NOT EXISTS {} ON {}.{} ({})").format(
        sql.Identifier(build.name),
        sql.Identifier(build.schema),
        sql.Identifier(build.table),
        sql.SQL(", ").join(sql.SQL(key) for key in build.keys),
    )


_INDEX_VALIDITY = """/* perfpilot */
SELECT i.indisvalid
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relname = %s"""


def index_valid(
    conn: psycopg.Connection[tuple[object, ...]], schema: str, name: str
) -> bool | None:
    """True/False for an existing index's validity; None when it does not exist."""
    row = conn.execute(_INDEX_VALIDITY, (schema, name)).fetchone()
    return None if row is None else bool(row[0])


def create_index(conn: psycopg.Connection[tuple[object, ...]], build: IndexBuild) -> ChangeResult:
    """Build the index concurrently; an invalid leftover of a failed build is dropped."""
    if not build.name.startswith(OWN_PREFIX):
        raise ValueError(f"index name {build.name!r} must start with {OWN_PREFIX!r}")
    statement = create_index_statement(build)
    text = statement.as_string(conn)
    try:
        conn.execute(statement)
    except psycopg.Error as exc:
        leftover = index_valid(conn, build.schema, build.name)
        cleanup = ""
        if leftover is False:
            drop_index(conn, build.schema, build.name)
            cleanup = "; the invalid index it left was dropped"
        logger.warning("index build %s failed: %s", build.name, exc)
        return ChangeResult(Outcome.FAILED, text, f"{type(exc).__name__}: {exc}".strip() + cleanup)
    if index_valid(conn, build.schema, build.name) is not True:
        drop_index(conn, build.schema, build.name)
        return ChangeResult(Outcome.FAILED, text, "index was left invalid and has been dropped")
    conn.execute(
        sql.SQL("COMMENT ON INDEX {}.{} IS {}").format(
            sql.Identifier(build.schema), sql.Identifier(build.name), sql.Literal(build.comment)
        )
    )
    return ChangeResult(Outcome.APPLIED, text, "index built and valid")


def drop_index(
    conn: psycopg.Connection[tuple[object, ...]], schema: str, name: str
) -> ChangeResult:
    """Drop one of perfpilot's own indexes concurrently; any other name is refused."""
    if not name.startswith(OWN_PREFIX):
        raise ValueError(f"refusing to drop {schema}.{name}: not created by perfpilot")
    statement = sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}.{}").format(
        sql.Identifier(schema), sql.Identifier(name)
    )
    text = statement.as_string(conn)
    try:
        conn.execute(statement)
    except psycopg.Error as exc:
        return ChangeResult(Outcome.FAILED, text, f"{type(exc).__name__}: {exc}")
    return ChangeResult(Outcome.APPLIED, text, "index dropped")


_AUTOVACUUM_RUNNING = """/* perfpilot */
SELECT count(*) FROM pg_stat_progress_vacuum p
JOIN pg_class c ON c.oid = p.relid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relname = %s AND p.datname = current_database()"""


def vacuum_analyze(
    conn: psycopg.Connection[tuple[object, ...]], schema: str, table: str
) -> ChangeResult:
    """``VACUUM (ANALYZE, SKIP_LOCKED)`` one table; skipped while a vacuum already works on it."""
    statement = sql.SQL("VACUUM (ANALYZE, SKIP_LOCKED) {}.{}").format(
        sql.Identifier(schema), sql.Identifier(table)
    )
    text = statement.as_string(conn)
    row = conn.execute(_AUTOVACUUM_RUNNING, (schema, table)).fetchone()
    if row and int(str(row[0])) > 0:
        return ChangeResult(Outcome.SKIPPED, text, "a vacuum is already running on this table")
    try:
        conn.execute(statement)
    except psycopg.Error as exc:
        return ChangeResult(Outcome.FAILED, text, f"{type(exc).__name__}: {exc}")
    return ChangeResult(Outcome.APPLIED, text, "vacuumed and analyzed")


_SETTING_CONTEXT = "/* perfpilot */ SELECT context FROM pg_settings WHERE name = %s"
# pg_settings.context values that a reload applies (PostgreSQL docs, "pg_settings").
RELOAD_CONTEXTS = frozenset({"sighup", "superuser", "user", "superuser-backend", "backend"})


def alter_system(
    conn: psycopg.Connection[tuple[object, ...]], name: str, value: str
) -> ChangeResult:
    """``ALTER SYSTEM SET`` a reload-context setting and reload; never a restart."""
    statement = sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), sql.Literal(value))
    text = statement.as_string(conn)
    row = conn.execute(_SETTING_CONTEXT, (name,)).fetchone()
    if row is None:
        return ChangeResult(Outcome.FAILED, text, f"unknown setting {name!r}")
    if str(row[0]) not in RELOAD_CONTEXTS:
        return ChangeResult(Outcome.SKIPPED, text, f"{name} needs a restart (context {row[0]})")
    try:
        conn.execute(statement)
        conn.execute("/* perfpilot */ SELECT pg_reload_conf()")
    except psycopg.Error as exc:
        return ChangeResult(Outcome.FAILED, text, f"{type(exc).__name__}: {exc}")
    return ChangeResult(Outcome.APPLIED, text, "set and configuration reloaded")
