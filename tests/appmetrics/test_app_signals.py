"""PERFORMANCE_API_METRICS_URL through the app: a dry-run service with ``rps_per_instance`` and
``latency_p95`` rules scales on the load target's real metrics, and the decision carries them."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from tests.test_app import clock, service_factory  # noqa: F401

from perfpilot.core.clock import ManualClock

BASE = "/api/v1/performance/scaling"
REQUESTS = 400
WORKERS = 4
CONFIG = """
[scaling]
evaluation_interval_s = 3600

[[scaling.services]]
name = "api"
tier = "critical"
min_instances = 2
max_instances = 10
scale_up_cooldown = 300
scale_down_cooldown = 600

[scaling.services.backend]
kind = "dry-run"

[[scaling.services.rules]]
name = "rps_per_instance"
target = 5

[[scaling.services.rules]]
name = "latency_p95"
target = 1.0
"""


def _load(base: str) -> list[float]:
    def one(client: httpx.Client, n: int) -> float:
        start = time.perf_counter()
        client.get(f"{base}/work/{n}").raise_for_status()
        return time.perf_counter() - start

    limits = httpx.Limits(max_connections=WORKERS)
    with httpx.Client(limits=limits) as client, ThreadPoolExecutor(WORKERS) as pool:
        return list(pool.map(lambda n: one(client, n), range(REQUESTS)))


def test_service_scales_on_the_apps_real_metrics(
    app_url: str,
    clock: ManualClock,  # noqa: F811
    service_factory: Callable[..., TestClient],  # noqa: F811
) -> None:
    env = {"AUTO_SCALING_ENABLED": "false", "PERFORMANCE_API_METRICS_URL": f"{app_url}/metrics"}
    client = service_factory(env, CONFIG)
    first = client.get(f"{BASE}/status").json()["recent_decisions"]
    # The start-up cycle took the first scrape: no rate yet, so it held.
    assert first[0]["decision"]["direction"] == "hold"
    # A dry-run service has no CPU or memory of its own to read; the two rules decide alone.
    for fixed in ("cpu", "memory"):
        response = client.put(f"{BASE}/rule/api/{fixed}", json={"enabled": False})
        assert response.status_code == 200, response.text
    started = time.monotonic()
    latencies = _load(app_url)
    elapsed = time.monotonic() - started
    clock.advance(60)
    done = client.post(f"{BASE}/execute", json={})
    assert done.status_code == 200, done.text
    [execution] = done.json()["executions"]
    # ~90 rps over 2 instances is ~9x the 5 rps target: the HPA's default step policy
    # (+4 or +100 %, the larger) stops the first action at 6.
    assert (execution["previous"], execution["desired"], execution["status"]) == (2, 6, "success")
    recorded = client.get(f"{BASE}/status").json()["recent_decisions"][0]
    assert recorded["executed"] is True
    decision = recorded["decision"]
    assert (decision["direction"], decision["source"]) == ("up", "metrics")
    proposals = {p["metric"]: p for p in decision["proposals"]}
    # The reader's window runs from the start-up scrape to this one: a little longer than
    # the load, so its rate is a little lower than the client's.
    total_rate = proposals["rps_per_instance"]["value"] * 2
    assert REQUESTS / (elapsed + 2.0) < total_rate <= REQUESTS / elapsed * 1.05
    assert proposals["rps_per_instance"]["proposal"] > 6
    client_p95 = float(np.percentile(latencies, 95))
    assert proposals["latency_p95"]["value"] == pytest.approx(client_p95, rel=0.10)
    assert "never scales in" in proposals["latency_p95"]["note"]
