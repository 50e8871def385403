"""The service end to end: lifespan, readiness, the performance API, auth, Prometheus, restart."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.ports import free_port

from perfpilot.api.state import ServiceState
from perfpilot.app import create_app
from perfpilot.core.clock import ManualClock
from perfpilot.core.settings import Settings, load_settings

T0 = datetime(2026, 11, 25, 12, 0, 5, tzinfo=UTC)


def wait_until(predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Poll for a background thread's effect (not for time-dependent logic)."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


def make_settings(tmp_path: Path, env: dict[str, str], config: str = "") -> Settings:
    config_path = tmp_path / "perfpilot.toml"
    # A long interval: the sampling thread takes its first sample at start and then waits,
    # so the tests drive every further sample with tick() and a manual clock.
    config_path.write_text("[monitor]\ninterval_s = 3600\n" + config, encoding="utf-8")
    base = {
        "PERFORMANCE_STORE_URL": f"sqlite:///{tmp_path / 'store.db'}",
        "PERFORMANCE_CONFIG_FILE": str(config_path),
    }
    return load_settings(base | env)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def service_factory(
    tmp_path: Path, clock: ManualClock, pg_dsn: str, redis_url: str
) -> Iterator[Callable[..., TestClient]]:
    clients: list[TestClient] = []

    def start(
        env: dict[str, str] | None = None, config: str = "", client: tuple[str, int] | None = None
    ) -> TestClient:
        settings = make_settings(
            tmp_path, {"DATABASE_URL": pg_dsn, "REDIS_URL": redis_url} | (env or {}), config
        )
        test_client = TestClient(create_app(settings, clock), client=client or ("127.0.0.1", 50000))
        test_client.__enter__()
        clients.append(test_client)
        return test_client

    yield start
    for test_client in clients:
        if not getattr(test_client, "stopped", False):
            test_client.__exit__(None, None, None)


def stop(client: TestClient) -> None:
    """Shut a service down as a process exit would (lifespan shutdown)."""
    client.__exit__(None, None, None)
    client.stopped = True  # type: ignore[attr-defined]


def state_of(client: TestClient) -> ServiceState:
    state: ServiceState = client.app.state.perfpilot  # type: ignore[attr-defined]
    return state


def components(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in body["components"]}


def test_healthz_and_readyz_report_each_component(
    service_factory: Callable[..., TestClient],
) -> None:
    client = service_factory()
    state = state_of(client)
    wait_until(lambda: state.monitor.samples_taken >= 1)
    wait_until(lambda: all(w.health().reason != "not checked yet" for w in state.health_sources))
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    by_name = components(ready.json())
    assert by_name["monitor"]["state"] == "ok"
    assert by_name["store"]["state"] == "ok"
    assert by_name["database"]["state"] == "ok", by_name["database"]
    assert by_name["database"]["details"]["server"].startswith("PostgreSQL 15")
    assert by_name["cache"]["state"] == "ok", by_name["cache"]
    assert by_name["scheduler"]["state"] == "ok"
    assert by_name["auto_scaler"]["state"] in ("not_configured", "ok", "disabled")


def test_unreachable_database_and_cache_are_unavailable_with_reason(
    service_factory: Callable[..., TestClient],
) -> None:
    dead = free_port()
    client = service_factory(
        {
            "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{dead}/postgres",
            "REDIS_URL": f"redis://127.0.0.1:{dead}/0",
        }
    )
    state = state_of(client)
    wait_until(lambda: all(w.health().reason != "not checked yet" for w in state.health_sources))
    by_name = components(client.get("/readyz").json())
    assert by_name["database"]["state"] == "unavailable"
    assert "refused" in by_name["database"]["reason"].lower()
    assert by_name["cache"]["state"] == "unavailable"
    assert by_name["cache"]["reason"]
    # Everything else is still served.
    assert client.get("/api/v1/performance/metrics").status_code == 200
    status = client.get("/api/v1/performance/status").json()
    assert status["status"] == "degraded"


def test_monitoring_disabled_starts_no_sampling(
    service_factory: Callable[..., TestClient],
) -> None:
    client = service_factory({"PERFORMANCE_MONITORING_ENABLED": "false"})
    state = state_of(client)
    assert state.monitor.running is False
    body = client.get("/api/v1/performance/metrics").json()
    assert body["monitoring"] == "disabled"
    assert body["current"] is None
    assert body["current_reason"] == "PERFORMANCE_MONITORING_ENABLED=false"
    assert state.monitor.samples_taken == 0
    assert "system_resource_usage{" not in client.get("/metrics").text
    by_name = components(client.get("/api/v1/performance/status").json())
    assert by_name["monitor"]["state"] == "disabled"


def test_metrics_endpoint_has_thresholds_history_and_current(
    service_factory: Callable[..., TestClient], clock: ManualClock
) -> None:
    client = service_factory({"PERFORMANCE_CPU_THRESHOLD": "70"})
    state = state_of(client)
    wait_until(lambda: state.monitor.samples_taken >= 1)
    for _ in range(3):
        clock.advance(5)
        state.monitor.tick()
    body = client.get("/api/v1/performance/metrics").json()
    assert body["thresholds"]["optimization"] == {
        "cpu_usage": 70.0,
        "memory_usage": 80.0,
        "disk_usage": 85.0,
        "db_connections": 100,
        "cache_hit_rate": 0.7,
        "api_response_time": 1000.0,
    }
    assert body["thresholds"]["alerts"]["cpu"] == {"warning": 80.0, "critical": 90.0, "for_s": 60.0}
    assert body["current"]["cpu"]["percent"] is not None
    assert 0 <= body["current"]["memory"]["percent"] <= 100
    history = body["history"]
    assert history["points"] == 4
    assert len(history["series"]["cpu"]) == 4
    assert history["series"]["cpu"][0] is None  # the first sample has no CPU reading yet
    assert "memory" in history["series"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("max_points=501", "max_points"),
        ("minutes=100000", "minutes"),
        ("minutes=-1", "minutes"),
        ("series=nonexistent", "series"),
    ],
)
def test_metrics_rejects_bad_windows(
    service_factory: Callable[..., TestClient], query: str, field: str
) -> None:
    client = service_factory()
    response = client.get(f"/api/v1/performance/metrics?{query}")
    assert response.status_code == 422
    assert field in response.text


def test_alert_fires_is_listed_and_resolved_once(
    service_factory: Callable[..., TestClient], clock: ManualClock
) -> None:
    # Any host uses more than 1 % of its memory: the memory rule must fire.
    client = service_factory(
        config="[alerts]\nmemory = { warning = 0.5, critical = 1, for_s = 0 }\n"
    )
    state = state_of(client)
    wait_until(lambda: state.monitor.samples_taken >= 1)
    clock.advance(5)
    state.monitor.tick()
    firing = client.get("/api/v1/performance/alerts?status=firing&severity=critical").json()
    memory_alerts = [a for a in firing["alerts"] if a["resource"] == "memory"]
    assert len(memory_alerts) == 1
    alert = memory_alerts[0]
    assert alert["status"] == "firing"
    assert alert["kind"] == "threshold"
    prometheus = client.get("/metrics").text
    assert 'perfpilot_alerts_firing{severity="critical"}' in prometheus

    resolved = client.post(
        f"/api/v1/performance/alerts/{alert['id']}/resolve", json={"comment": "known load test"}
    )
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "resolved"
    assert resolved.json()["resolved_by"] == "api"
    assert resolved.json()["comment"] == "known load test"
    again = client.post(f"/api/v1/performance/alerts/{alert['id']}/resolve")
    assert again.status_code == 409
    assert alert["id"] in again.json()["detail"]
    stored = client.get("/api/v1/performance/alerts?status=resolved").json()["alerts"]
    assert [a["id"] for a in stored if a["resource"] == "memory"] == [alert["id"]]


def test_alert_errors(service_factory: Callable[..., TestClient]) -> None:
    client = service_factory()
    bad = client.get("/api/v1/performance/alerts?severity=urgent")
    assert bad.status_code == 422
    assert "severity" in bad.text
    missing = client.post("/api/v1/performance/alerts/doesnotexist/resolve")
    assert missing.status_code == 404
    assert "doesnotexist" in missing.json()["detail"]


def test_token_guards_mutations(service_factory: Callable[..., TestClient]) -> None:
    client = service_factory({"PERFORMANCE_API_TOKEN": "s3cret"})
    url = "/api/v1/performance/alerts/abc/resolve"
    assert client.post(url).status_code == 401
    assert client.post(url, headers={"Authorization": "Basic s3cret"}).status_code == 401
    assert client.post(url, headers={"Authorization": "Bearer"}).status_code == 401
    assert client.post(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
    # The right token gets through to the handler, which finds no such alert.
    assert client.post(url, headers={"Authorization": "Bearer s3cret"}).status_code == 404


def test_without_token_only_loopback_may_mutate(
    service_factory: Callable[..., TestClient],
) -> None:
    remote = service_factory(client=("203.0.113.7", 40000))
    response = remote.post("/api/v1/performance/alerts/abc/resolve")
    assert response.status_code == 403
    assert "PERFORMANCE_API_TOKEN" in response.json()["detail"]
    assert remote.get("/api/v1/performance/alerts").status_code == 200


def test_prometheus_exposition(
    service_factory: Callable[..., TestClient], clock: ManualClock
) -> None:
    client = service_factory()
    state = state_of(client)
    wait_until(lambda: state.monitor.samples_taken >= 1)
    clock.advance(5)
    state.monitor.tick()
    text = client.get("/metrics").text
    for needle in (
        'system_resource_usage{resource_type="cpu"}',
        'system_resource_usage{resource_type="memory"}',
        'system_resource_usage{resource_type="disk"}',
        "perfpilot_host_memory_bytes{",
        "perfpilot_monitor_sample_duration_seconds_count 2.0",
        "perfpilot_monitor_samples_total 2.0",
        "process_resident_memory_bytes",
    ):
        assert needle in text, needle
    cpu_line = next(
        line
        for line in text.splitlines()
        if line.startswith('system_resource_usage{resource_type="cpu"}')
    )
    assert 0.0 <= float(cpu_line.split()[-1]) <= 100.0


def test_history_and_alerts_survive_restart(
    service_factory: Callable[..., TestClient], clock: ManualClock
) -> None:
    config = "[alerts]\nmemory = { warning = 0.5, critical = 1, for_s = 0 }\n"
    first = service_factory(config=config)
    state = state_of(first)
    wait_until(lambda: state.monitor.samples_taken >= 1)
    for _ in range(30):  # two and a half minutes of samples: two closed minutes
        clock.advance(5)
        state.monitor.tick()
    alert_ids = [
        a["id"] for a in first.get("/api/v1/performance/alerts?status=firing").json()["alerts"]
    ]
    assert alert_ids
    stop(first)

    clock.advance(60)
    second = service_factory(config=config)
    body = second.get("/api/v1/performance/metrics?minutes=10").json()
    # Restored minute averages plus the new process's first sample.
    assert body["history"]["points"] >= 3
    assert any(v is not None for v in body["history"]["series"]["memory"][:2])
    state2 = state_of(second)
    wait_until(lambda: state2.monitor.samples_taken >= 1)
    clock.advance(5)
    state2.monitor.tick()
    firing = second.get("/api/v1/performance/alerts?status=firing").json()["alerts"]
    # Still the same alerts, not duplicates.
    assert sorted(a["id"] for a in firing if a["resource"] == "memory") == sorted(
        i for i in alert_ids if i in {a["id"] for a in firing}
    )
    assert len([a for a in firing if a["resource"] == "memory"]) == 1
