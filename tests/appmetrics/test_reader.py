"""The reader against a real FastAPI application under load: its p95 is within 10 % of the p95
the load client measured; rates and error rates from counter deltas; Prometheus' quantile."""

from __future__ import annotations

import math
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx
import numpy as np
import pytest

from perfpilot.appmetrics.quantile import histogram_quantile
from perfpilot.appmetrics.reader import ExpositionReader
from perfpilot.core.scaling_config import AppMetricsConfig

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _load(base: str, requests: int, workers: int = 4) -> list[float]:
    """Send ``requests`` GETs from ``workers`` threads; each one's latency as the client saw it."""

    def one(client: httpx.Client, n: int) -> float:
        start = time.perf_counter()
        client.get(f"{base}/work/{n}").raise_for_status()
        return time.perf_counter() - start

    limits = httpx.Limits(max_connections=workers)
    with httpx.Client(limits=limits) as client, ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda n: one(client, n), range(requests)))


def test_p95_matches_the_load_clients(app_url: str) -> None:
    reader = ExpositionReader(f"{app_url}/metrics", AppMetricsConfig())
    first = reader.read(NOW)
    assert first.reason == "first scrape: rates need a second one"
    started = time.monotonic()
    latencies = _load(app_url, 600)
    elapsed = time.monotonic() - started
    snapshot = reader.read(NOW)
    total = snapshot.total()
    assert total is not None
    assert total.p95_s is not None
    client_p95 = float(np.percentile(latencies, 95))
    assert abs(total.p95_s - client_p95) / client_p95 < 0.10, (total.p95_s, client_p95)
    assert total.requests == 600
    # The window is measured from scrape to scrape, a little longer than the load itself.
    assert 600 / (elapsed + 1.0) < total.request_rate_per_s <= 600 / elapsed * 1.05
    assert total.error_rate == 0.0
    work = [e for e in snapshot.endpoints if e.endpoint.startswith("/work")]
    assert sum(e.requests for e in work) == 600
    assert total.p50_s is not None
    assert total.p99_s is not None
    # A p99 in the +Inf bucket (a slow first connection) is reported as the last bound.
    assert 0.010 < total.p50_s < total.p95_s < total.p99_s <= 0.150


def test_error_rate_and_an_idle_window(app_url: str) -> None:
    reader = ExpositionReader(f"{app_url}/metrics", AppMetricsConfig())
    reader.read(NOW)
    with httpx.Client() as client:
        for _ in range(30):
            client.get(f"{app_url}/fail")
        for n in range(10):
            client.get(f"{app_url}/work/{n}")
    snapshot = reader.read(NOW)
    fail = next(e for e in snapshot.endpoints if e.endpoint == "/fail")
    assert fail.error_rate == 1.0
    total = snapshot.total()
    assert total is not None
    assert total.error_rate == pytest.approx(30 / 40)
    idle = reader.read(NOW)
    assert idle.reason == "no requests in the window"
    idle_total = idle.total()
    assert idle_total is not None
    assert idle_total.p95_s is None


def test_unreachable_and_missing_metric_give_reasons(app_url: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = sock.getsockname()[1]
    down = ExpositionReader(f"http://127.0.0.1:{dead}/metrics", AppMetricsConfig(timeout_s=1))
    assert (down.read(NOW).reason or "").startswith("cannot scrape")
    renamed = ExpositionReader(
        f"{app_url}/metrics", AppMetricsConfig(duration_metric="request_latency_seconds")
    )
    assert renamed.read(NOW).reason == f"request_latency_seconds not exposed at {app_url}/metrics"


@pytest.mark.parametrize(
    ("q", "buckets", "expected"),
    [
        # Rank 50 of 100 falls halfway into (0.1, 0.2]: 0.15.
        (0.5, [(0.1, 0), (0.2, 100), (math.inf, 100)], 0.15),
        # The first bucket starts at 0.
        (0.5, [(0.1, 100), (math.inf, 100)], 0.05),
        # A rank in +Inf returns the highest finite bound.
        (0.99, [(0.1, 50), (math.inf, 100)], 0.1),
        (0.5, [(0.1, 0), (math.inf, 0)], None),
    ],
)
def test_histogram_quantile_follows_prometheus(
    q: float, buckets: list[tuple[float, float]], expected: float | None
) -> None:
    result = histogram_quantile(q, buckets)
    assert result == (pytest.approx(expected) if expected is not None else None)
