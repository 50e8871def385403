"""The tuner's background work: workload snapshots and judging built indexes, on a period."""

from __future__ import annotations

import asyncio
import logging

from perfpilot.core.clock import Clock
from perfpilot.core.health import ComponentHealth, HealthState
from perfpilot.database.tuner import DatabaseTuner

logger = logging.getLogger(__name__)


class TunerLoop:
    """Records a pg_stat_statements delta and judges settled indexes every ``interval_s``."""

    def __init__(self, tuner: DatabaseTuner, interval_s: float, clock: Clock) -> None:
        self._tuner = tuner
        self._interval_s = interval_s
        self._clock = clock
        self._health = ComponentHealth(
            "database_tuner", HealthState.OK, reason="waiting for the first workload snapshot"
        )
        self._snapshots = 0

    def health(self) -> ComponentHealth:
        return self._health

    async def tick(self) -> None:
        """One round; a failure is reported on /status and retried next round."""
        now = self._clock.now()
        try:
            recorded = await asyncio.to_thread(self._tuner.record_workload)
            judged = await asyncio.to_thread(self._tuner.judge_indexes)
        except Exception as exc:  # noqa: BLE001 - any failure is reported; the loop goes on
            logger.warning("database tuner round failed: %s", exc)
            self._health = ComponentHealth(
                "database_tuner", HealthState.DEGRADED, f"{type(exc).__name__}: {exc}", now
            )
            return
        self._snapshots += int(recorded)
        self._health = ComponentHealth(
            "database_tuner",
            HealthState.OK,
            checked_at=now,
            details={"workload_deltas_recorded": self._snapshots, "indexes_judged": len(judged)},
        )

    async def run(self) -> None:
        while True:
            await self.tick()
            await asyncio.sleep(self._interval_s)
