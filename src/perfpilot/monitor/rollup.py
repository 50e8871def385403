"""Minute and hour aggregates (avg/min/max/count) of sample series. Pure: no I/O, no clock."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from perfpilot.monitor.model import Rollup

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _Aggregate:
    total: float
    low: float
    high: float
    count: int

    def add(self, value: float) -> None:
        self.total += value
        self.low = min(self.low, value)
        self.high = max(self.high, value)
        self.count += 1

    def rollup(self, series: str, start: datetime) -> Rollup:
        # A float sum divided back can land an ulp outside [low, high] for equal values.
        mean = min(self.high, max(self.low, self.total / self.count))
        return Rollup(series, start, mean, self.low, self.high, self.count)


class MinuteRollups:
    """Aggregates samples over the open UTC minute; a sample in a later minute closes it."""

    def __init__(self) -> None:
        self._minute: datetime | None = None
        self._aggregates: dict[str, _Aggregate] = {}

    @property
    def open_minute(self) -> datetime | None:
        """Start of the minute being aggregated, or None before the first sample."""
        return self._minute

    def add(self, ts: datetime, values: Mapping[str, float]) -> list[Rollup]:
        """Add one sample; returns the rollups of the minute it closed, else an empty list.

        A sample from a minute before the open one (the clock stepped back) is dropped:
        that minute was already handed out. NaN values are not counted.
        """
        minute = minute_start(ts)
        if self._minute is not None and minute < self._minute:
            logger.warning("dropping sample at %s: its minute is already closed", ts)
            return []
        closed = self.flush() if self._minute is not None and minute > self._minute else []
        self._minute = minute
        for name, value in values.items():
            if math.isnan(value):
                continue
            aggregate = self._aggregates.get(name)
            if aggregate is None:
                self._aggregates[name] = _Aggregate(value, value, value, 1)
            else:
                aggregate.add(value)
        return closed

    def flush(self) -> list[Rollup]:
        """Close the open minute (at shutdown) and return its rollups."""
        minute, aggregates = self._minute, self._aggregates
        self._minute, self._aggregates = None, {}
        if minute is None:
            return []
        return [aggregate.rollup(name, minute) for name, aggregate in aggregates.items()]


def minute_start(ts: datetime) -> datetime:
    """The UTC minute containing ``ts``."""
    return _utc(ts).replace(second=0, microsecond=0)


def hour_start(ts: datetime) -> datetime:
    """The UTC hour containing ``ts``."""
    return _utc(ts).replace(minute=0, second=0, microsecond=0)


def hourly(rollups: Sequence[Rollup]) -> list[Rollup]:
    """Hour rollups (``minute`` is the UTC hour start) from minute rollups, ordered by series
    then hour; the average is weighted by each minute's sample count."""
    weighted: dict[tuple[str, datetime], _Aggregate] = {}
    for rollup in rollups:
        if rollup.count <= 0:
            continue
        key = (rollup.series, hour_start(rollup.minute))
        aggregate = weighted.get(key)
        if aggregate is None:
            weighted[key] = _Aggregate(
                rollup.avg * rollup.count, rollup.min, rollup.max, rollup.count
            )
            continue
        aggregate.total += rollup.avg * rollup.count
        aggregate.low = min(aggregate.low, rollup.min)
        aggregate.high = max(aggregate.high, rollup.max)
        aggregate.count += rollup.count
    return [weighted[key].rollup(*key) for key in sorted(weighted)]


def _utc(ts: datetime) -> datetime:
    if ts.tzinfo is None:
        raise ValueError(f"naive datetime {ts!r}: rollups need timezone-aware timestamps")
    return ts.astimezone(UTC)
