"""The quietest daily window for maintenance, from at least a week of CPU history.

Each hour of the week gets the median of its CPU minute averages (a median, so one backup
spike does not make an hour look busy); the window start whose hours have the lowest mean of
those medians over the seven days wins. With less than seven days of history the configured
window is reported, marked ``default``.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

MIN_DAYS = 7.0
HOURS_PER_WEEK = 7 * 24


@dataclass(frozen=True, slots=True)
class QuietWindow:
    """``start_hour`` (local, 0-23) and length of the daily window; ``mean_cpu_percent`` is
    None for the default window, which no data backs."""

    source: Literal["rollups", "default"]
    start_hour: int
    hours: int
    zone: str
    days_of_data: float
    mean_cpu_percent: float | None


def quiet_window(
    cpu_minutes: Sequence[tuple[datetime, float]],
    zone: ZoneInfo,
    hours: int,
    default_start_hour: int,
) -> QuietWindow:
    """The quietest ``hours``-long daily window from (minute, CPU %) points (UTC-aware)."""
    days = _days_covered(cpu_minutes)
    medians = _hour_of_week_medians(cpu_minutes, zone)
    if days < MIN_DAYS or len(medians) < HOURS_PER_WEEK:
        return QuietWindow("default", default_start_hour, hours, zone.key, days, None)
    scores = {start: _window_mean(medians, start, hours) for start in range(24)}
    best = min(scores, key=lambda start: (scores[start], start))
    return QuietWindow("rollups", best, hours, zone.key, days, scores[best])


def _days_covered(points: Sequence[tuple[datetime, float]]) -> float:
    if not points:
        return 0.0
    first = min(at for at, _ in points)
    last = max(at for at, _ in points)
    return (last - first).total_seconds() / 86400


def _hour_of_week_medians(
    points: Sequence[tuple[datetime, float]], zone: ZoneInfo
) -> dict[int, float]:
    buckets: dict[int, list[float]] = {}
    for at, value in points:
        local = at.astimezone(zone)
        buckets.setdefault(local.weekday() * 24 + local.hour, []).append(value)
    return {slot: statistics.median(values) for slot, values in buckets.items()}


def _window_mean(medians: dict[int, float], start: int, hours: int) -> float:
    values = [
        medians[(day * 24 + start + offset) % HOURS_PER_WEEK]
        for day in range(7)
        for offset in range(hours)
    ]
    return statistics.fmean(values)
