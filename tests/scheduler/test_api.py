"""The scheduler through the running app: endpoints, bad input, the enable flag, metrics."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from perfpilot.api.state import ServiceState
from perfpilot.app import create_app
from perfpilot.core.clock import ManualClock
from perfpilot.core.errors import ConfigError
from perfpilot.core.settings import load_settings
from perfpilot.scheduler.engine import Scheduler

# 09:59:30 UTC: the hourly health check fires 30 s after start.
T0 = datetime(2026, 3, 2, 9, 59, 30, tzinfo=UTC)
BASE = "/api/v1/performance/scheduler"
BUILTIN_IDS = {
    "perf_optimization_regular",
    "db_maintenance_daily",
    "cache_optimization_regular",
    "scaling_evaluation_peak",
    "system_cleanup_daily",
    "resource_monitoring_frequent",
    "health_check_hourly",
}


def wait_until(predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Poll for the effect of the app's own event loop (not for time-dependent logic)."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def start(
    tmp_path: Path, clock: ManualClock, pg_dsn: str, redis_url: str
) -> Iterator[Callable[..., TestClient]]:
    clients: list[TestClient] = []

    def start(env: dict[str, str] | None = None, config: str = "") -> TestClient:
        config_path = tmp_path / "perfpilot.toml"
        config_path.write_text("[monitor]\ninterval_s = 3600\n" + config, encoding="utf-8")
        settings = load_settings(
            {
                "PERFORMANCE_STORE_URL": f"sqlite:///{tmp_path / 'store.db'}",
                "PERFORMANCE_CONFIG_FILE": str(config_path),
                "PERFORMANCE_TIMEZONE": "Europe/Madrid",
                "DATABASE_URL": pg_dsn,
                "REDIS_URL": redis_url,
            }
            | (env or {})
        )
        client = TestClient(create_app(settings, clock), client=("127.0.0.1", 50000))
        client.__enter__()
        clients.append(client)
        wait_until(lambda: scheduler_of(client).restored)
        return client

    yield start
    for client in clients:
        client.__exit__(None, None, None)


def scheduler_of(client: TestClient) -> Scheduler:
    state: ServiceState = client.app.state.perfpilot  # type: ignore[attr-defined]
    assert state.scheduler is not None
    return state.scheduler


def run_due(client: TestClient, clock: ManualClock) -> None:
    """One scheduling cycle on the app's own event loop at the manual clock's time."""
    scheduler = scheduler_of(client)
    client.portal.call(scheduler.run_due, clock.now())  # type: ignore[union-attr]
    client.portal.call(scheduler.wait_attempts)  # type: ignore[union-attr]
    client.portal.call(scheduler.run_due, clock.now())  # type: ignore[union-attr]


def runs(client: TestClient, task_id: str) -> list[dict[str, Any]]:
    response = client.get(f"{BASE}/tasks/{task_id}/runs")
    assert response.status_code == 200, response.text
    body: list[dict[str, Any]] = response.json()["runs"]
    return body


def test_lists_the_seven_tasks_all_enabled(
    start: Callable[..., TestClient],
) -> None:
    body = start().get(f"{BASE}/tasks").json()
    tasks = {t["id"]: t for t in body["tasks"]}
    assert set(tasks) == BUILTIN_IDS
    assert body["cron_enabled"] is True
    assert body["max_concurrent_runs"] == 3
    optimizer = tasks["perf_optimization_regular"]
    assert optimizer["cron_expression"] == "0 */4 * * *"
    assert optimizer["function_name"] == "run_performance_optimization"
    assert optimizer["max_duration_seconds"] == 1800
    # Every component is installed: each task is enabled.
    assert optimizer["state"].startswith("enabled, next")
    assert optimizer["unavailable_reason"] is None
    assert tasks["db_maintenance_daily"]["unavailable_reason"] is None
    assert tasks["db_maintenance_daily"]["state"].startswith("enabled, next")
    health = tasks["health_check_hourly"]
    assert health["timezone"] == "Europe/Madrid"
    assert health["next_run_at"] == "2026-03-02T10:00:00Z"
    assert health["state"] == "enabled, next 2026-03-02T10:00:00+00:00"


def test_status_lists_the_scheduler_and_its_tasks(start: Callable[..., TestClient]) -> None:
    status = start().get("/api/v1/performance/status").json()
    scheduler = {c["name"]: c for c in status["components"]}["scheduler"]
    assert scheduler["state"] == "ok"
    assert scheduler["details"]["tasks"] == 7
    assert scheduler["details"]["task.perf_optimization_regular"].startswith("enabled")
    assert str(scheduler["details"]["task.db_maintenance_daily"]).startswith("enabled, next")
    listed = {t["id"]: t for t in status["scheduled_tasks"]}
    assert set(listed) == BUILTIN_IDS
    assert listed["perf_optimization_regular"]["unavailable_reason"] is None
    assert listed["health_check_hourly"]["next_run_at"] == "2026-03-02T10:00:00Z"


def test_cron_fires_runs_and_records_with_metrics(
    start: Callable[..., TestClient], clock: ManualClock
) -> None:
    client = start()
    clock.advance(30)
    run_due(client, clock)
    (run,) = runs(client, "health_check_hourly")
    assert run["status"] == "succeeded", run
    assert run["trigger"] == "cron"
    assert run["scheduled_for"] == "2026-03-02T10:00:00Z"
    components = client.get("/api/v1/performance/status").json()["components"]
    assert run["summary"].startswith(f"{len(components)} components checked")
    # The ten-minute task fired at the same time.
    assert [r["status"] for r in runs(client, "resource_monitoring_frequent")] == ["succeeded"]
    metrics = client.get("/metrics").text
    assert (
        'perfpilot_scheduler_runs_total{status="succeeded",task="health_check_hourly"} 1.0'
        in metrics
    )
    assert "perfpilot_scheduler_run_duration_seconds_bucket" in metrics


def test_disabled_flag_fires_nothing_but_manual_runs_work(
    start: Callable[..., TestClient], clock: ManualClock
) -> None:
    client = start({"PERFORMANCE_SCHEDULER_ENABLED": "false"})
    status = client.get("/api/v1/performance/status").json()
    scheduler = {c["name"]: c for c in status["components"]}["scheduler"]
    assert scheduler["state"] == "disabled"
    assert "PERFORMANCE_SCHEDULER_ENABLED=false" in scheduler["reason"]
    clock.advance(3600)
    run_due(client, clock)
    assert runs(client, "health_check_hourly") == []
    assert client.get(f"{BASE}/tasks").json()["cron_enabled"] is False
    response = client.post(f"{BASE}/tasks/health_check_hourly/run")
    assert response.status_code == 202, response.text
    assert response.json()["started"] is True
    assert response.json()["run"]["trigger"] == "manual"
    wait_until(lambda: [r["status"] for r in runs(client, "health_check_hourly")] == ["succeeded"])


def test_run_now_errors(start: Callable[..., TestClient]) -> None:
    client = start()
    assert client.post(f"{BASE}/tasks/nope/run").status_code == 404
    # The optimizer is installed: its task runs on request like the others.
    assert client.post(f"{BASE}/tasks/perf_optimization_regular/run").status_code == 202
    assert client.get(f"{BASE}/tasks/nope/runs").status_code == 404


def test_run_now_needs_the_writer(start: Callable[..., TestClient]) -> None:
    client = start({"PERFORMANCE_API_TOKEN": "s3cret"})
    assert client.post(f"{BASE}/tasks/health_check_hourly/run").status_code == 401
    assert (
        client.put(f"{BASE}/tasks/health_check_hourly", json={"enabled": False}).status_code == 401
    )
    ok = client.post(
        f"{BASE}/tasks/health_check_hourly/run", headers={"Authorization": "Bearer s3cret"}
    )
    assert ok.status_code == 202


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"cron_expression": "0 25 * * *"}, "cron_expression"),
        ({"cron_expression": "* * * * * *"}, "cron_expression"),
        ({"timezone": "Europe/Atlantis"}, "timezone"),
        ({"enabled": True, "unknown": 1}, "unknown"),
        ({}, None),
    ],
)
def test_update_rejects_bad_input_naming_the_field(
    start: Callable[..., TestClient], body: dict[str, Any], field: str | None
) -> None:
    response = start().put(f"{BASE}/tasks/health_check_hourly", json=body)
    assert response.status_code == 422
    errors = response.json()["detail"]
    if field is not None:
        assert [e["loc"][-1] for e in errors] == [field]


def test_update_changes_and_persists(start: Callable[..., TestClient], clock: ManualClock) -> None:
    client = start()
    assert client.put(f"{BASE}/tasks/nope", json={"enabled": False}).status_code == 404
    response = client.put(
        f"{BASE}/tasks/health_check_hourly",
        json={"cron_expression": "30 2 * * *", "timezone": "UTC"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["next_run_at"] == "2026-03-03T02:30:00Z"
    disabled = client.put(f"{BASE}/tasks/health_check_hourly", json={"enabled": False}).json()
    assert disabled["state"] == "disabled"
    assert disabled["cron_expression"] == "30 2 * * *"
    clock.advance(30)
    run_due(client, clock)
    assert runs(client, "health_check_hourly") == []
    # A restart (same store) keeps the change.
    client.__exit__(None, None, None)
    again = start()
    task = next(
        t for t in again.get(f"{BASE}/tasks").json()["tasks"] if t["id"] == "health_check_hourly"
    )
    assert (task["enabled"], task["cron_expression"], task["timezone"]) == (
        False,
        "30 2 * * *",
        "UTC",
    )


def test_config_file_changes_adds_and_disables_tasks(start: Callable[..., TestClient]) -> None:
    config = """
[scheduler]
max_concurrent_runs = 2

[[scheduler.tasks]]
id = "resource_monitoring_frequent"
enabled = false

[[scheduler.tasks]]
id = "health_check_hourly"
cron_expression = "15 * * * *"
timezone = "America/New_York"

[[scheduler.tasks]]
id = "nightly_report"
name = "Nightly report"
cron_expression = "0 1 * * *"
function_name = "run_nightly_report"
"""
    body = start(config=config).get(f"{BASE}/tasks").json()
    tasks = {t["id"]: t for t in body["tasks"]}
    assert body["max_concurrent_runs"] == 2
    assert tasks["resource_monitoring_frequent"]["state"] == "disabled"
    assert tasks["health_check_hourly"]["cron_expression"] == "15 * * * *"
    assert tasks["health_check_hourly"]["timezone"] == "America/New_York"
    assert tasks["nightly_report"]["timezone"] == "Europe/Madrid"
    assert tasks["nightly_report"]["state"] == (
        "disabled: function run_nightly_report is not registered"
    )


def test_invalid_cron_in_the_config_file_stops_start_up(
    start: Callable[..., TestClient],
) -> None:
    config = '[[scheduler.tasks]]\nid = "health_check_hourly"\ncron_expression = "0 * * *"\n'
    with pytest.raises(ConfigError, match=r"scheduler.tasks\[0\].cron_expression"):
        start(config=config)


def test_quiet_hours_default_before_a_week_of_rollups(start: Callable[..., TestClient]) -> None:
    body = start().get(f"{BASE}/quiet-hours").json()
    assert body == {
        "source": "default",
        "start_hour": 1,
        "hours": 4,
        "zone": "Europe/Madrid",
        "days_of_data": body["days_of_data"],
        "mean_cpu_percent": None,
    }
    assert body["days_of_data"] < 7
