"""What the Auto Scaler needs from other components, as protocols it owns.

``store`` implements the persistence ones with plain values (it sits beside ``scaling`` and
does not import it); ``app`` wires the application-metrics reader and the alert engine in.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from perfpilot.monitor.model import Alert, AlertKind, Severity
from perfpilot.scaling.model import MetricReading


class AppSignals(Protocol):
    def readings(self, service: str, instances: int, now: datetime) -> list[MetricReading]:
        """Application-level readings (``latency_p95``, ``rps_per_instance``,
        ``queue_length``) for the service; blocking (HTTP)."""
        ...


class DecisionRecords(Protocol):
    def save_decision(
        self, decision_id: str, service: str, at: datetime, executed: bool, body_json: str
    ) -> None:
        """Insert or replace one decision (its JSON body)."""
        ...

    def recent_decisions(self, limit: int) -> list[str]:
        """JSON bodies, newest first."""
        ...


class RuleOverrides(Protocol):
    def save_rule_override(self, service: str, rule: str, fields_json: str, at: datetime) -> None:
        """Store the merged fields changed through the API for one rule."""
        ...

    def rule_overrides(self) -> list[tuple[str, str, str]]:
        """(service, rule, fields JSON) of every stored override, oldest change first."""
        ...


class DemandStore(Protocol):
    def save_demand(self, rows: Sequence[tuple[str, datetime, float, int]]) -> None:
        """Insert or replace (series, minute, mean, samples) rows."""
        ...

    def load_demand(
        self, series: str, since: datetime, until: datetime
    ) -> list[tuple[datetime, float, int]]:
        """(minute, mean, samples) with since <= minute < until, oldest first."""
        ...


class EventAlerts(Protocol):
    def raise_event(
        self, kind: AlertKind, resource: str, severity: Severity, message: str, now: datetime
    ) -> Alert | None: ...

    def clear_event(self, kind: AlertKind, resource: str, now: datetime) -> Alert | None: ...
