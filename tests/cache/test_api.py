"""The cache endpoints, /status and /metrics on a running service (real Redis and PostgreSQL)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis
from fastapi.testclient import TestClient

from perfpilot.api.state import ServiceState
from perfpilot.app import create_app
from perfpilot.cache.client import CacheClient
from perfpilot.core.clock import ManualClock
from perfpilot.core.settings import load_settings

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def start(tmp_path: Path, pg_dsn: str, redis_url: str) -> Iterator[Callable[..., TestClient]]:
    clients: list[TestClient] = []

    def run(env: dict[str, str] | None = None) -> TestClient:
        config = tmp_path / "perfpilot.toml"
        config.write_text("[monitor]\ninterval_s = 3600\n", encoding="utf-8")
        base = {
            "PERFORMANCE_STORE_URL": f"sqlite:///{tmp_path / 'store.db'}",
            "PERFORMANCE_CONFIG_FILE": str(config),
            "DATABASE_URL": pg_dsn,
            "REDIS_URL": redis_url,
            "PERFORMANCE_CACHE_MANAGED_PREFIXES": "rates:",
        }
        client = TestClient(
            create_app(load_settings(base | (env or {})), ManualClock(T0)),
            client=("127.0.0.1", 50000),
        )
        client.__enter__()
        clients.append(client)
        return client

    yield run
    for client in clients:
        client.__exit__(None, None, None)


def _state(client: TestClient) -> ServiceState:
    state: ServiceState = client.app.state.perfpilot  # type: ignore[attr-defined]
    return state


def _wait(predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


async def _traffic(url: str) -> None:
    r = aioredis.Redis.from_url(url)
    cache = CacheClient(r)
    await cache.set("rates:1", b"x")
    for _ in range(3):
        await cache.get("rates:1")
    await cache.get("rates:2")
    await cache.flush()
    await r.aclose()


def test_report_optimize_status_and_metrics(
    start: Callable[..., TestClient], redis_url: str
) -> None:
    client = start()
    state = _state(client)
    assert state.cache is not None
    asyncio.run(_traffic(redis_url))
    redis.Redis.from_url(redis_url).set(b"rates:nottl", b"v")
    report = client.get("/api/v1/performance/cache/report")
    assert report.status_code == 200, report.text
    body = report.json()
    rates = next(n for n in body["namespaces"] if n["name"] == "rates:")
    assert rates["hit_ratio"] == pytest.approx(0.75)
    assert body["managed_prefixes"] == ["rates:"]
    assert any(a["kind"] == "expire_keys" for a in body["actions"])
    planned = client.post("/api/v1/performance/cache/optimize", json={"force": False})
    assert planned.status_code == 200
    assert planned.json()["applied"] is False
    assert {o["outcome"] for o in planned.json()["outcomes"]} == {"planned"}
    assert redis.Redis.from_url(redis_url).pttl(b"rates:nottl") == -1
    unknown = client.post("/api/v1/performance/cache/optimize", json={"actions": ["nope"]})
    assert unknown.status_code == 422
    _wait(lambda: state.cache is not None and state.cache.latest_signal is not None)
    metrics = client.get("/metrics").text
    assert 'cache_optimization_efficiency{namespace="rates:"} 0.75' in metrics
    status = {c["name"]: c for c in client.get("/api/v1/performance/status").json()["components"]}
    assert status["cache_optimizer"]["state"] == "ok"


def test_efficiency_is_absent_without_client_data(start: Callable[..., TestClient]) -> None:
    client = start()
    state = _state(client)
    _wait(lambda: state.cache is not None and state.cache.latest_signal is not None)
    assert "cache_optimization_efficiency{" not in client.get("/metrics").text


def test_unreachable_redis_answers_503(start: Callable[..., TestClient]) -> None:
    client = start({"REDIS_URL": "redis://127.0.0.1:1/0"})
    response = client.get("/api/v1/performance/cache/report")
    assert response.status_code == 503
    assert "Redis unavailable" in response.json()["detail"]
    _wait(lambda: _state(client).health_sources and any(
        s.health().name == "cache_optimizer" and s.health().state == "unavailable"
        for s in _state(client).health_sources
    ))  # fmt: skip
