"""Whether pg_stat_statements can be read in the target database, and exactly what to change.

pg_stat_statements needs two things: the library loaded at server start
(``shared_preload_libraries``, a restart) and the extension created in the database
(``CREATE EXTENSION``). Without ``pg_read_all_stats`` a role sees only its own statements' text.
https://www.postgresql.org/docs/current/pgstatstatements.html
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

# shared_preload_libraries is only visible with pg_read_all_settings; pg_settings then has no row
# and the subquery yields NULL ("unknown"), which is why it is not read with current_setting().
PG_STAT_STATEMENTS_SETUP = """/* perfpilot */ SELECT current_database(),
    current_setting('server_version_num')::int,
    current_user,
    (SELECT setting FROM pg_settings WHERE name = 'shared_preload_libraries'),
    e.extversion,
    n.nspname,
    pg_has_role(current_user, 'pg_read_all_stats', 'USAGE')
FROM (SELECT 1) AS one
LEFT JOIN pg_extension e ON e.extname = 'pg_stat_statements'
LEFT JOIN pg_namespace n ON n.oid = e.extnamespace"""

# Calling the extension's functions fails with "must be loaded via shared_preload_libraries"
# when the library is not loaded; pg_stat_statements_info (1.9+) also returns the reset time.
PG_STAT_STATEMENTS_INFO = "/* perfpilot */ SELECT stats_reset FROM {info}"
PG_STAT_STATEMENTS_PROBE = "/* perfpilot */ SELECT 1 FROM {function}(false) LIMIT 1"


class WorkloadStatus(StrEnum):
    AVAILABLE = "available"
    # Readable, but only the current role's statement texts are visible.
    LIMITED = "limited"
    EXTENSION_MISSING = "extension_missing"
    NOT_PRELOADED = "not_preloaded"


@dataclass(frozen=True, slots=True)
class WorkloadAvailability:
    """Finding about pg_stat_statements in one database; ``remedies`` are exact changes."""

    status: WorkloadStatus
    database: str
    role: str
    server_version_num: int
    message: str
    remedies: tuple[str, ...] = ()
    extension_version: str | None = None
    # (schema, "pg_stat_statements") when the extension is installed.
    view: tuple[str, str] | None = None
    stats_reset_at: datetime | None = None

    @property
    def available(self) -> bool:
        return self.status in (WorkloadStatus.AVAILABLE, WorkloadStatus.LIMITED)


def read_availability(conn: psycopg.Connection[TupleRow]) -> WorkloadAvailability:
    """Inspect the setup; never raises for a missing extension or library (that is a finding)."""
    row = conn.execute(PG_STAT_STATEMENTS_SETUP).fetchone()
    if row is None:
        raise RuntimeError("setup query returned no row")
    database, version_num, role, preload, ext_version, schema, read_all = row
    preloaded = None if preload is None else "pg_stat_statements" in _libraries(preload)
    base = {"database": database, "role": role, "server_version_num": int(version_num)}
    if ext_version is None:
        remedies = [_create_extension(database)]
        if preloaded is not True:
            remedies.insert(0, _preload_remedy(preload))
        return WorkloadAvailability(
            status=WorkloadStatus.EXTENSION_MISSING,
            message=f"extension pg_stat_statements is not installed in database {database!r}"
            + ("" if preloaded else _preload_note(preloaded)),
            remedies=tuple(remedies),
            **base,
        )
    loaded, stats_reset_at = _probe(conn, schema, ext_version)
    if not loaded or preloaded is False:
        return WorkloadAvailability(
            status=WorkloadStatus.NOT_PRELOADED,
            message="pg_stat_statements is installed but its library is not loaded at server start",
            remedies=(_preload_remedy(preload),),
            extension_version=ext_version,
            **base,
        )
    common = {
        "extension_version": ext_version,
        "view": (schema, "pg_stat_statements"),
        "stats_reset_at": stats_reset_at,
    }
    if not read_all:
        return WorkloadAvailability(
            status=WorkloadStatus.LIMITED,
            message=f"role {role!r} sees only its own statements' text in pg_stat_statements",
            remedies=(sql_grant_read_all_stats(role),),
            **base,
            **common,
        )
    return WorkloadAvailability(
        status=WorkloadStatus.AVAILABLE, message="pg_stat_statements is available", **base, **common
    )


def sql_grant_read_all_stats(role: str) -> str:
    """The GRANT that lets ``role`` read every role's statements (text for a human to run)."""
    return f"GRANT pg_read_all_stats TO {_quote_ident(role)};"


def _probe(
    conn: psycopg.Connection[TupleRow], schema: str, ext_version: str
) -> tuple[bool, datetime | None]:
    """(library loaded, stats reset time) from calling the extension's functions."""
    new = tuple(int(p) for p in ext_version.split(".") if p.isdigit()) >= (1, 9)
    if new:
        query = sql.SQL(PG_STAT_STATEMENTS_INFO).format(
            info=sql.Identifier(schema, "pg_stat_statements_info")
        )
    else:
        query = sql.SQL(PG_STAT_STATEMENTS_PROBE).format(
            function=sql.Identifier(schema, "pg_stat_statements")
        )
    try:
        # A savepoint (or its own transaction) so the failure leaves the session usable.
        with conn.transaction():
            row = conn.execute(query).fetchone()
    except psycopg.errors.ObjectNotInPrerequisiteState:
        return False, None
    reset = row[0] if new and row is not None else None
    return True, reset


def _libraries(setting: str) -> list[str]:
    return [part.strip().strip('"') for part in setting.split(",") if part.strip()]


def _preload_remedy(current: str | None) -> str:
    libraries = _libraries(current or "")
    if "pg_stat_statements" not in libraries:
        libraries.append("pg_stat_statements")
    value = ",".join(libraries)
    note = "" if current is not None else " (add it to any libraries already listed there)"
    return (
        f"set shared_preload_libraries = '{value}' in postgresql.conf{note},"
        " then restart PostgreSQL"
    )


def _preload_note(preloaded: bool | None) -> str:
    if preloaded is None:
        return "; whether its library is preloaded is not visible to this role"
    return " and its library is not in shared_preload_libraries"


def _create_extension(database: str) -> str:
    return f"run CREATE EXTENSION pg_stat_statements; in database {_quote_ident(database)}"


def _quote_ident(name: str) -> str:
    # For remedy text shown to a human only; SQL perfpilot runs uses psycopg.sql.Identifier.
    return '"' + name.replace('"', '""') + '"'
