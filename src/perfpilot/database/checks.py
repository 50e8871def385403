"""Database health report: every check, each one SQL statement, run against the target database.

The checks follow PgHero's (https://github.com/ankane/pghero, ``lib/pghero/methods``) with
thresholds in :class:`CheckThresholds`. Each check runs in its own read-only transaction with a
``statement_timeout``, so one that fails (permission denied, timeout) becomes an error finding for
that check while the others still run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import TupleRow

from perfpilot.database import (
    checks_activity,
    checks_bloat,
    checks_indexes,
    checks_tables,
    checks_vacuum,
)
from perfpilot.database.checks_model import (
    CheckContext,
    CheckFunction,
    CheckThresholds,
    Finding,
    Severity,
)

logger = logging.getLogger(__name__)

# name -> check; the name is also each finding's ``check``.
CHECKS: tuple[tuple[str, CheckFunction], ...] = (
    ("slow_queries", checks_activity.slow_queries),
    ("long_running_queries", checks_activity.long_running_queries),
    ("idle_in_transaction", checks_activity.idle_in_transaction_sessions),
    ("connections", checks_activity.connections),
    ("blocked_queries", checks_activity.blocked_queries),
    ("table_hit_ratio", checks_indexes.table_hit_ratio),
    ("index_hit_ratio", checks_indexes.index_hit_ratio),
    ("unused_indexes", checks_indexes.unused_indexes),
    ("duplicate_indexes", checks_indexes.duplicate_indexes),
    ("invalid_indexes", checks_indexes.invalid_indexes),
    ("table_bloat", checks_bloat.table_bloat),
    ("index_bloat", checks_bloat.index_bloat),
    ("sequential_scans", checks_tables.tables_with_sequential_scans),
    ("tables_due_for_vacuum", checks_vacuum.tables_due_for_vacuum),
    ("tables_due_for_analyze", checks_vacuum.tables_due_for_analyze),
    ("transaction_id_wraparound", checks_tables.transaction_id_wraparound),
    ("sequences_near_overflow", checks_tables.sequences_near_overflow),
    ("largest_relations", checks_tables.largest_relations),
)

_READ_ONLY = "/* perfpilot */ SET TRANSACTION READ ONLY"
_TIMEOUT = "/* perfpilot */ SELECT set_config('statement_timeout', %s, true)"


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check's findings; ``error`` is set (and mirrored as an error finding) when it failed."""

    check: str
    findings: tuple[Finding, ...]
    duration_s: float
    error: str | None = None


@dataclass(frozen=True, slots=True)
class HealthReport:
    database: str
    checked_at: datetime
    results: tuple[CheckResult, ...]

    @property
    def findings(self) -> list[Finding]:
        return [finding for result in self.results for finding in result.findings]

    def by_check(self, check: str) -> list[Finding]:
        return [f for f in self.findings if f.check == check]


def run_checks(
    conn: psycopg.Connection[TupleRow],
    now: datetime,
    thresholds: CheckThresholds | None = None,
    *,
    schemas: Collection[str] | None = None,
    only: Collection[str] | None = None,
) -> HealthReport:
    """Run the checks (all, or those named in ``only``) on an autocommit connection.

    ``schemas`` is the allow-list; None means every non-system schema. Raises ValueError for an
    unknown check name or a connection inside a transaction; never for a failing check.
    """
    if not conn.autocommit:
        raise ValueError("run_checks needs an autocommit connection (one transaction per check)")
    selected = _select(only)
    ctx = CheckContext(
        conn=conn,
        thresholds=thresholds or CheckThresholds(),
        now=now,
        schemas=None if schemas is None else tuple(schemas),
    )
    results = tuple(_run_one(ctx, name, check) for name, check in selected)
    return HealthReport(database=conn.info.dbname, checked_at=now, results=results)


def _select(only: Collection[str] | None) -> Sequence[tuple[str, CheckFunction]]:
    if only is None:
        return CHECKS
    known = {name for name, _ in CHECKS}
    unknown = sorted(set(only) - known)
    if unknown:
        raise ValueError(f"unknown checks {unknown}; known: {sorted(known)}")
    return [(name, check) for name, check in CHECKS if name in only]


def _run_one(ctx: CheckContext, name: str, check: CheckFunction) -> CheckResult:
    started = time.monotonic()
    try:
        with ctx.conn.transaction():
            ctx.conn.execute(_READ_ONLY)
            ctx.conn.execute(_TIMEOUT, (str(ctx.thresholds.statement_timeout_ms),))
            findings = tuple(check(ctx))
    except psycopg.Error as exc:
        elapsed = time.monotonic() - started
        message = f"{type(exc).__name__}: {str(exc).strip()}"
        logger.warning("database check %s failed after %.3fs: %s", name, elapsed, message)
        error = Finding(name, Severity.ERROR, ctx.conn.info.dbname, f"check failed: {message}")
        return CheckResult(name, (error,), elapsed, error=message)
    return CheckResult(name, findings, time.monotonic() - started)
