"""The quiet window from stored CPU rollups, and moving ``@quiet`` tasks into it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from perfpilot.core.clock import Clock
from perfpilot.monitor.ports import RollupStore
from perfpilot.scheduler.best_hours import QuietWindow, quiet_window
from perfpilot.scheduler.trigger import parse_zone

# Four weeks: every hour of the week gets four samples of its median.
LOOKBACK = timedelta(days=28)


class QuietHours:
    """Computes the quietest daily window (blocking: reads the store)."""

    def __init__(
        self, rollups: RollupStore, zone: str, hours: int, default_start_hour: int, clock: Clock
    ) -> None:
        self._rollups = rollups
        self._zone = parse_zone(zone)
        self._hours = hours
        self._default_start_hour = default_start_hour
        self._clock = clock

    def window(self) -> QuietWindow:
        now = self._clock.now()
        rollups = self._rollups.load_rollups(now - LOOKBACK, now, ["cpu"])
        points = [(r.minute, r.avg) for r in rollups]
        return quiet_window(points, self._zone, self._hours, self._default_start_hour)


class QuietPlacement:
    """Recomputes the window and hands its start hour to the scheduler (``@quiet`` tasks)."""

    def __init__(self, quiet: QuietHours, place: Callable[[int], None]) -> None:
        self._quiet = quiet
        self._place = place

    async def run(self) -> str:
        window = await asyncio.to_thread(self._quiet.window)
        self._place(window.start_hour)
        return (
            f"quiet window {window.start_hour:02d}:00 for {window.hours} h ({window.source},"
            f" {window.days_of_data:.1f} days of data)"
        )
