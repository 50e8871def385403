"""Linear trend over the last hour: catches a disk filling or a memory leak."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from perfpilot.core.settings import ForecastConfig
from perfpilot.monitor.model import Forecast

FloatArray = npt.NDArray[np.float64]

TREND_MODEL = "linear"


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


def no_forecast(
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
        return no_forecast(resource, TREND_MODEL, current, threshold, points, short)
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
