"""Workload periods (``database.ports.StatementSnapshotStore``) on both backends."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from perfpilot.database.workload import StatementCounters
from perfpilot.database.workload_delta import WorkloadDelta
from perfpilot.store.base import to_utc
from perfpilot.store.sqlrunner import Row, SqlRunner

_STATEMENT_COLUMNS = (
    "queryid, userid, toplevel, fingerprint, query, calls, total_ms, rows, shared_blks_hit,"
    " shared_blks_read"
)
_UPSERT_STATEMENT = f"""
    INSERT INTO {{t}}workload_statements (database, ended_at, {_STATEMENT_COLUMNS})
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
    ON CONFLICT (database, ended_at, queryid, userid, toplevel) DO UPDATE SET
        fingerprint = excluded.fingerprint, query = excluded.query, calls = excluded.calls,
        total_ms = excluded.total_ms, rows = excluded.rows,
        shared_blks_hit = excluded.shared_blks_hit, shared_blks_read = excluded.shared_blks_read
"""
_UPSERT_PERIOD = """
    INSERT INTO {t}workload_periods (database, ended_at, started_at, stats_reset)
    VALUES (%s, %s, %s, %s)
    ON CONFLICT (database, ended_at) DO UPDATE SET
        started_at = excluded.started_at, stats_reset = excluded.stats_reset
"""
_PERIODS = """
    SELECT ended_at, started_at, stats_reset FROM {t}workload_periods
    WHERE database = %s AND ended_at > %s AND ended_at <= %s ORDER BY ended_at
"""
_STATEMENTS = f"""
    SELECT ended_at, {_STATEMENT_COLUMNS} FROM {{t}}workload_statements
    WHERE database = %s AND ended_at > %s AND ended_at <= %s
    ORDER BY ended_at, queryid, userid
"""
_PRUNE_STATEMENTS = "DELETE FROM {t}workload_statements WHERE ended_at < %s"
_PRUNE_PERIODS = "DELETE FROM {t}workload_periods WHERE ended_at < %s"

# Upper bound for "no until": far beyond any real timestamp, valid on both backends.
_END_OF_TIME = datetime.fromisoformat("9999-12-31T00:00:00+00:00")


class WorkloadDeltaRepository:
    """Workload periods and their statements.

    A period's statement rows are written first and the period row last: readers only see
    statements of periods that exist, so a failed save leaves nothing visible.
    """

    def __init__(self, runner: SqlRunner) -> None:
        self._runner = runner

    def save_workload_delta(self, delta: WorkloadDelta) -> None:
        encode = self._runner.dialect.encode_time
        ended = encode(to_utc(delta.ended_at))
        rows = [(delta.database, ended, *_statement_params(s)) for s in delta.statements]
        if rows:
            self._runner.write("save workload statements", _UPSERT_STATEMENT, rows)
        period = (delta.database, ended, encode(to_utc(delta.started_at)), delta.stats_reset)
        self._runner.write("save workload period", _UPSERT_PERIOD, [period])

    def load_workload_deltas(
        self, database: str, since: datetime, until: datetime | None = None
    ) -> list[WorkloadDelta]:
        encode, decode = self._runner.dialect.encode_time, self._runner.dialect.decode_time
        bounds = (database, encode(to_utc(since)), encode(to_utc(until or _END_OF_TIME)))
        periods = self._runner.query("load workload periods", _PERIODS, bounds)
        statements: dict[datetime, list[StatementCounters]] = {}
        for row in self._runner.query("load workload statements", _STATEMENTS, bounds):
            statements.setdefault(decode(row[0]), []).append(_statement(row[1:]))
        deltas = []
        for ended_at, started_at, stats_reset in periods:
            end = decode(ended_at)
            deltas.append(
                WorkloadDelta(
                    database=database,
                    started_at=decode(started_at),
                    ended_at=end,
                    stats_reset=bool(stats_reset),
                    statements=tuple(statements.get(end, ())),
                )
            )
        return deltas

    def prune_workload_deltas(self, before: datetime) -> int:
        cutoff = [(self._runner.dialect.encode_time(to_utc(before)),)]
        self._runner.write("prune workload statements", _PRUNE_STATEMENTS, cutoff)
        return self._runner.write("prune workload periods", _PRUNE_PERIODS, cutoff)


def _statement_params(s: StatementCounters) -> tuple[Any, ...]:
    """Values in _STATEMENT_COLUMNS order."""
    return (
        s.queryid,
        s.userid,
        s.toplevel,
        s.fingerprint,
        s.query,
        s.calls,
        s.total_ms,
        s.rows,
        s.shared_blks_hit,
        s.shared_blks_read,
    )


def _statement(row: Sequence[Any] | Row) -> StatementCounters:
    queryid, userid, toplevel, fingerprint, query, calls, total_ms, rows, hit, read = row
    return StatementCounters(
        queryid=int(queryid),
        userid=int(userid),
        toplevel=bool(toplevel),
        fingerprint=fingerprint,
        query=query,
        calls=int(calls),
        total_ms=float(total_ms),
        rows=int(rows),
        shared_blks_hit=int(hit),
        shared_blks_read=int(read),
    )
