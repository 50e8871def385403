"""The Performance Optimizer's action history and benchmark runs (migration 7), both backends.

Plain values only: ``optimizer`` defines the protocols (``optimizer.ports``) and sits above
``store``, so the store never imports it.
"""

from __future__ import annotations

from datetime import datetime

from perfpilot.store.base import check_limit, to_utc
from perfpilot.store.sqlrunner import SqlRunner

_SAVE = """
    INSERT INTO {t}optimization_actions (id, at, type, status, body) VALUES (%s, %s, %s, %s, %s)
    ON CONFLICT (id) DO UPDATE SET status = excluded.status, body = excluded.body
"""
_SINCE = """
    SELECT body FROM {t}optimization_actions WHERE at >= %s ORDER BY at DESC, id DESC LIMIT %s
"""
_COUNT = "SELECT count(*) FROM {t}optimization_actions WHERE at >= %s AND status = %s"
_PRUNE = "DELETE FROM {t}optimization_actions WHERE at < %s"
_SAVE_BENCH = """
    INSERT INTO {t}benchmark_runs (at, body) VALUES (%s, %s)
    ON CONFLICT (at) DO UPDATE SET body = excluded.body
"""
_LATEST_BENCH = "SELECT body FROM {t}benchmark_runs ORDER BY at DESC LIMIT 1"


class OptimizationRepository:
    """Implements ``ActionHistory`` and ``BenchmarkResults``."""

    def __init__(self, runner: SqlRunner) -> None:
        self._runner = runner
        self._encode = runner.dialect.encode_time

    def save_action(
        self, record_id: str, at: datetime, kind: str, status: str, body_json: str
    ) -> None:
        row = (record_id, self._encode(to_utc(at)), kind, status, body_json)
        self._runner.write("save optimization action", _SAVE, [row])

    def actions_since(self, since: datetime, limit: int) -> list[str]:
        check_limit(limit)
        rows = self._runner.query(
            "read optimization actions", _SINCE, [self._encode(to_utc(since)), limit]
        )
        return [str(r[0]) for r in rows]

    def count_actions(self, since: datetime, status: str) -> int:
        rows = self._runner.query(
            "count optimization actions", _COUNT, [self._encode(to_utc(since)), status]
        )
        return int(rows[0][0]) if rows else 0

    def prune(self, before: datetime) -> int:
        """Delete records older than ``before``; returns rows deleted."""
        return self._runner.write(
            "prune optimization actions", _PRUNE, [(self._encode(to_utc(before)),)]
        )

    def save_benchmark(self, at: datetime, body_json: str) -> None:
        self._runner.write(
            "save benchmark run", _SAVE_BENCH, [(self._encode(to_utc(at)), body_json)]
        )

    def latest_benchmark(self) -> str | None:
        rows = self._runner.query("read benchmark run", _LATEST_BENCH)
        return str(rows[0][0]) if rows else None
