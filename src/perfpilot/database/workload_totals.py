"""Running totals of the target database's statements, summed from the recorded deltas."""

from __future__ import annotations

from dataclasses import dataclass

from perfpilot.database.workload_delta import WorkloadDelta


@dataclass(frozen=True, slots=True)
class WorkloadTotals:
    """What the database's top-level statements (perfpilot's own left out) did since the
    recorder's baseline. Only ever grows: each delta already counts a restarted
    pg_stat_statements entry from zero, so evictions and resets never make it fall."""

    calls: int = 0
    total_ms: float = 0.0
    shared_blks_hit: int = 0
    shared_blks_read: int = 0

    def plus(self, delta: WorkloadDelta) -> WorkloadTotals:
        """These totals with every entry of ``delta`` added."""
        entries = delta.statements
        return WorkloadTotals(
            calls=self.calls + sum(e.calls for e in entries),
            total_ms=self.total_ms + sum(e.total_ms for e in entries),
            shared_blks_hit=self.shared_blks_hit + sum(e.shared_blks_hit for e in entries),
            shared_blks_read=self.shared_blks_read + sum(e.shared_blks_read for e in entries),
        )
