"""Forecast models on generated series whose answers are known in advance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from perfpilot.core.settings import ForecastConfig
from perfpilot.monitor.forecast import Forecaster
from perfpilot.monitor.seasonal import fit_holt_winters, holdout_skill, seasonal_forecast
from perfpilot.monitor.trend import (
    FloatArray,
    TrendFit,
    linear_trend,
    minutes_to_reach,
    trend_confidence,
    trend_forecast,
)

NOW = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)
CONFIG = ForecastConfig()  # 60 min window, R² >= 0.8, 20 points, 60 min horizon


def history(
    slope_per_min: float, end_value: float, noise: float = 0.0, step_s: float = 30.0, seed: int = 1
) -> tuple[FloatArray, FloatArray]:
    """One hour of samples every ``step_s`` ending at NOW with value ``end_value``."""
    ts = NOW.timestamp() - np.arange(0, 3600, step_s)[::-1]
    minutes_before = (NOW.timestamp() - ts) / 60.0
    values = end_value - slope_per_min * minutes_before
    values += np.random.default_rng(seed).normal(0.0, noise, ts.size) if noise else 0.0
    return ts, values


def daily_cycle(days: int, noise: float = 0.5, seed: int = 7) -> FloatArray:
    """Hourly values 50 + 40 sin(2 pi h / 24): peak 90 at 06:00, >= 80 from 04:00 to 08:00."""
    hours = np.arange(24 * days)
    rng = np.random.default_rng(seed)
    return 50.0 + 40.0 * np.sin(2 * np.pi * hours / 24) + rng.normal(0.0, noise, hours.size)


class TestLinearTrend:
    def test_exact_line(self) -> None:
        ts = np.arange(10.0) * 60
        fit = linear_trend(ts, 5.0 + 0.01 * ts)
        assert fit.slope_per_s == pytest.approx(0.01)
        assert fit.intercept == pytest.approx(5.0)
        assert fit.r2 == pytest.approx(1.0)

    def test_zero_variance_has_r2_zero(self) -> None:
        fit = linear_trend(np.arange(5.0), np.full(5, 0.1))
        assert (fit.slope_per_s, fit.r2) == (0.0, 0.0)
        assert fit.intercept == pytest.approx(0.1)

    def test_rejects_a_single_point(self) -> None:
        with pytest.raises(ValueError, match="2 points"):
            linear_trend(np.array([1.0]), np.array([2.0]))


class TestMinutesToReach:
    def test_rising_line(self) -> None:
        fit = TrendFit(slope_per_s=0.1 / 60, intercept=50.0, r2=1.0)
        assert minutes_to_reach(fit, 0.0, 50.0, 95.0) == pytest.approx(450.0)

    def test_already_at_threshold(self) -> None:
        fit = TrendFit(slope_per_s=-1.0, intercept=96.0, r2=1.0)
        assert minutes_to_reach(fit, 0.0, 96.0, 95.0) == 0.0

    @pytest.mark.parametrize("slope", [0.0, -0.01])
    def test_flat_or_falling_never_reaches(self, slope: float) -> None:
        fit = TrendFit(slope_per_s=slope, intercept=50.0, r2=1.0)
        assert minutes_to_reach(fit, 0.0, 50.0, 95.0) is None


class TestTrendForecast:
    def test_disk_filling_one_percent_per_ten_minutes(self) -> None:
        # Started at 50 % an hour ago, now at 56 %: 95 % is (95 - 56) / 0.1 = 390 min away.
        ts, values = history(slope_per_min=0.1, end_value=56.0, noise=0.05)
        forecast = trend_forecast("disk:/", ts, values, NOW, 95.0, CONFIG)
        assert forecast.minutes_to_threshold == pytest.approx(390.0, rel=0.02)
        assert forecast.slope_per_hour == pytest.approx(6.0, rel=0.02)
        assert forecast.reason is None
        assert forecast.confidence >= 0.95
        assert forecast.points == 120
        assert forecast.model == "linear"

    def test_pure_noise_predicts_nothing(self) -> None:
        ts = NOW.timestamp() - np.arange(0, 3600, 30.0)[::-1]
        values = 60.0 + np.random.default_rng(3).normal(0.0, 5.0, ts.size)
        forecast = trend_forecast("cpu", ts, values, NOW, 90.0, CONFIG)
        assert forecast.minutes_to_threshold is None
        assert forecast.confidence < 0.8
        assert forecast.reason is not None
        assert forecast.reason.startswith("noise: R²=")
        assert forecast.reason.endswith("< 0.80")

    def test_flat_predicts_nothing(self) -> None:
        ts, values = history(slope_per_min=0.0, end_value=70.0)
        forecast = trend_forecast("memory", ts, values, NOW, 95.0, CONFIG)
        assert forecast.minutes_to_threshold is None
        assert forecast.confidence == 0.0
        assert forecast.reason == "flat over the last 60 min"

    def test_falling_predicts_nothing(self) -> None:
        ts, values = history(slope_per_min=-0.2, end_value=60.0, noise=0.05)
        forecast = trend_forecast("memory", ts, values, NOW, 95.0, CONFIG)
        assert forecast.minutes_to_threshold is None
        assert forecast.slope_per_hour == pytest.approx(-12.0, rel=0.02)
        assert forecast.reason is None

    def test_too_few_points(self) -> None:
        ts, values = history(slope_per_min=0.1, end_value=56.0, step_s=300.0)
        forecast = trend_forecast("disk:/", ts, values, NOW, 95.0, CONFIG)
        assert forecast.minutes_to_threshold is None
        assert forecast.confidence == 0.0
        assert forecast.reason == "needs 20 points in the last 60 min, have 12"
        assert forecast.current == pytest.approx(56.0)

    def test_only_the_window_counts(self) -> None:
        # A steady hour, then a falling one before it: the older data must not bend the line.
        ts, values = history(slope_per_min=0.1, end_value=56.0)
        old_ts = ts - 3600
        old_values = np.linspace(90.0, 50.0, ts.size)
        forecast = trend_forecast(
            "disk:/",
            np.concatenate([old_ts, ts]),
            np.concatenate([old_values, values]),
            NOW,
            95.0,
            CONFIG,
        )
        assert forecast.points == 120
        assert forecast.minutes_to_threshold == pytest.approx(390.0, rel=0.01)

    def test_already_above_threshold_is_zero_even_when_noisy(self) -> None:
        ts = NOW.timestamp() - np.arange(0, 3600, 30.0)[::-1]
        values = 96.0 + np.random.default_rng(5).normal(0.0, 1.0, ts.size)
        values[-1] = 97.0
        forecast = trend_forecast("disk:/", ts, values, NOW, 95.0, CONFIG)
        assert forecast.minutes_to_threshold == 0.0

    def test_confidence_scales_down_with_few_points(self) -> None:
        assert trend_confidence(1.0, 20, 20) == pytest.approx(0.5)
        assert trend_confidence(0.9, 40, 20) == pytest.approx(0.9)
        assert trend_confidence(0.9, 400, 20) == pytest.approx(0.9)


class TestHoltWinters:
    def test_daily_cycle_crossing_at_the_right_hour(self) -> None:
        values = daily_cycle(days=3)  # hours 0..71; next >= 80 is hour 76 (04:00 of day 4)
        last_hour = NOW - timedelta(hours=1)
        forecast = seasonal_forecast("cpu", values, last_hour, 80.0, horizon_hours=24)
        # Data ends at NOW (hour 72); hour 76 starts 4 h later.
        assert forecast.minutes_to_threshold == 240.0
        assert forecast.confidence >= 0.9
        assert forecast.reason is None
        assert forecast.model == "holt_winters"
        assert forecast.points == 72

    def test_minutes_counted_from_now(self) -> None:
        last_hour = NOW - timedelta(hours=1)
        later = NOW + timedelta(minutes=30)
        forecast = seasonal_forecast("cpu", daily_cycle(3), last_hour, 80.0, 24, now=later)
        assert forecast.minutes_to_threshold == 210.0

    def test_forecast_follows_the_cycle(self) -> None:
        model = fit_holt_winters(daily_cycle(days=4))
        expected = 50.0 + 40.0 * np.sin(2 * np.pi * np.arange(96, 120) / 24)
        assert np.max(np.abs(model.forecast(24) - expected)) < 3.0
        assert all(0 < p < 1 for p in (model.alpha, model.beta, model.gamma))

    def test_no_crossing_within_horizon(self) -> None:
        forecast = seasonal_forecast("cpu", daily_cycle(3), NOW, 80.0, horizon_hours=3)
        assert forecast.minutes_to_threshold is None

    def test_needs_two_seasons(self) -> None:
        forecast = seasonal_forecast("cpu", daily_cycle(3)[:30], NOW, 80.0, 24)
        assert forecast.reason == "needs 48 hourly points, have 30"
        assert forecast.minutes_to_threshold is None
        assert forecast.confidence == 0.0

    def test_noise_has_no_skill(self) -> None:
        values = 50.0 + np.random.default_rng(11).normal(0.0, 5.0, 24 * 7)
        forecast = seasonal_forecast("cpu", values, NOW, 90.0, 24)
        assert forecast.minutes_to_threshold is None or forecast.confidence < 0.8
        assert holdout_skill(values) < 0.3

    def test_flat_series_never_crosses(self) -> None:
        forecast = seasonal_forecast("memory", np.full(72, 40.0), NOW, 95.0, 24)
        assert forecast.minutes_to_threshold is None
        assert forecast.slope_per_hour == pytest.approx(0.0)

    def test_falling_series_never_crosses(self) -> None:
        values = np.linspace(80.0, 40.0, 96) + daily_cycle(4, noise=0.0) / 10
        forecast = seasonal_forecast("memory", values, NOW, 95.0, 24)
        assert forecast.minutes_to_threshold is None
        assert forecast.slope_per_hour is not None
        assert forecast.slope_per_hour < 0

    def test_gaps_are_filled(self) -> None:
        values = daily_cycle(3)
        values[[10, 30, 31, 50]] = np.nan
        forecast = seasonal_forecast("cpu", values, NOW - timedelta(hours=1), 80.0, 24)
        assert forecast.points == 68
        assert forecast.minutes_to_threshold == 240.0

    def test_thirty_days_for_ten_series_returns(self) -> None:
        # The hourly refit's real workload: 10 series x 720 points. Timing lives in bench/.
        rng = np.random.default_rng(2)
        hours = np.arange(720)
        hourly = {
            f"disk:/d{i}": 50 + 20 * np.sin(2 * np.pi * hours / 24) + rng.normal(0, 2, 720)
            for i in range(10)
        }
        forecaster = Forecaster(CONFIG)
        forecaster.refit_seasonal(hourly, NOW - timedelta(hours=1), dict.fromkeys(hourly, 95.0))
        latest = forecaster.latest()
        assert [f.resource for f in latest] == sorted(hourly)
        assert all(f.points == 720 and f.minutes_to_threshold is None for f in latest)


class TestForecaster:
    def rising_trend(self, end_value: float) -> dict[str, tuple[FloatArray, FloatArray]]:
        return {"cpu": history(slope_per_min=0.05, end_value=end_value, noise=0.01)}

    def test_reports_the_more_urgent_trusted_forecast(self) -> None:
        forecaster = Forecaster(ForecastConfig(horizon_min=360))
        forecaster.refit_seasonal({"cpu": daily_cycle(3)}, NOW - timedelta(hours=1), {"cpu": 80})
        # Trend: 50 % rising 3 %/h reaches 80 % in 600 min; the seasonal peak comes in 240.
        forecaster.update_trends(self.rising_trend(50.0), NOW, {"cpu": 80.0})
        (chosen,) = forecaster.latest()
        assert chosen.model == "holt_winters"
        assert chosen.minutes_to_threshold == 240.0

    def test_trend_wins_when_sooner(self) -> None:
        forecaster = Forecaster(ForecastConfig(horizon_min=360))
        forecaster.refit_seasonal({"cpu": daily_cycle(3)}, NOW - timedelta(hours=1), {"cpu": 80})
        forecaster.update_trends(self.rising_trend(75.0), NOW, {"cpu": 80.0})
        (chosen,) = forecaster.latest()
        assert chosen.model == "linear"
        assert chosen.minutes_to_threshold == pytest.approx(100.0, rel=0.02)

    def test_seasonal_minutes_counted_from_latest_update(self) -> None:
        forecaster = Forecaster(ForecastConfig(horizon_min=360))
        forecaster.refit_seasonal({"cpu": daily_cycle(3)}, NOW - timedelta(hours=1), {"cpu": 80})
        later = NOW + timedelta(minutes=30)
        flat = {"cpu": (np.array([later.timestamp()]), np.array([50.0]))}
        forecaster.update_trends(flat, later, {"cpu": 80.0})
        (chosen,) = forecaster.latest()
        assert chosen.model == "holt_winters"
        assert chosen.minutes_to_threshold == 210.0

    def test_stale_seasonal_fit_is_dropped(self) -> None:
        forecaster = Forecaster(ForecastConfig(horizon_min=360, seasonal_refit_min=60))
        forecaster.refit_seasonal({"cpu": daily_cycle(3)}, NOW - timedelta(hours=1), {"cpu": 80})
        later = NOW + timedelta(minutes=121)
        forecaster.update_trends({}, later, {"cpu": 80.0})
        assert forecaster.latest() == []

    def test_untrusted_forecast_is_reported_with_its_reason(self) -> None:
        forecaster = Forecaster(CONFIG)
        few = {"cpu": (np.array([NOW.timestamp()]), np.array([50.0]))}
        forecaster.update_trends(few, NOW, {"cpu": 80.0})
        forecaster.refit_seasonal({"cpu": daily_cycle(1)}, NOW - timedelta(hours=1), {"cpu": 80})
        (chosen,) = forecaster.latest()
        assert chosen.model == "linear"
        assert chosen.reason == "needs 20 points in the last 60 min, have 1"

    def test_series_without_threshold_or_gone_are_dropped(self) -> None:
        forecaster = Forecaster(CONFIG)
        arrays = {"cpu": history(0.0, 50.0), "load1": history(0.0, 1.0)}
        returned = forecaster.update_trends(arrays, NOW, {"cpu": 90.0})
        assert [f.resource for f in returned] == ["cpu"]
        forecaster.update_trends({}, NOW + timedelta(minutes=1), {"cpu": 90.0})
        assert forecaster.latest() == []
