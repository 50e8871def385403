"""The processes using the most CPU and memory, from psutil (blocking: call it in a thread).

CPU percent is the difference of two readings of a process's CPU times; this class keeps the
``psutil.Process`` objects between calls so each call's percent covers the time since the
previous call, and never waits inside a call (no ``interval=``).
"""

from __future__ import annotations

from dataclasses import dataclass

import psutil


@dataclass(frozen=True, slots=True)
class ProcessUsage:
    """``cpu_percent`` is None for a process first seen in this reading (no earlier one)."""

    pid: int
    name: str
    cpu_percent: float | None
    rss_bytes: int


class ProcessTop:
    """Reads every process once per call; remembers processes to measure CPU across calls."""

    def __init__(self) -> None:
        self._known: dict[int, psutil.Process] = {}

    def read(self) -> list[ProcessUsage]:
        """One reading of every process this user may see."""
        seen: dict[int, psutil.Process] = {}
        usage: list[ProcessUsage] = []
        for proc in psutil.process_iter():
            previous = self._known.get(proc.pid)
            # The same pid may be a new process; psutil compares creation times in ==.
            tracked = previous if previous is not None and previous == proc else proc
            try:
                with tracked.oneshot():
                    percent = tracked.cpu_percent(None)
                    rss = tracked.memory_info().rss
                    name = tracked.name()
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue  # ended or not ours while iterating: nothing to report for it
            first_reading = tracked is not previous
            usage.append(ProcessUsage(tracked.pid, name, None if first_reading else percent, rss))
            seen[tracked.pid] = tracked
        self._known = seen
        return usage


def top_by_cpu(usage: list[ProcessUsage], count: int) -> list[ProcessUsage]:
    measured = [u for u in usage if u.cpu_percent is not None]
    return sorted(measured, key=lambda u: (-(u.cpu_percent or 0.0), u.pid))[:count]


def top_by_rss(usage: list[ProcessUsage], count: int) -> list[ProcessUsage]:
    return sorted(usage, key=lambda u: (-u.rss_bytes, u.pid))[:count]
