"""``run_system_cleanup``: prune rollups, run records, audit and workload history, then compact."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from perfpilot.core.clock import Clock
from perfpilot.monitor.ports import RollupStore
from perfpilot.scheduler.ports import RunHistory
from perfpilot.store.compaction import Compactor


@dataclass(frozen=True, slots=True)
class Retention:
    rollup_days: int
    run_days: int


@dataclass(frozen=True, slots=True)
class RetainedRecords:
    """Other records with a retention: ``prune(before)`` deletes older ones, returns a count."""

    label: str
    days: int
    prune: Callable[[datetime], int]


class SystemCleanup:
    """Deletes what retention no longer keeps and gives the space back."""

    def __init__(
        self,
        rollups: RollupStore,
        runs: RunHistory,
        compactor: Compactor,
        retention: Retention,
        clock: Clock,
        others: Sequence[RetainedRecords] = (),
    ) -> None:
        self._others = tuple(others)
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
        others = [
            f"{other.prune(now - timedelta(days=other.days))} {other.label} older than"
            f" {other.days} d"
            for other in self._others
        ]
        compacted = self._compactor.compact()
        pruned = ", ".join(
            [
                f"{rollups} rollups older than {self._retention.rollup_days} d",
                f"{runs} run records older than {self._retention.run_days} d",
                *others,
            ]
        )
        return f"pruned {pruned}; {compacted}"
