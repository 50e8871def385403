"""Periodic workload snapshots turned into stored deltas."""

from __future__ import annotations

import logging
from collections.abc import Collection

import psycopg
from psycopg.rows import TupleRow

from perfpilot.core.clock import Clock
from perfpilot.database.ports import StatementSnapshotStore
from perfpilot.database.workload import WorkloadReading, WorkloadSnapshot, read_workload
from perfpilot.database.workload_delta import WorkloadDelta, snapshot_delta
from perfpilot.database.workload_totals import WorkloadTotals

logger = logging.getLogger(__name__)


class WorkloadRecorder:
    """Takes a snapshot per call and stores the delta to the previous one.

    The previous snapshot is kept in memory only: after a restart the first call is a baseline
    and stores nothing, since the counters' state at the last stored period end is unknown.
    ``totals`` sums every delta since the first baseline; None until a snapshot was read.
    """

    def __init__(
        self,
        store: StatementSnapshotStore,
        clock: Clock,
        *,
        exclude_roles: Collection[str] = (),
    ) -> None:
        self._store = store
        self._clock = clock
        self._exclude_roles = tuple(exclude_roles)
        self._previous: WorkloadSnapshot | None = None
        self.totals: WorkloadTotals | None = None

    def record(
        self, conn: psycopg.Connection[TupleRow]
    ) -> tuple[WorkloadReading, WorkloadDelta | None]:
        """Read the workload; returns the reading and the stored delta (None for a baseline)."""
        reading = read_workload(conn, self._clock.now(), exclude_roles=self._exclude_roles)
        current = reading.snapshot
        if current is None:
            logger.info("workload not recorded: %s", reading.availability.message)
            self._previous = None
            return reading, None
        previous, self._previous = self._previous, current
        if self.totals is None:
            self.totals = WorkloadTotals()
        if previous is None or previous.database != current.database:
            return reading, None
        delta = snapshot_delta(previous, current)
        # Counted before saving: the statements ran whether or not the store takes the delta.
        self.totals = self.totals.plus(delta)
        self._store.save_workload_delta(delta)
        return reading, delta
