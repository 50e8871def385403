"""The target database's statement workload, read from pg_stat_statements.

Scope and filters, and why:

- Only the target database: the view is cluster-wide, so rows are filtered on ``dbid`` = the
  current database's oid.
- perfpilot's own statements are left out. ``application_name`` is not a column of
  pg_stat_statements (it lives in pg_stat_activity only), so perfpilot marks its own SQL instead:
  every statement perfpilot sends starts with :data:`SQL_MARKER` (``/* perfpilot */``), which
  pg_stat_statements keeps at the start of the normalized text, and rows starting with it are
  dropped. When perfpilot connects as a dedicated role, pass it in ``exclude_roles`` as well.
- Utility statements (SET, VACUUM, CREATE ..., EXPLAIN) are skipped: only SELECT, INSERT,
  UPDATE, DELETE and MERGE (each possibly under WITH) are workload. With extension 1.9+ only
  top-level statements are read by default, so a function's inner statements do not count twice.
- Statements are grouped by pglast fingerprint: one query can have several queryids (per role,
  or when texts differ only in ways the fingerprint ignores, such as comments or IN-list length).

Columns follow the extension's version, which decides the view's shape: 1.8 (PostgreSQL 13)
renamed ``total_time`` to ``total_exec_time`` and 1.9 (PostgreSQL 14) added ``toplevel``.
https://www.postgresql.org/docs/current/pgstatstatements.html
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import psycopg
from pglast import parser
from psycopg import sql
from psycopg.rows import TupleRow

from perfpilot.database.workload_availability import (
    WorkloadAvailability,
    read_availability,
)

SQL_MARKER = "/* perfpilot */"

# Statement types that are workload; everything else in a parse tree root is a utility.
_WORKLOAD_NODES = frozenset({"SelectStmt", "InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt"})
_WORKLOAD_KEYWORDS = ("select", "insert", "update", "delete", "merge", "with", "values", "table")

# {view} is the schema-qualified pg_stat_statements view (psycopg.sql.Identifier), {total} the
# total-time column of this extension version, {toplevel} a boolean expression.
STATEMENT_COUNTERS = """/* perfpilot */ SELECT s.queryid, s.userid, {toplevel_col}, s.query,
    s.calls, s.{total}, s.rows, s.shared_blks_hit, s.shared_blks_read
FROM {view} s
WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND s.queryid IS NOT NULL
  AND s.calls > 0
  AND left(s.query, length(%(marker)s)) <> %(marker)s
  AND s.userid NOT IN (SELECT oid FROM pg_roles WHERE rolname = ANY(%(exclude_roles)s))
  AND {toplevel_filter}"""


@dataclass(frozen=True, slots=True)
class StatementCounters:
    """Cumulative (or, in a delta, per-period) counters of one pg_stat_statements entry."""

    queryid: int
    userid: int
    toplevel: bool
    fingerprint: str
    query: str
    calls: int
    total_ms: float
    rows: int
    shared_blks_hit: int
    shared_blks_read: int

    @property
    def key(self) -> tuple[int, int, bool]:
        """pg_stat_statements' own entry key within one database."""
        return (self.queryid, self.userid, self.toplevel)


@dataclass(frozen=True, slots=True)
class WorkloadSnapshot:
    """All workload entries of one database at ``taken_at``."""

    database: str
    taken_at: datetime
    statements: tuple[StatementCounters, ...]
    # From pg_stat_statements_info (extension 1.9+); None when the extension is older.
    stats_reset_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StatementGroup:
    """Statements sharing one pglast fingerprint, summed; ``mean_ms`` is total / calls."""

    fingerprint: str
    query: str
    queryids: tuple[int, ...]
    calls: int
    total_ms: float
    rows: int
    shared_blks_hit: int
    shared_blks_read: int

    @property
    def mean_ms(self) -> float | None:
        """Mean execution time; None without calls (never a made-up 0)."""
        return self.total_ms / self.calls if self.calls else None

    @property
    def hit_ratio(self) -> float | None:
        """Shared-buffer hit ratio; None when the statement touched no shared blocks."""
        touched = self.shared_blks_hit + self.shared_blks_read
        return self.shared_blks_hit / touched if touched else None


@dataclass(frozen=True, slots=True)
class WorkloadReading:
    """What could be read: the availability finding, and a snapshot when it is available."""

    availability: WorkloadAvailability
    snapshot: WorkloadSnapshot | None


@dataclass(frozen=True, slots=True)
class StatementClass:
    """How a normalized statement text is treated: its fingerprint and whether it is workload."""

    fingerprint: str
    workload: bool


@lru_cache(maxsize=16_384)
def classify(query: str) -> StatementClass:
    """Fingerprint and workload flag of a normalized query text (cached: texts repeat)."""
    try:
        statements = parser.parse_sql(query)
    except parser.ParseError:
        # Texts pglast cannot parse (a newer server's syntax, a truncated text) keep their own
        # group; the first keyword still tells a query from a utility statement.
        words = query.lstrip("( \n\t").split(None, 1)
        first = words[0].lower() if words else ""
        digest = hashlib.sha1(query.encode(), usedforsecurity=False).hexdigest()[:16]
        return StatementClass(fingerprint=f"text:{digest}", workload=first in _WORKLOAD_KEYWORDS)
    kinds = {type(raw.stmt).__name__ for raw in statements if raw.stmt is not None}
    workload = bool(kinds) and kinds <= _WORKLOAD_NODES
    return StatementClass(fingerprint=parser.fingerprint(query), workload=workload)


def read_workload(
    conn: psycopg.Connection[TupleRow],
    now: datetime,
    *,
    exclude_roles: Collection[str] = (),
    toplevel_only: bool = True,
) -> WorkloadReading:
    """Availability of pg_stat_statements and, when available, a snapshot taken at ``now``."""
    availability = read_availability(conn)
    if not availability.available or availability.view is None:
        return WorkloadReading(availability, None)
    snapshot = read_snapshot(
        conn, availability, now, exclude_roles=exclude_roles, toplevel_only=toplevel_only
    )
    return WorkloadReading(availability, snapshot)


def read_snapshot(
    conn: psycopg.Connection[TupleRow],
    availability: WorkloadAvailability,
    now: datetime,
    *,
    exclude_roles: Collection[str] = (),
    toplevel_only: bool = True,
) -> WorkloadSnapshot:
    """Workload entries of the current database; ``availability`` must say it is available."""
    if availability.view is None or availability.extension_version is None:
        raise ValueError(f"pg_stat_statements is not available: {availability.message}")
    query = statement_counters_sql(availability.view, availability.extension_version, toplevel_only)
    params = {"marker": SQL_MARKER, "exclude_roles": list(exclude_roles)}
    rows = conn.execute(query, params).fetchall()
    return WorkloadSnapshot(
        database=availability.database,
        taken_at=now,
        statements=tuple(_workload_entries(rows)),
        stats_reset_at=availability.stats_reset_at,
    )


def statement_counters_sql(
    view: tuple[str, str], extension_version: str, toplevel_only: bool
) -> sql.Composed:
    """The counters query for this extension version (see the module docstring)."""
    version = _version_tuple(extension_version)
    has_toplevel = version >= (1, 9)
    return sql.SQL(STATEMENT_COUNTERS).format(
        view=sql.Identifier(*view),
        total=sql.Identifier("total_exec_time" if version >= (1, 8) else "total_time"),
        toplevel_col=sql.SQL("s.toplevel" if has_toplevel else "true AS toplevel"),
        toplevel_filter=sql.SQL("s.toplevel" if has_toplevel and toplevel_only else "true"),
    )


def group_statements(statements: Iterable[StatementCounters]) -> list[StatementGroup]:
    """Entries summed by fingerprint, most total time first.

    The representative text is that of the entry with the most calls.
    """
    buckets: dict[str, list[StatementCounters]] = {}
    for entry in statements:
        buckets.setdefault(entry.fingerprint, []).append(entry)
    groups = [_group(fingerprint, entries) for fingerprint, entries in buckets.items()]
    return sorted(groups, key=lambda g: (-g.total_ms, g.fingerprint))


def _group(fingerprint: str, entries: list[StatementCounters]) -> StatementGroup:
    busiest = max(entries, key=lambda e: (e.calls, e.total_ms))
    return StatementGroup(
        fingerprint=fingerprint,
        query=busiest.query,
        queryids=tuple(sorted({e.queryid for e in entries})),
        calls=sum(e.calls for e in entries),
        total_ms=sum(e.total_ms for e in entries),
        rows=sum(e.rows for e in entries),
        shared_blks_hit=sum(e.shared_blks_hit for e in entries),
        shared_blks_read=sum(e.shared_blks_read for e in entries),
    )


def _workload_entries(rows: Iterable[TupleRow]) -> Iterable[StatementCounters]:
    for queryid, userid, toplevel, text, calls, total_ms, nrows, hit, read in rows:
        kind = classify(text)
        if not kind.workload:
            continue
        yield StatementCounters(
            queryid=int(queryid),
            userid=int(userid),
            toplevel=bool(toplevel),
            fingerprint=kind.fingerprint,
            query=text,
            calls=int(calls),
            total_ms=float(total_ms),
            rows=int(nrows),
            shared_blks_hit=int(hit),
            shared_blks_read=int(read),
        )


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())
