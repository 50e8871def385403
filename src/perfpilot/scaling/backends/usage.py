"""A service's own CPU and memory, measured on its instances' processes (never the host total).

CPU is the share of one core each worker used between two readings (a worker of a
single-threaded Python server cannot use more than one core), averaged over the workers: the
gunicorn counterpart of the HPA's per-pod utilization. Memory is each worker's resident set
against the per-instance budget, averaged. Readings are computed from cumulative CPU times, so
nothing sleeps or blocks waiting for an interval (unlike ``psutil.cpu_percent(interval=1)``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import psutil

from perfpilot.scaling.backends.base import BackendError
from perfpilot.scaling.model import MetricReading


@dataclass(frozen=True, slots=True)
class _Times:
    at_s: float
    cpu_s: dict[int, float]


class ProcessTreeUsage:
    """CPU and memory readings of the processes ``find_workers`` returns."""

    def __init__(
        self,
        find_workers: Callable[[], list[psutil.Process]],
        memory_budget_bytes: int,
        monotonic: Callable[[], float],
    ) -> None:
        if memory_budget_bytes <= 0:
            raise ValueError("memory budget must be positive")
        self._find_workers = find_workers
        self._budget = memory_budget_bytes
        self._monotonic = monotonic
        self._previous: _Times | None = None

    def read(self, now: datetime) -> list[MetricReading]:
        """``cpu`` and ``memory`` in percent; a reading is None (with the reason) when the
        processes cannot be read, and CPU is None on the first call (no interval yet)."""
        try:
            procs = self._find_workers()
            times = {p.pid: _cpu_seconds(p) for p in procs}
            rss = [p.memory_info().rss for p in procs]
        except (psutil.Error, BackendError) as exc:
            reason = f"cannot read the service's processes: {exc}"
            return [MetricReading(name, None, None, reason) for name in ("cpu", "memory")]
        current = _Times(self._monotonic(), times)
        cpu = self._cpu_percent(current, now)
        self._previous = current
        if not rss:
            memory = MetricReading("memory", None, None, "no worker processes")
        else:
            mean = sum(rss) / len(rss)
            memory = MetricReading("memory", 100.0 * mean / self._budget, now)
        return [cpu, memory]

    def _cpu_percent(self, current: _Times, now: datetime) -> MetricReading:
        previous = self._previous
        if previous is None:
            return MetricReading("cpu", None, None, "first reading: no interval yet")
        elapsed = current.at_s - previous.at_s
        common = [pid for pid in current.cpu_s if pid in previous.cpu_s]
        if elapsed <= 0 or not common:
            return MetricReading("cpu", None, None, "no worker seen in two readings")
        used = [max(0.0, current.cpu_s[pid] - previous.cpu_s[pid]) for pid in common]
        return MetricReading("cpu", 100.0 * sum(used) / len(used) / elapsed, now)


def _cpu_seconds(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    # Children of a worker (a subprocess it waits for) count towards it.
    return float(times.user + times.system + times.children_user + times.children_system)
