"""The implemented built-in tasks, each asserted by its effect on a real store or host."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from perfpilot.core.audit import AuditEntry, Outcome
from perfpilot.core.clock import ManualClock
from perfpilot.core.health import ComponentHealth, HealthState
from perfpilot.core.settings import AlertsConfig
from perfpilot.maintenance.cleanup import RetainedRecords, Retention, SystemCleanup
from perfpilot.maintenance.health_check import HealthCheck
from perfpilot.maintenance.processes import ProcessTop
from perfpilot.maintenance.resources import ResourceReport
from perfpilot.monitor.alerts import AlertEngine
from perfpilot.monitor.model import AlertKind, AlertStatus, Forecast, Rollup, Severity
from perfpilot.scheduler.run import RunStatus, RunTrigger, TaskRun
from perfpilot.store import Store, open_store
from perfpilot.store.audit import AuditRepository
from perfpilot.store.compaction import compactor_for
from perfpilot.store.scheduler_runs import SqlRunHistory

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    opened.migrate()
    yield opened
    opened.close()


async def test_system_cleanup_prunes_past_retention_and_compacts(
    store: Store, store_url: str
) -> None:
    history = SqlRunHistory(store.runner)
    old, recent = T0 - timedelta(days=40), T0 - timedelta(days=1)
    store.save_rollups([Rollup("cpu", m, 10, 5, 20, 12) for m in (old, recent)])
    for run_id, at in (("old", old), ("recent", recent)):
        history.save_run(
            TaskRun(run_id, "x", RunTrigger.CRON, at, RunStatus.SUCCEEDED, "r", at, at, 1)
        )
    audit = AuditRepository(store.runner)
    for at in (T0 - timedelta(days=400), recent):
        audit.record(
            AuditEntry(
                at,
                "database",
                "vacuum_analyze",
                "public.t",
                "VACUUM",
                "due",
                "forced",
                "low",
                Outcome.APPLIED,
            )
        )
    cleanup = SystemCleanup(
        store,
        history,
        compactor_for(store_url, store.runner),
        Retention(rollup_days=30, run_days=7),
        ManualClock(T0),
        [RetainedRecords("audit entries", 365, audit.prune)],
    )
    summary = await cleanup.run()
    assert [r.minute for r in store.load_rollups(old - timedelta(days=1), T0)] == [recent]
    assert [r.id for r in history.list_runs()] == ["recent"]
    assert [e.at for e in audit.entries()] == [recent]
    assert summary.startswith(
        "pruned 1 rollups older than 30 d, 1 run records older than 7 d,"
        " 1 audit entries older than 365 d"
    )
    assert "sqlite VACUUM and PRAGMA optimize" in summary


def test_process_top_measures_cpu_between_readings() -> None:
    top = ProcessTop()
    first = {u.pid: u for u in top.read()}
    assert first[os.getpid()].cpu_percent is None
    assert first[os.getpid()].rss_bytes > 0
    sum(i * i for i in range(200_000))  # some CPU time for this process between readings
    second = {u.pid: u for u in top.read()}
    mine = second[os.getpid()]
    assert mine.cpu_percent is not None
    assert mine.cpu_percent > 0


async def test_resource_report_names_top_processes_and_forecasts() -> None:
    forecast = Forecast("disk:/", "linear", 80.0, 95.0, 2.0, 0.97, 0.97, 42.0, 60)
    report = ResourceReport(lambda: [forecast], top=200, prime_s=0.01)
    summary = await report.run()
    assert f"[{os.getpid()}]" in summary
    assert "top cpu: " in summary
    assert "top rss: " in summary
    assert "disk:/ reaches 95% in 42 min" in summary


async def test_health_check_alerts_on_unhealthy_components_and_resolves(store: Store) -> None:
    clock = ManualClock(T0)
    alerts = AlertEngine(AlertsConfig(alert_cooldown_s=0), store)
    health = [
        ComponentHealth("database", HealthState.UNAVAILABLE, "connection refused"),
        ComponentHealth("cache", HealthState.OK),
        ComponentHealth("auto_scaler", HealthState.NOT_CONFIGURED, "not installed"),
    ]
    check = HealthCheck(lambda: list(health), alerts, clock)
    summary = await check.run()
    assert summary == "3 components checked; unhealthy: database unavailable"
    (alert,) = store.list_alerts(status=AlertStatus.FIRING)
    assert (alert.kind, alert.resource, alert.severity) == (
        AlertKind.HEALTH,
        "database",
        Severity.WARNING,
    )
    assert alert.message == "database is unavailable: connection refused"
    await check.run()
    assert len(store.list_alerts()) == 1
    health[0] = ComponentHealth("database", HealthState.OK)
    clock.advance(3600)
    assert await check.run() == "3 components checked, all healthy"
    (resolved,) = store.list_alerts()
    assert resolved.status is AlertStatus.RESOLVED
    assert resolved.resolved_by == "auto"
