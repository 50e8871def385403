"""``run_resource_monitoring``: top processes by CPU and memory, and the monitor's forecasts."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from perfpilot.maintenance.processes import ProcessTop, ProcessUsage, top_by_cpu, top_by_rss
from perfpilot.monitor.model import Forecast

ForecastReader = Callable[[], list[Forecast]]
MB = 1024 * 1024


class ResourceReport:
    """Records the heaviest processes and when each resource is forecast to reach its level.

    The first run primes the CPU readings and takes the second ``prime_s`` later (awaiting,
    never blocking); later runs measure CPU over the time since the previous run.
    """

    def __init__(
        self,
        forecasts: ForecastReader,
        processes: ProcessTop | None = None,
        top: int = 5,
        prime_s: float = 1.0,
    ) -> None:
        self._forecasts = forecasts
        self._processes = processes or ProcessTop()
        self._top = top
        self._prime_s = prime_s
        self._primed = False

    async def run(self) -> str:
        if not self._primed:
            await asyncio.to_thread(self._processes.read)
            await asyncio.sleep(self._prime_s)
            self._primed = True
        usage = await asyncio.to_thread(self._processes.read)
        cpu = ", ".join(_cpu(u) for u in top_by_cpu(usage, self._top)) or "none measured"
        rss = ", ".join(_rss(u) for u in top_by_rss(usage, self._top)) or "none readable"
        forecasts = "; ".join(_forecast(f) for f in self._forecasts()) or "no forecasts yet"
        return f"{len(usage)} processes; top cpu: {cpu}; top rss: {rss}; forecasts: {forecasts}"


def _cpu(u: ProcessUsage) -> str:
    return f"{u.name}[{u.pid}] {u.cpu_percent:.1f}%"


def _rss(u: ProcessUsage) -> str:
    return f"{u.name}[{u.pid}] {u.rss_bytes / MB:.0f} MB"


def _forecast(f: Forecast) -> str:
    if f.reason is not None:
        return f"{f.resource} unknown ({f.reason})"
    if f.minutes_to_threshold is None:
        return f"{f.resource} no crossing of {f.threshold:g}%"
    return f"{f.resource} reaches {f.threshold:g}% in {f.minutes_to_threshold:.0f} min"
