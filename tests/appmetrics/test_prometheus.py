"""``PrometheusReader`` against a real Prometheus server scraping the load target every second:
its request rate and p95 match what the load client measured."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import pytest

from perfpilot.appmetrics.model import ALL_ENDPOINTS
from perfpilot.appmetrics.reader import PrometheusReader
from perfpilot.core.scaling_config import AppMetricsConfig

from .conftest import free_port

PROMETHEUS = Path("/usr/bin/prometheus")
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
# The reader's window: the shortest the config allows, 15 scrapes at 1 s.
RANGE_S = 15.0
WORKERS = 4
CONFIG = """
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: app
    static_configs:
      - targets: ["{target}"]
"""


@pytest.fixture(scope="module")
def prometheus_url(app_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not os.access(PROMETHEUS, os.X_OK):
        pytest.fail(
            f"{PROMETHEUS} is missing: run `make test` or `scripts/install-system-deps`"
            " (as root) to install the prometheus package"
        )
    home = tmp_path_factory.mktemp("prometheus")
    config = home / "prometheus.yml"
    config.write_text(CONFIG.format(target=app_url.removeprefix("http://")), encoding="utf-8")
    port = free_port()
    log = (home / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [str(PROMETHEUS), f"--config.file={config}", f"--storage.tsdb.path={home / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _poll(lambda: _ready(url), 30, "Prometheus did not become ready", proc, home)
        _poll(lambda: _query(url, 'up{job="app"}') == 1.0, 30, "app never scraped", proc, home)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


def _poll(
    done: object, timeout_s: float, what: str, proc: subprocess.Popen[bytes], home: Path
) -> None:
    """Wait (bounded) until ``done()`` is true; the server's log in the failure message."""
    assert callable(done)
    deadline = time.monotonic() + timeout_s
    while not done():
        log = (home / "prometheus.log").read_text(errors="replace")[-2000:]
        assert proc.poll() is None, f"prometheus exited: {log}"
        assert time.monotonic() < deadline, f"{what}: {log}"
        time.sleep(0.1)


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _query(url: str, query: str) -> float | None:
    body = httpx.get(f"{url}/api/v1/query", params={"query": query}, timeout=5).json()
    result = body["data"]["result"]
    return float(result[0]["value"][1]) if result else None


class _Load:
    """``WORKERS`` threads sending GETs back to back until stopped; latencies as seen."""

    def __init__(self, base: str) -> None:
        self._base = base
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.latencies: list[float] = []
        self._pool = ThreadPoolExecutor(WORKERS)
        self._client = httpx.Client(limits=httpx.Limits(max_connections=WORKERS))
        self.started = self.stopped = 0.0

    def __enter__(self) -> _Load:
        self.started = time.time()
        self._futures = [self._pool.submit(self._worker, w) for w in range(WORKERS)]
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for future in self._futures:
            future.result()  # re-raises a worker's failure
        self.stopped = time.time()
        self._pool.shutdown()
        self._client.close()

    def _worker(self, worker: int) -> None:
        n = worker
        while not self._stop.is_set():
            start = time.perf_counter()
            self._client.get(f"{self._base}/work/{n}").raise_for_status()
            with self._lock:
                self.latencies.append(time.perf_counter() - start)
            n += WORKERS


def test_prometheus_reader_matches_the_load_client(app_url: str, prometheus_url: str) -> None:
    reader = PrometheusReader(prometheus_url, AppMetricsConfig(range_s=RANGE_S))
    with _Load(app_url) as load:
        # Wait until Prometheus's newest scrape is a full window (plus one scrape) past the
        # start of the load: the window the reader asks about then holds only loaded samples.
        def window_loaded() -> bool:
            newest = _query(prometheus_url, 'timestamp(up{job="app"})')
            return newest is not None and newest >= load.started + RANGE_S + 1.0

        deadline = time.monotonic() + RANGE_S + 30
        while not window_loaded():
            assert time.monotonic() < deadline, "Prometheus did not scrape the loaded window"
            time.sleep(0.2)
        snapshot = reader.read(NOW)
    assert snapshot.reason is None, snapshot.reason
    total = snapshot.total()
    assert total is not None
    assert total.endpoint == ALL_ENDPOINTS
    client_rate = len(load.latencies) / (load.stopped - load.started)
    client_p95 = float(np.percentile(load.latencies, 95))
    # Steady load, so the client's rate over the whole run equals its rate in any 15 s window;
    # rate() reads counters at scrape instants, so up to WORKERS in-flight requests and 1 s of
    # scrape jitter at each edge of a 15 s window: a few percent. 10 % is the bar.
    assert total.request_rate_per_s == pytest.approx(client_rate, rel=0.10)
    # The histogram has 2.5 ms buckets near a ~70 ms p95 (3.6 % resolution); the client adds
    # its own few hundred microseconds. The bar for the exposition reader: 10 %.
    assert total.p95_s is not None
    assert total.p95_s == pytest.approx(client_p95, rel=0.10), (total.p95_s, client_p95)
    assert total.error_rate == 0.0
    assert total.p50_s is not None
    assert total.p99_s is not None
    assert 0.010 < total.p50_s < total.p95_s <= total.p99_s <= 0.150
    work = {e.endpoint: e for e in snapshot.endpoints}["/work/{n}"]
    assert work.request_rate_per_s == pytest.approx(total.request_rate_per_s)
    assert work.p95_s == pytest.approx(total.p95_s)
