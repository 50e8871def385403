"""``run_system_cleanup``: prune rollups and run records past retention, then compact the store."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from perfpilot.core.clock import Clock
from perfpilot.monitor.ports import RollupStore
from perfpilot.scheduler.ports import RunHistory
from perfpilot.store.compaction import Compactor


@dataclass(frozen=True, slots=True)
class Retention:
    rollup_days: int
    run_days: int


class SystemCleanup:
    """Deletes what retention no longer keeps and gives the space back."""

    def __init__(
        self,
        rollups: RollupStore,
        runs: RunHistory,
        compactor: Compactor,
        retention: Retention,
        clock: Clock,
    ) -> None:
        self._rollups = rollups
        self._runs = runs
        self._compactor = compactor
        self._retention = retention
        self._clock = clock

    async def run(self) -> str:
        return await asyncio.to_thread(self._clean)

    def _clean(self) -> str:
        now = self._clock.now()
        rollups_before = now - timedelta(days=self._retention.rollup_days)
        runs_before = now - timedelta(days=self._retention.run_days)
        rollups = self._rollups.prune_rollups(rollups_before)
        runs = self._runs.prune_runs(runs_before)
        compacted = self._compactor.compact()
        return (
            f"pruned {rollups} rollups older than {self._retention.rollup_days} d and"
            f" {runs} run records older than {self._retention.run_days} d; {compacted}"
        )
