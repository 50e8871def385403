"""The latest forecast per resource: the more urgent of the trend and the seasonal model.

Both answer one question: in how many minutes will a resource reach its threshold?
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from perfpilot.core.settings import ForecastConfig
from perfpilot.monitor.model import Forecast
from perfpilot.monitor.seasonal import seasonal_forecast
from perfpilot.monitor.trend import FloatArray, trend_forecast


@dataclass(frozen=True, slots=True)
class _Seasonal:
    forecast: Forecast
    # When the data ended and when the crossing hour starts, so minutes can be recounted later.
    as_of: datetime
    crossing_at: datetime | None


def _urgency(forecast: Forecast) -> float:
    return math.inf if forecast.minutes_to_threshold is None else forecast.minutes_to_threshold


class Forecaster:
    """Latest trend and seasonal forecast per resource; updated from the sampling thread and a
    fitting thread, read from the API thread."""

    def __init__(self, config: ForecastConfig, min_confidence: float = 0.8) -> None:
        self._config = config
        self._min_confidence = min_confidence
        self._lock = threading.Lock()
        self._trends: dict[str, Forecast] = {}
        self._seasonal: dict[str, _Seasonal] = {}
        self._now: datetime | None = None

    def update_trends(
        self,
        history_arrays: Mapping[str, tuple[FloatArray, FloatArray]],
        now: datetime,
        thresholds: Mapping[str, float],
    ) -> list[Forecast]:
        """Refit the trend of every series that has a threshold; (epoch seconds, values) each."""
        forecasts = [
            trend_forecast(name, ts_s, values, now, thresholds[name], self._config)
            for name, (ts_s, values) in history_arrays.items()
            if name in thresholds
        ]
        with self._lock:
            # Replaced, not merged: a series that left the history (an unmounted disk) goes.
            self._trends = {f.resource: f for f in forecasts}
            self._now = now
        return forecasts

    def refit_seasonal(
        self,
        hourly: Mapping[str, FloatArray],
        last_hour: datetime,
        thresholds: Mapping[str, float],
    ) -> None:
        """Refit Holt-Winters for every series with a threshold; slow, run it off the loop."""
        # Hour h of the forecast starts (h - 1) h after the data ends; one extra hour covers
        # a horizon that ends inside an hour.
        horizon_hours = math.ceil(self._config.horizon_min / 60.0) + 1
        as_of = last_hour + timedelta(hours=1)
        fitted: dict[str, _Seasonal] = {}
        for name, values in hourly.items():
            if name not in thresholds:
                continue
            forecast = seasonal_forecast(name, values, last_hour, thresholds[name], horizon_hours)
            minutes = forecast.minutes_to_threshold
            crossing = None if minutes is None else as_of + timedelta(minutes=minutes)
            fitted[name] = _Seasonal(forecast, as_of, crossing)
        with self._lock:
            self._seasonal = fitted

    def latest(self) -> list[Forecast]:
        """One forecast per resource, sorted by resource.

        Rule: among the trend and seasonal forecasts that are trusted (no ``reason`` and
        ``confidence >= min_confidence``), the one crossing sooner (trend on a tie). When
        neither is trusted, the trend forecast (else the seasonal one) is reported as is, so
        its ``reason`` explains the gap. Seasonal minutes are counted from the latest trend
        update; a seasonal fit older than twice ``seasonal_refit_min`` is dropped as stale.
        """
        with self._lock:
            trends = dict(self._trends)
            seasonal = {
                name: self._current_seasonal(entry) for name, entry in self._seasonal.items()
            }
        chosen: list[Forecast] = []
        for name in sorted(trends.keys() | seasonal.keys()):
            options = [f for f in (trends.get(name), seasonal.get(name)) if f is not None]
            trusted = [f for f in options if self._trusted(f)]
            if trusted:
                chosen.append(min(trusted, key=_urgency))
            elif options:
                chosen.append(options[0])
        return chosen

    def _trusted(self, forecast: Forecast) -> bool:
        return forecast.reason is None and forecast.confidence >= self._min_confidence

    def _current_seasonal(self, entry: _Seasonal) -> Forecast | None:
        """The seasonal forecast with minutes counted from the latest ``now``; None once stale."""
        if self._now is None:
            return entry.forecast
        if (self._now - entry.as_of).total_seconds() > 2 * self._config.seasonal_refit_min * 60:
            return None
        if entry.crossing_at is None:
            return entry.forecast
        minutes = max(0.0, (entry.crossing_at - self._now).total_seconds() / 60.0)
        return replace(entry.forecast, minutes_to_threshold=minutes)
