"""The Resource Monitor: one sampling thread feeding history, rollups, alerts and forecasts."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from perfpilot.core.clock import Clock
from perfpilot.core.health import ComponentHealth, HealthState
from perfpilot.core.settings import AlertsConfig, ForecastConfig, MonitorConfig
from perfpilot.monitor.alerts import AlertEngine
from perfpilot.monitor.forecast import Forecaster
from perfpilot.monitor.history import SeriesHistory
from perfpilot.monitor.loop_lag import LoopLagProbe
from perfpilot.monitor.model import Alert, Rollup
from perfpilot.monitor.ports import RollupStore
from perfpilot.monitor.rollup import MinuteRollups, hourly
from perfpilot.monitor.sample import (
    CPU,
    DISK_PREFIX,
    MEMORY,
    SWAP,
    HostSample,
    numeric_series,
    resource_levels,
)
from perfpilot.monitor.sampler import HostSampler

logger = logging.getLogger(__name__)

SampleObserver = Callable[[HostSample], None]

# Trend forecasts need little CPU but nothing changes much within a minute either.
_TREND_EVERY_S = 60.0
_PRUNE_EVERY_S = 3600.0
# Seasonal fits look back this far; Holt-Winters needs two full days at least.
_SEASONAL_LOOKBACK = timedelta(days=14)


def critical_levels(config: AlertsConfig, resources: list[str]) -> dict[str, float]:
    """The critical level of each percent resource: what a forecast is asked to reach."""
    fixed = {CPU: config.cpu.critical, MEMORY: config.memory.critical, SWAP: config.swap.critical}
    levels: dict[str, float] = {}
    for name in resources:
        if name in fixed:
            levels[name] = fixed[name]
        elif name.startswith(DISK_PREFIX):
            levels[name] = config.disk.critical
    return levels


def _rolled_up(name: str) -> bool:
    # Per-core CPU stays in memory only: it multiplies stored rows by the core count
    # while the total already answers every long-range question.
    return not name.startswith("cpu_core:")


@dataclass(frozen=True, slots=True)
class MonitorParts:
    """The monitor's collaborators, built by the composition root."""

    sampler: HostSampler
    history: SeriesHistory
    rollups: MinuteRollups
    alerts: AlertEngine
    forecaster: Forecaster
    store: RollupStore
    lag_probe: LoopLagProbe


class ResourceMonitor:
    """Samples every ``interval_s`` in a worker thread; ``tick`` is one cycle, callable directly
    from tests with a manual clock."""

    def __init__(
        self,
        config: MonitorConfig,
        alerts_config: AlertsConfig,
        forecast_config: ForecastConfig,
        parts: MonitorParts,
        clock: Clock,
        enabled: bool = True,
    ) -> None:
        self._config = config
        self._alerts_config = alerts_config
        self._forecast_config = forecast_config
        self._parts = parts
        self._clock = clock
        self.enabled = enabled
        self._observers: list[SampleObserver] = []
        self._latest: HostSample | None = None
        self._samples = 0
        self._errors = 0
        self._last_error: str | None = None
        self._last_trend_s: float | None = None
        self._last_prune_s: float | None = None
        self._last_refit_s: float | None = None
        self._refit: Future[None] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._refitter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="perfpilot-fit")

    @property
    def parts(self) -> MonitorParts:
        return self._parts

    @property
    def latest(self) -> HostSample | None:
        return self._latest

    @property
    def interval_s(self) -> float:
        return self._config.interval_s

    def add_observer(self, observer: SampleObserver) -> None:
        """Call ``observer`` with every new sample (from the sampling thread)."""
        self._observers.append(observer)

    def restore(self) -> int:
        """Reload alert state and the stored minute history; returns the points restored."""
        now = self._clock.now()
        self._parts.alerts.restore(now)
        since = now - timedelta(hours=self._config.history_hours)
        rollups = self._parts.store.load_rollups(since, now)
        by_minute: dict[datetime, dict[str, float]] = {}
        for rollup in rollups:
            by_minute.setdefault(rollup.minute, {})[rollup.series] = rollup.avg
        # Minute averages stand in for the samples lost with the process; they are
        # stamped mid-minute so they sort before any new sample.
        for minute in sorted(by_minute):
            self._parts.history.append(minute + timedelta(seconds=30), by_minute[minute])
        logger.info("restored %d minutes of history from the store", len(by_minute))
        return len(by_minute)

    def tick(self) -> HostSample:
        """Take one sample and pass it through history, rollups, alerts and forecasts."""
        now = self._clock.now()
        sample = self._parts.sampler.sample(now, self._parts.lag_probe.take())
        values = numeric_series(sample)
        self._parts.history.append(now, values)
        closed = self._parts.rollups.add(now, {k: v for k, v in values.items() if _rolled_up(k)})
        if closed:
            self._save_rollups(closed)
        self._parts.alerts.evaluate(resource_levels(sample), now)
        self._maybe_forecast(now)
        self._maybe_prune(now)
        self._latest = sample
        self._samples += 1
        for observer in self._observers:
            observer(sample)
        return sample

    def _save_rollups(self, rollups: list[Rollup]) -> None:
        try:
            self._parts.store.save_rollups(rollups)
        except Exception as exc:  # noqa: BLE001 - a store outage must not stop sampling
            self._record_error(f"saving rollups failed: {exc}")

    def _due(self, last_s: float | None, every_s: float) -> bool:
        return last_s is None or self._clock.monotonic() - last_s >= every_s

    def _maybe_forecast(self, now: datetime) -> list[Alert]:
        if not self._due(self._last_trend_s, _TREND_EVERY_S):
            return []
        self._last_trend_s = self._clock.monotonic()
        since = now - timedelta(minutes=self._forecast_config.trend_window_min)
        names = [n for n in self._parts.history.series_names() if n in self._levels_of_interest()]
        thresholds = critical_levels(self._alerts_config, names)
        arrays = {name: self._parts.history.arrays_since(name, since) for name in thresholds}
        self._parts.forecaster.update_trends(arrays, now, thresholds)
        if self._due(self._last_refit_s, self._forecast_config.seasonal_refit_min * 60):
            self._last_refit_s = self._clock.monotonic()
            self._start_refit(now, thresholds)
        return self._parts.alerts.predicted(self._parts.forecaster.latest(), now)

    def _levels_of_interest(self) -> set[str]:
        latest = self._latest
        return set(resource_levels(latest)) if latest else {CPU, MEMORY, SWAP}

    def _start_refit(self, now: datetime, thresholds: Mapping[str, float]) -> None:
        if self._refit is not None and not self._refit.done():
            return  # the previous fit is still running; never queue fits behind each other
        self._refit = self._refitter.submit(self._refit_seasonal, now, dict(thresholds))

    def _refit_seasonal(self, now: datetime, thresholds: dict[str, float]) -> None:
        try:
            rollups = self._parts.store.load_rollups(now - _SEASONAL_LOOKBACK, now, thresholds)
            hourly_values: dict[str, np.ndarray] = {}
            last_hour = now.replace(minute=0, second=0, microsecond=0)
            for name in thresholds:
                hours = hourly([r for r in rollups if r.series == name])
                hourly_values[name] = np.array([h.avg for h in hours], dtype=float)
                if hours:
                    last_hour = max(last_hour, hours[-1].minute)
            self._parts.forecaster.refit_seasonal(hourly_values, last_hour, thresholds)
        except Exception as exc:  # noqa: BLE001 - a failed fit leaves the trend forecasts in place
            self._record_error(f"seasonal refit failed: {exc}")

    def _maybe_prune(self, now: datetime) -> None:
        if not self._due(self._last_prune_s, _PRUNE_EVERY_S):
            return
        self._last_prune_s = self._clock.monotonic()
        try:
            cutoff = now - timedelta(days=self._config.rollup_retention_days)
            removed = self._parts.store.prune_rollups(cutoff)
            logger.debug("pruned %d rollups older than %s", removed, cutoff)
        except Exception as exc:  # noqa: BLE001 - pruning is retried next hour
            self._record_error(f"pruning rollups failed: {exc}")

    def _record_error(self, message: str) -> None:
        self._errors += 1
        self._last_error = message
        logger.warning("monitor: %s", message)

    def start(self) -> None:
        """Start the sampling thread; does nothing when monitoring is disabled."""
        if not self.enabled or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="perfpilot-monitor", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop sampling, write the open minute's rollups and wait for the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
        closed = self._parts.rollups.flush()
        if closed:
            self._save_rollups(closed)
        self._refitter.shutdown(wait=False, cancel_futures=True)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            started = self._clock.monotonic()
            try:
                self.tick()
            except Exception as exc:
                self._record_error(f"sampling failed: {type(exc).__name__}: {exc}")
                logger.exception("monitor tick failed")
            elapsed = self._clock.monotonic() - started
            self._stop.wait(max(0.0, self._config.interval_s - elapsed))

    @property
    def samples_taken(self) -> int:
        return self._samples

    @property
    def errors(self) -> int:
        return self._errors

    def health(self) -> ComponentHealth:
        """ok while samples arrive on time; degraded when stale or erroring; disabled if off."""
        now = self._clock.now()
        details: dict[str, str | int | float | bool | None] = {
            "interval_s": self._config.interval_s,
            "samples": self._samples,
            "errors": self._errors,
            "history_points": len(self._parts.history),
        }
        if not self.enabled:
            return ComponentHealth(
                "monitor",
                HealthState.DISABLED,
                "PERFORMANCE_MONITORING_ENABLED=false",
                now,
                details,
            )
        latest = self._latest
        if latest is None:
            state = HealthState.DEGRADED if self._errors else HealthState.OK
            reason = self._last_error or "waiting for the first sample"
            return ComponentHealth("monitor", state, reason, now, details)
        details["last_sample_at"] = latest.ts.isoformat()
        age_s = (now - latest.ts).total_seconds()
        if age_s > 3 * self._config.interval_s + 5:
            reason = f"last sample is {age_s:.0f}s old"
            return ComponentHealth("monitor", HealthState.DEGRADED, reason, now, details)
        return ComponentHealth("monitor", HealthState.OK, None, now, details)
