"""Forecasts of resource levels: a linear trend over the last hour, Holt-Winters over days.

Both answer one question: in how many minutes will a resource reach its threshold? The trend
model catches a disk filling or a memory leak; the seasonal model catches the daily peak that
will be higher than today's.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from perfpilot.core.settings import ForecastConfig
from perfpilot.monitor.model import Forecast

FloatArray = npt.NDArray[np.float64]

TREND_MODEL = "linear"
SEASONAL_MODEL = "holt_winters"
SEASON_HOURS = 24
MIN_SEASONAL_POINTS = 2 * SEASON_HOURS

# Coarse grid over the smoothing constants, all strictly inside (0, 1). Trend smoothing stays
# small: a large beta chases noise and extrapolates it over the horizon. 7 x 5 x 7 = 245
# candidates, evaluated together as vectors, so a 720-point fit is one pass of 696 steps.
_ALPHAS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9)
_BETAS = (0.01, 0.03, 0.1, 0.2, 0.4)
_GAMMAS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9)


@dataclass(frozen=True, slots=True)
class TrendFit:
    """Least-squares line ``value = intercept + slope_per_s * t`` (t in the caller's seconds)."""

    slope_per_s: float
    intercept: float
    r2: float


def linear_trend(ts_s: FloatArray, values: FloatArray) -> TrendFit:
    """Least-squares line through the points; R² is 0 when values (or times) do not vary."""
    t = np.asarray(ts_s, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    if t.shape != v.shape or t.size < 2:
        raise ValueError(f"a trend needs two equal arrays of >= 2 points, got {t.size}/{v.size}")
    # ptp is exactly 0 for identical floats, where a mean-centred sum of squares may not be.
    if np.ptp(t) == 0 or np.ptp(v) == 0:
        return TrendFit(slope_per_s=0.0, intercept=float(v.mean()), r2=0.0)
    tc = t - t.mean()
    vc = v - v.mean()
    slope = float(tc @ vc / (tc @ tc))
    residual = vc - slope * tc
    r2 = 1.0 - float(residual @ residual) / float(vc @ vc)
    return TrendFit(
        slope_per_s=slope,
        intercept=float(v.mean() - slope * t.mean()),
        r2=min(1.0, max(0.0, r2)),
    )


def minutes_to_reach(fit: TrendFit, now_s: float, current: float, threshold: float) -> float | None:
    """Minutes until the fitted line reaches ``threshold``: 0 if ``current`` is already there,
    None unless the line rises. The line's own level at ``now_s`` is the start, so one noisy
    last sample does not move the answer."""
    if current >= threshold:
        return 0.0
    if fit.slope_per_s <= 0:
        return None
    fitted_now = fit.intercept + fit.slope_per_s * now_s
    return max(0.0, (threshold - fitted_now) / fit.slope_per_s / 60.0)


def trend_confidence(r2: float, points: int, min_points: int) -> float:
    """R² scaled by ``min(1, points / (2 * min_points))``.

    A handful of points can line up by chance; full trust starts at twice the minimum, and a
    fit on exactly ``min_points`` points counts half.
    """
    return r2 * min(1.0, points / (2.0 * min_points))


def _no_forecast(
    resource: str, model: str, current: float | None, threshold: float, points: int, reason: str
) -> Forecast:
    return Forecast(resource, model, current, threshold, None, None, 0.0, None, points, reason)


def _trend_doubt(values: FloatArray, fit: TrendFit, config: ForecastConfig) -> str | None:
    """Why the fitted line should not be extrapolated, or None when it can be."""
    if np.ptp(values) == 0:
        return f"flat over the last {config.trend_window_min:g} min"
    if fit.r2 < config.min_r2:
        return f"noise: R²={fit.r2:.2f} < {config.min_r2:.2f}"
    return None


def trend_forecast(
    resource: str,
    ts_s: FloatArray,
    values: FloatArray,
    now: datetime,
    threshold: float,
    config: ForecastConfig,
) -> Forecast:
    """Linear-trend forecast over the last ``trend_window_min`` minutes before ``now``.

    ``minutes_to_threshold`` is None when the fit is noise (R² < ``min_r2``), flat or falling,
    unless the level is already at the threshold (then 0).
    """
    now_s = now.timestamp()
    t = np.asarray(ts_s, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    keep = (t > now_s - config.trend_window_min * 60.0) & (t <= now_s) & np.isfinite(v)
    t, v = t[keep], v[keep]
    points = int(t.size)
    current = float(v[np.argmax(t)]) if points else None
    if current is None or points < config.min_points:
        window = f"{config.trend_window_min:g} min"
        short = f"needs {config.min_points} points in the last {window}, have {points}"
        return _no_forecast(resource, TREND_MODEL, current, threshold, points, short)
    fit = linear_trend(t, v)
    reason = _trend_doubt(v, fit, config)
    minutes = minutes_to_reach(fit, now_s, current, threshold)
    if reason is not None and current < threshold:
        minutes = None
    return Forecast(
        resource=resource,
        model=TREND_MODEL,
        current=current,
        threshold=threshold,
        slope_per_hour=fit.slope_per_s * 3600.0,
        r2=fit.r2,
        confidence=trend_confidence(fit.r2, points, config.min_points),
        minutes_to_threshold=minutes,
        points=points,
        reason=reason,
    )


@dataclass(frozen=True, slots=True)
class HoltWinters:
    """A fitted additive Holt-Winters model; ``season`` is indexed by ``t % period``."""

    alpha: float
    beta: float
    gamma: float
    level: float
    trend: float
    season: FloatArray
    points: int
    r2: float

    def forecast(self, steps: int) -> FloatArray:
        """Values for the ``steps`` periods after the last fitted one."""
        period = self.season.size
        h = np.arange(1, steps + 1)
        return self.level + h * self.trend + self.season[(self.points - 1 + h) % period]


def _initial_state(y: FloatArray, period: int) -> tuple[float, float, FloatArray]:
    """Level and trend at ``t = period - 1`` and the first season, from the first two seasons."""
    first = y[:period]
    trend = (y[period : 2 * period].mean() - first.mean()) / period if y.size >= 2 * period else 0.0
    centre = (period - 1) / 2.0
    # The first season's mean sits at its middle hour; detrend before taking the seasonal part.
    season = first - (first.mean() + trend * (np.arange(period) - centre))
    return float(first.mean() + trend * centre), float(trend), season


def fit_holt_winters(values: FloatArray, period: int = SEASON_HOURS) -> HoltWinters:
    """Additive Holt-Winters with alpha/beta/gamma chosen by one-step-ahead SSE on a grid.

    Every grid candidate runs in the same pass (state vectors of the grid's size), so the cost
    is one loop over the points. Needs at least one full period.
    """
    y = np.asarray(values, dtype=np.float64)
    if y.size < period:
        raise ValueError(f"Holt-Winters needs at least {period} points, have {y.size}")
    grid = np.meshgrid(_ALPHAS, _BETAS, _GAMMAS, indexing="ij")
    alpha, beta, gamma = (axis.ravel() for axis in grid)
    level0, trend0, season0 = _initial_state(y, period)
    level = np.full(alpha.size, level0)
    trend = np.full(alpha.size, trend0)
    season = np.tile(season0, (alpha.size, 1))
    sse = np.zeros(alpha.size)
    for t in range(period, y.size):
        k = t % period
        seasonal = season[:, k].copy()
        err = y[t] - (level + trend + seasonal)
        sse += err * err
        # Error-correction form of the additive recursions (Hyndman & Athanasopoulos, FPP3 8.3).
        level = level + trend + alpha * err
        trend = trend + alpha * beta * err
        season[:, k] = seasonal + gamma * (1.0 - alpha) * err
    best = int(np.argmin(sse))
    spread = float(np.sum((y[period:] - y[period:].mean()) ** 2)) if y.size > period else 0.0
    return HoltWinters(
        alpha=float(alpha[best]),
        beta=float(beta[best]),
        gamma=float(gamma[best]),
        level=float(level[best]),
        trend=float(trend[best]),
        season=season[best].copy(),
        points=int(y.size),
        r2=max(0.0, 1.0 - float(sse[best]) / spread) if spread > 0 else 0.0,
    )


def holdout_skill(values: FloatArray, period: int = SEASON_HOURS) -> float:
    """Skill of forecasting the last period from the ones before, in [0, 1].

    ``1 - MAE / MAD``: the share of the held-out day's variation (mean absolute deviation from
    its own mean) that the forecast gets right. A MAPE would blow up near 0 % and reward any
    flat guess for a high, steady series; this is 0 when the model does no better than the
    day's average, i.e. for noise.
    """
    y = np.asarray(values, dtype=np.float64)
    actual = y[-period:]
    predicted = fit_holt_winters(y[:-period], period).forecast(period)
    mae = float(np.mean(np.abs(actual - predicted)))
    mad = float(np.mean(np.abs(actual - actual.mean())))
    if mad == 0.0:
        return 1.0 if mae <= 1e-9 * max(1.0, abs(float(actual.mean()))) else 0.0
    return min(1.0, max(0.0, 1.0 - mae / mad))


def _filled(values: FloatArray) -> FloatArray:
    """Hours without data (NaN) interpolated; leading and trailing gaps take the nearest value."""
    y = np.asarray(values, dtype=np.float64)
    known = np.isfinite(y)
    if known.all() or not known.any():
        return y
    index = np.arange(y.size)
    return np.interp(index, index[known], y[known])


def seasonal_forecast(
    resource: str,
    hourly_values: FloatArray,
    last_hour: datetime,
    threshold: float,
    horizon_hours: int,
    now: datetime | None = None,
) -> Forecast:
    """Holt-Winters forecast of hourly means; ``hourly_values[-1]`` is the hour from ``last_hour``.

    ``minutes_to_threshold`` runs from ``now`` (default ``last_hour + 1 h``, the end of the data)
    to the start of the first forecast hour whose mean reaches ``threshold``; None when no hour
    within ``horizon_hours`` does. Confidence is :func:`holdout_skill`.
    """
    y = _filled(hourly_values)
    points = int(np.count_nonzero(np.isfinite(np.asarray(hourly_values, dtype=np.float64))))
    current = float(y[-1]) if points else None
    if current is None or points < MIN_SEASONAL_POINTS:
        reason = f"needs {MIN_SEASONAL_POINTS} hourly points, have {points}"
        return _no_forecast(resource, SEASONAL_MODEL, current, threshold, points, reason)
    model = fit_holt_winters(y)
    start = now if now is not None else last_hour + timedelta(hours=1)
    return Forecast(
        resource=resource,
        model=SEASONAL_MODEL,
        current=current,
        threshold=threshold,
        slope_per_hour=model.trend,
        r2=model.r2,
        confidence=holdout_skill(y),
        minutes_to_threshold=_crossing_minutes(
            model, current, last_hour, start, threshold, horizon_hours
        ),
        points=points,
    )


def _crossing_minutes(
    model: HoltWinters,
    current: float,
    last_hour: datetime,
    start: datetime,
    threshold: float,
    horizon_hours: int,
) -> float | None:
    if current >= threshold:
        return 0.0
    path = model.forecast(horizon_hours)
    crossing = np.flatnonzero(path >= threshold)
    if crossing.size == 0:
        return None
    hour_start = last_hour + timedelta(hours=int(crossing[0]) + 1)
    return max(0.0, (hour_start - start).total_seconds() / 60.0)


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
