"""Event-loop lag: how late a timer on the service's own event loop fires."""

from __future__ import annotations

import asyncio
import threading


class LoopLagProbe:
    """Measures lag on the event loop and hands the worst value since the last read to the
    sampling thread. A blocked loop shows here first, before requests time out."""

    def __init__(self, period_s: float = 0.5) -> None:
        self._period_s = period_s
        self._worst_s: float | None = None
        self._lock = threading.Lock()

    def record(self, lag_s: float) -> None:
        with self._lock:
            self._worst_s = lag_s if self._worst_s is None else max(self._worst_s, lag_s)

    def take(self) -> float | None:
        """Worst lag seen since the previous call; None when the probe has not run."""
        with self._lock:
            worst, self._worst_s = self._worst_s, None
        return worst

    async def run(self) -> None:
        """Sleep ``period_s`` repeatedly and record the overshoot; cancelled on shutdown."""
        loop = asyncio.get_running_loop()
        while True:
            expected = loop.time() + self._period_s
            await asyncio.sleep(self._period_s)
            self.record(max(0.0, loop.time() - expected))
