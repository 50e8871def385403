"""What the optimizer needs from persistence and from its neighbours; ``store`` implements the
persistence protocols with plain values (it sits below the optimizer), ``app`` wires them."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from perfpilot.appmetrics.model import AppSnapshot
from perfpilot.database.workload_delta import WorkloadDelta
from perfpilot.monitor.model import Alert, AlertKind, Severity


class ActionHistory(Protocol):
    def save_action(
        self, record_id: str, at: datetime, kind: str, status: str, body_json: str
    ) -> None:
        """Insert or replace the record ``record_id``."""
        ...

    def actions_since(self, since: datetime, limit: int) -> list[str]:
        """Bodies of records at or after ``since``, newest first."""
        ...

    def count_actions(self, since: datetime, status: str) -> int: ...


class BenchmarkResults(Protocol):
    def save_benchmark(self, at: datetime, body_json: str) -> None: ...

    def latest_benchmark(self) -> str | None:
        """The body of the newest run, None before the first."""
        ...


class StatementDeltas(Protocol):
    def load_workload_deltas(
        self, database: str, since: datetime, until: datetime | None = None
    ) -> list[WorkloadDelta]: ...


class AppReader(Protocol):
    def read(self, now: datetime) -> AppSnapshot: ...


class EventAlerts(Protocol):
    def raise_event(
        self, kind: AlertKind, resource: str, severity: Severity, message: str, now: datetime
    ) -> Alert | None: ...

    def clear_event(self, kind: AlertKind, resource: str, now: datetime) -> Alert | None: ...
