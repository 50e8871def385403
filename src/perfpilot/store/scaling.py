"""The Auto Scaler's decisions, rule overrides and demand minutes (migration 6), both backends.

Plain values only: ``scaling`` defines the protocols (``scaling.ports``) and sits beside
``store``, so neither imports the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from perfpilot.store.base import check_limit, to_utc
from perfpilot.store.sqlrunner import SqlRunner

_SAVE_DECISION = """
    INSERT INTO {t}scaling_decisions (id, service, at, executed, body)
    VALUES (%s, %s, %s, %s, %s)
    ON CONFLICT (id) DO UPDATE SET executed = excluded.executed, body = excluded.body
"""
_RECENT = "SELECT body FROM {t}scaling_decisions ORDER BY at DESC, id DESC LIMIT %s"
_SAVE_OVERRIDE = """
    INSERT INTO {t}scaling_rule_overrides (service, rule, fields, updated_at)
    VALUES (%s, %s, %s, %s)
    ON CONFLICT (service, rule) DO UPDATE SET fields = excluded.fields,
        updated_at = excluded.updated_at
"""
_OVERRIDES = "SELECT service, rule, fields FROM {t}scaling_rule_overrides ORDER BY updated_at"
_SAVE_DEMAND = """
    INSERT INTO {t}scaling_demand (series, minute, mean, samples) VALUES (%s, %s, %s, %s)
    ON CONFLICT (series, minute) DO UPDATE SET mean = excluded.mean, samples = excluded.samples
"""
_LOAD_DEMAND = """
    SELECT minute, mean, samples FROM {t}scaling_demand
    WHERE series = %s AND minute >= %s AND minute < %s ORDER BY minute
"""
_PRUNE_DEMAND = "DELETE FROM {t}scaling_demand WHERE minute < %s"
_PRUNE_DECISIONS = "DELETE FROM {t}scaling_decisions WHERE at < %s"


class ScalingRepository:
    """Implements ``DecisionRecords``, ``RuleOverrides`` and ``DemandStore``."""

    def __init__(self, runner: SqlRunner) -> None:
        self._runner = runner
        self._encode = runner.dialect.encode_time
        self._decode = runner.dialect.decode_time

    def save_decision(
        self, decision_id: str, service: str, at: datetime, executed: bool, body_json: str
    ) -> None:
        row = (decision_id, service, self._encode(to_utc(at)), executed, body_json)
        self._runner.write("save scaling decision", _SAVE_DECISION, [row])

    def recent_decisions(self, limit: int) -> list[str]:
        check_limit(limit)
        rows = self._runner.query("read scaling decisions", _RECENT, [limit])
        return [str(row[0]) for row in rows]

    def save_rule_override(self, service: str, rule: str, fields_json: str, at: datetime) -> None:
        row = (service, rule, fields_json, self._encode(to_utc(at)))
        self._runner.write("save scaling rule override", _SAVE_OVERRIDE, [row])

    def rule_overrides(self) -> list[tuple[str, str, str]]:
        rows = self._runner.query("read scaling rule overrides", _OVERRIDES)
        return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]

    def save_demand(self, rows: Sequence[tuple[str, datetime, float, int]]) -> None:
        params = [(s, self._encode(to_utc(m)), mean, n) for s, m, mean, n in rows]
        self._runner.write("save scaling demand", _SAVE_DEMAND, params)

    def load_demand(
        self, series: str, since: datetime, until: datetime
    ) -> list[tuple[datetime, float, int]]:
        params = [series, self._encode(to_utc(since)), self._encode(to_utc(until))]
        rows = self._runner.query("read scaling demand", _LOAD_DEMAND, params)
        return [(self._decode(r[0]), float(r[1]), int(r[2])) for r in rows]

    def prune_demand(self, before: datetime) -> int:
        """Delete demand minutes older than ``before``; returns rows deleted."""
        return self._runner.write(
            "prune scaling demand", _PRUNE_DEMAND, [(self._encode(to_utc(before)),)]
        )

    def prune_decisions(self, before: datetime) -> int:
        """Delete decisions taken before ``before``; returns rows deleted."""
        return self._runner.write(
            "prune scaling decisions", _PRUNE_DECISIONS, [(self._encode(to_utc(before)),)]
        )
