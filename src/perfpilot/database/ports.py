"""What the Database Tuner needs from persistence; ``store`` implements it, ``app`` wires it."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from perfpilot.database.workload_delta import WorkloadDelta


class StatementSnapshotStore(Protocol):
    def save_workload_delta(self, delta: WorkloadDelta) -> None:
        """Insert or replace the delta keyed by (database, ended_at)."""
        ...

    def load_workload_deltas(
        self, database: str, since: datetime, until: datetime | None = None
    ) -> list[WorkloadDelta]:
        """Deltas of ``database`` with since < ended_at (<= until when given), oldest first."""
        ...

    def prune_workload_deltas(self, before: datetime) -> int:
        """Delete deltas that ended before ``before``; returns the number of periods deleted."""
        ...
