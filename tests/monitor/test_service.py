"""The Resource Monitor's cycle: real sampler, real store, manual clock."""

from __future__ import annotations

import time
from collections.abc import Collection, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from perfpilot.app import build_monitor
from perfpilot.core.clock import ManualClock, SystemClock
from perfpilot.core.health import HealthState
from perfpilot.core.settings import Settings, load_settings
from perfpilot.monitor.model import Rollup
from perfpilot.monitor.service import MonitorParts, ResourceMonitor, critical_levels
from perfpilot.store import Store, StoreError, open_store

T0 = datetime(2026, 11, 25, 8, 0, 2, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    opened.migrate()
    yield opened
    opened.close()


def settings_with(tmp_path: Path, config: str = "", **env: str) -> Settings:
    path = tmp_path / "perfpilot.toml"
    path.write_text(config, encoding="utf-8")
    return load_settings({"PERFORMANCE_CONFIG_FILE": str(path), **env})


def test_tick_feeds_history_rollups_and_alerts(tmp_path: Path, store: Store) -> None:
    clock = ManualClock(T0)
    settings = settings_with(
        tmp_path, "[alerts]\nmemory = { warning = 0.5, critical = 1, for_s = 10 }\n"
    )
    monitor = build_monitor(settings, store, clock)
    samples = []
    monitor.add_observer(samples.append)
    for _ in range(13):  # 0 s .. 60 s: the sample at 08:01:02 closes the 08:00 minute
        monitor.tick()
        clock.advance(5)
    assert len(samples) == 13
    assert len(monitor.parts.history) == 13
    stored = store.load_rollups(T0 - timedelta(hours=1), T0 + timedelta(hours=1))
    series = {r.series for r in stored}
    assert {"cpu", "memory", "process_count"} <= series
    assert not any(name.startswith("cpu_core:") for name in series)
    memory = next(r for r in stored if r.series == "memory")
    assert memory.minute == datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    assert memory.count == 12
    assert memory.min <= memory.avg <= memory.max
    # The memory rule held for more than its 10 s `for`: one critical alert, once.
    firing = monitor.parts.alerts.active()
    assert [a.resource for a in firing] == ["memory"]
    assert firing[0].severity == "critical"
    assert monitor.health().state is HealthState.OK


class FailingRollups:
    """A store whose writes fail, as a full disk or a dropped PostgreSQL would."""

    def __init__(self, inner: Store) -> None:
        self._inner = inner

    def save_rollups(self, rollups: Sequence[Rollup]) -> None:
        raise StoreError("saving rollups: disk I/O error")

    def load_rollups(
        self, since: datetime, until: datetime, series: Collection[str] | None = None
    ) -> list[Rollup]:
        return self._inner.load_rollups(since, until, series)

    def prune_rollups(self, before: datetime) -> int:
        raise StoreError("pruning: disk I/O error")


def test_store_failure_never_stops_sampling(tmp_path: Path, store: Store) -> None:
    clock = ManualClock(T0)
    settings = settings_with(tmp_path)
    built = build_monitor(settings, store, clock)
    parts = MonitorParts(
        sampler=built.parts.sampler,
        history=built.parts.history,
        rollups=built.parts.rollups,
        alerts=built.parts.alerts,
        forecaster=built.parts.forecaster,
        store=FailingRollups(store),
        lag_probe=built.parts.lag_probe,
    )
    monitor = ResourceMonitor(
        settings.file.monitor, settings.file.alerts, settings.file.forecast, parts, clock
    )
    for _ in range(30):
        monitor.tick()
        clock.advance(5)
    assert monitor.samples_taken == 30
    assert monitor.errors >= 2  # one prune, at least one rollup write
    health = monitor.health()
    assert health.details["errors"] == monitor.errors


def test_thread_samples_until_stopped(tmp_path: Path, store: Store) -> None:
    settings = settings_with(tmp_path, "[monitor]\ninterval_s = 0.2\n")
    monitor = build_monitor(settings, store, SystemClock())
    monitor.start()
    try:
        deadline = time.monotonic() + 10
        while monitor.samples_taken < 3:
            assert time.monotonic() < deadline, "sampling thread produced no samples"
            time.sleep(0.05)
        assert monitor.running
    finally:
        monitor.stop()
    assert not monitor.running
    taken = monitor.samples_taken
    time.sleep(0.5)
    assert monitor.samples_taken == taken


def test_disabled_monitor_never_starts(tmp_path: Path, store: Store) -> None:
    settings = settings_with(
        tmp_path, "[monitor]\ninterval_s = 0.2\n", PERFORMANCE_MONITORING_ENABLED="false"
    )
    monitor = build_monitor(settings, store, SystemClock())
    monitor.start()
    assert not monitor.running
    assert monitor.health().state is HealthState.DISABLED
    monitor.stop()


def test_forecast_thresholds_follow_alert_levels(tmp_path: Path) -> None:
    alerts = settings_with(tmp_path).file.alerts
    levels = critical_levels(alerts, ["cpu", "memory", "disk:/", "disk:/var", "load1"])
    assert levels == {"cpu": 90, "memory": 95, "disk:/": 95, "disk:/var": 95}
