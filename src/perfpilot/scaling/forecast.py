"""The predictive layer's input: each service's total demand, its seasonal forecast ahead.

Demand is a load-proportional metric times the instance count (total requests per second, or
total CPU percent), so it does not change when the scaler does. Minute means are kept (and
stored when a store is given); hourly means of up to 14 days feed the monitor's Holt-Winters
model (``monitor.seasonal``), refitted once per hour. The forecast between hours is the
straight line between hour midpoints, and the peak of that line over the next ``horizon_s``
is what the scaler provisions for, ahead of the rise by the instance start-up time
(in the spirit of AWS predictive scaling's "scheduling buffer time").
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from perfpilot.core.scaling_config import ServiceConfig
from perfpilot.monitor.seasonal import (
    MIN_SEASONAL_POINTS,
    SEASON_HOURS,
    SEASONAL_MODEL,
    fit_holt_winters,
    holdout_skill,
)
from perfpilot.monitor.trend import FloatArray
from perfpilot.scaling.model import DemandForecast
from perfpilot.scaling.ports import DemandStore
from perfpilot.scaling.proposals import metric_targets

# Metrics that grow with load and split across instances, most direct first.
_DEMAND_METRICS = ("rps_per_instance", "cpu", "queue_length")
# Hourly means of this many days feed the seasonal model; the store keeps at least as many.
DEMAND_LOOKBACK_DAYS = 14
_LOOKBACK = timedelta(days=DEMAND_LOOKBACK_DAYS)
_HOUR = timedelta(hours=1)
_HALF_MINUTE = timedelta(seconds=30)
# The measured level the forecast is shifted to: the last 30 minutes (a 10-minute spike stays
# a minority of them, so the median ignores it), at least 5 of them.
_LEVEL_WINDOW = timedelta(minutes=30)
_LEVEL_MIN_MINUTES = 5


def demand_metric(policy: ServiceConfig) -> str | None:
    """The metric whose total the predictive layer forecasts, if the service has one."""
    names = {name for name, _ in metric_targets(policy)}
    return next((m for m in _DEMAND_METRICS if m in names), None)


def hold_window_s(policy: ServiceConfig) -> float:
    """How far ahead a scale-in must still cover the forecast: the scale-down stabilization
    window (the HPA's look-back for scale-in), and at least the start-up time, since an
    instance removed now cannot be back sooner."""
    return max(policy.scale_down_stabilization_s, policy.startup_s)


@dataclass(frozen=True, slots=True)
class _Fit:
    last_hour: datetime
    path: tuple[float, ...]  # last complete hour's mean, then forecast hours
    confidence: float


class SeasonalDemand:
    """Minute demand per series, and the seasonal forecast of its peak ahead. Thread-safe."""

    def __init__(self, store: DemandStore | None = None) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._minutes: dict[str, dict[datetime, tuple[float, int]]] = defaultdict(dict)
        self._fits: dict[str, _Fit] = {}
        self._open: dict[str, datetime] = {}
        # Until enough history exists, the answer changes at most once an hour too.
        self._short: dict[str, tuple[datetime, str]] = {}

    def record(self, series: str, now: datetime, demand: float) -> None:
        """Add one demand reading to its minute (mean over the readings of that minute)."""
        minute = now.replace(second=0, microsecond=0)
        with self._lock:
            rows = self._minutes[series]
            mean, count = rows.get(minute, (0.0, 0))
            rows[minute] = ((mean * count + demand) / (count + 1), count + 1)
            previous = self._open.get(series)
            self._open[series] = minute
            closed = previous if previous is not None and previous < minute else None
            closed_row = rows.get(closed) if closed is not None else None
            if closed is not None:
                self._trim(rows, now)
        # A minute is written once, when the first reading of a later minute closes it.
        if self._store is not None and closed is not None and closed_row is not None:
            self._store.save_demand([(series, closed, closed_row[0], closed_row[1])])

    def load(self, series: str, now: datetime) -> int:
        """Reload stored minutes (at start-up); returns how many."""
        if self._store is None:
            return 0
        rows = self._store.load_demand(series, now - _LOOKBACK, now)
        with self._lock:
            for minute, mean, count in rows:
                self._minutes[series][minute] = (mean, count)
        return len(rows)

    def forecast(
        self, series: str, now: datetime, horizon_s: float, hold_s: float = 0.0
    ) -> tuple[DemandForecast | None, str | None]:
        """The highest demand expected in [now, now + horizon_s] (what a scale-out provisions
        for) and in [now, now + hold_s] (what a scale-in must still cover), or None with the
        reason."""
        fit, reason = self._fit(series, now)
        if fit is None:
            return None, reason
        with self._lock:
            recent = _recent(self._minutes.get(series, {}), now - _LEVEL_WINDOW)
        offset = _level_offset(fit, recent)
        peak = max(0.0, _peak(fit, now, horizon_s) + offset)
        hold = max(0.0, _peak(fit, now, hold_s) + offset) if hold_s > 0 else None
        at_now = max(0.0, _peak(fit, now, 0.0) + offset)
        metric = series.rsplit(":", 1)[-1]
        forecast = DemandForecast(
            metric, peak, horizon_s, fit.confidence, SEASONAL_MODEL, hold, hold_s, offset, at_now
        )
        return forecast, None

    def _fit(self, series: str, now: datetime) -> tuple[_Fit | None, str | None]:
        last_hour = now.replace(minute=0, second=0, microsecond=0) - _HOUR
        with self._lock:
            cached = self._fits.get(series)
            if cached is not None and cached.last_hour == last_hour:
                return cached, None
            short = self._short.get(series)
            if short is not None and short[0] == last_hour:
                return None, short[1]
            hourly = _hourly(self._minutes.get(series, {}), last_hour)
        known = int(np.count_nonzero(np.isfinite(hourly)))
        if known < MIN_SEASONAL_POINTS:
            reason = f"seasonal forecast needs {MIN_SEASONAL_POINTS} hours of demand, have {known}"
            with self._lock:
                self._short[series] = (last_hour, reason)
            return None, reason
        filled = _filled(hourly)
        model = fit_holt_winters(filled)
        skill = holdout_skill(filled) if filled.size >= SEASON_HOURS * 2 else 0.0
        path = (float(filled[-1]), *(float(v) for v in model.forecast(3)))
        fit = _Fit(last_hour, path, skill)
        with self._lock:
            self._fits[series] = fit
        return fit, None

    def _trim(self, rows: dict[datetime, tuple[float, int]], now: datetime) -> None:
        oldest = now - _LOOKBACK
        # Minutes are inserted in order, so the expired ones are at the head.
        while rows and (first := next(iter(rows))) < oldest:
            del rows[first]


def _hourly(rows: dict[datetime, tuple[float, int]], last_hour: datetime) -> FloatArray:
    """Hour means from ``last_hour - 14 days`` to ``last_hour`` inclusive; NaN without data."""
    hours = int(_LOOKBACK / _HOUR)
    first = last_hour - (hours - 1) * _HOUR
    sums = np.zeros(hours)
    counts = np.zeros(hours)
    for minute, (mean, count) in rows.items():
        index = int((minute - first) // _HOUR)
        if 0 <= index < hours:
            sums[index] += mean * count
            counts[index] += count
    values = np.full(hours, np.nan)
    np.divide(sums, counts, out=values, where=counts > 0)
    start = int(np.argmax(np.isfinite(values))) if np.isfinite(values).any() else hours
    return values[start:]


def _filled(values: FloatArray) -> FloatArray:
    known = np.isfinite(values)
    if known.all():
        return values
    index = np.arange(values.size)
    filled: FloatArray = np.interp(index, index[known], values[known])
    return filled


def _line(fit: _Fit, times: FloatArray) -> FloatArray:
    """The line through the hour midpoints at ``times`` (epoch seconds)."""
    mids = [(fit.last_hour + _HOUR / 2 + k * _HOUR).timestamp() for k in range(len(fit.path))]
    values: FloatArray = np.interp(times, mids, fit.path)
    return values


def _peak(fit: _Fit, now: datetime, horizon_s: float) -> float:
    """Highest value of the line through hour midpoints over [now, now + horizon_s]."""
    start = now.timestamp()
    return float(np.max(_line(fit, np.arange(start, start + horizon_s + 1.0, 60.0))))


def _recent(
    rows: dict[datetime, tuple[float, int]], since: datetime
) -> list[tuple[datetime, float]]:
    """(minute, mean) from ``since`` on; minutes are inserted in order, so read from the end."""
    out = []
    for minute in reversed(rows):
        if minute < since:
            break
        out.append((minute, rows[minute][0]))
    return out


def _level_offset(fit: _Fit, recent: list[tuple[datetime, float]]) -> float:
    """Median of (measured - line) over the recent minutes; 0 with too few of them.

    The line through hourly means runs above a trough and below a crest (an hour's mean
    flattens its shape, and a spike lifts the whole hour), by 10-15 % on the benchmark's
    daily cycle. Shifting it to the level measured in the last minutes keeps the forecast's
    shape (the rise it sees coming) without that bias; the median ignores a spike.
    """
    if len(recent) < _LEVEL_MIN_MINUTES:
        return 0.0
    times = np.array([(m + _HALF_MINUTE).timestamp() for m, _ in recent])
    measured = np.array([mean for _, mean in recent])
    return float(np.median(measured - _line(fit, times)))
