"""Holt-Winters (additive) over hourly rollups: catches the daily peak higher than today's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from perfpilot.monitor.model import Forecast
from perfpilot.monitor.trend import FloatArray, no_forecast

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
        return no_forecast(resource, SEASONAL_MODEL, current, threshold, points, reason)
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
