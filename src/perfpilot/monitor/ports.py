"""What the monitor needs from persistence; ``store`` implements these, ``app`` wires them."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Protocol

from perfpilot.monitor.model import Alert, AlertStatus, Rollup, Severity


class RollupStore(Protocol):
    def save_rollups(self, rollups: Sequence[Rollup]) -> None:
        """Insert or replace rollups keyed by (series, minute)."""
        ...

    def load_rollups(
        self, since: datetime, until: datetime, series: Collection[str] | None = None
    ) -> list[Rollup]:
        """Rollups with since <= minute < until, ordered by minute; all series when None."""
        ...

    def prune_rollups(self, before: datetime) -> int:
        """Delete rollups older than ``before``; returns the number deleted."""
        ...


class AlertStore(Protocol):
    def save_alert(self, alert: Alert) -> None:
        """Insert or replace the alert with this id."""
        ...

    def get_alert(self, alert_id: str) -> Alert | None: ...

    def list_alerts(
        self,
        status: AlertStatus | None = None,
        severity: Severity | None = None,
        limit: int = 100,
    ) -> list[Alert]:
        """Newest first (by started_at)."""
        ...
