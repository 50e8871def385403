"""Readers of the application's request metrics: its own ``/metrics`` (two scrapes, deltas)
or a Prometheus server's HTTP API (``rate`` and ``histogram_quantile`` over a range).

Blocking (HTTP); callers run them in a worker thread. No data is None with the reason, never 0.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime

import httpx

from perfpilot.appmetrics.delta import snapshot_between
from perfpilot.appmetrics.exposition import Scrape, parse_scrape
from perfpilot.appmetrics.model import ALL_ENDPOINTS, AppSnapshot, EndpointStats
from perfpilot.core.scaling_config import AppMetricsConfig

logger = logging.getLogger(__name__)


class ExpositionReader:
    """Scrapes ``url`` (the app's /metrics); each read covers the time since the previous one."""

    def __init__(
        self,
        url: str,
        cfg: AppMetricsConfig,
        client: httpx.Client | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        self._cfg = cfg
        self._client = client or httpx.Client(timeout=cfg.timeout_s)
        self._monotonic = monotonic
        self._previous: Scrape | None = None
        self._lock = threading.Lock()
        self.gauges: dict[str, float] = {}

    def read(self, now: datetime) -> AppSnapshot:
        try:
            response = self._client.get(self._url)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            return AppSnapshot(now, 0.0, (), f"cannot scrape {self._url}: {exc}")
        scrape = parse_scrape(response.text, self._monotonic(), self._cfg)
        with self._lock:
            previous, self._previous = self._previous, scrape
            self.gauges = scrape.gauges
        if not scrape.has_histogram:
            return AppSnapshot(
                now, 0.0, (), f"{self._cfg.duration_metric} not exposed at {self._url}"
            )
        if previous is None:
            return AppSnapshot(now, 0.0, (), "first scrape: rates need a second one")
        return snapshot_between(previous, scrape, now)

    def close(self) -> None:
        self._client.close()


class PrometheusReader:
    """Asks a Prometheus server (``/api/v1/query``) over the last ``range_s`` seconds."""

    def __init__(self, url: str, cfg: AppMetricsConfig, client: httpx.Client | None = None) -> None:
        self._url = url.rstrip("/") + "/api/v1/query"
        self._cfg = cfg
        self._client = client or httpx.Client(timeout=cfg.timeout_s)
        self.gauges: dict[str, float] = {}

    def read(self, now: datetime) -> AppSnapshot:
        cfg, window = self._cfg, f"{int(self._cfg.range_s)}s"
        by = cfg.endpoint_label
        rate = f"rate({cfg.requests_metric}[{window}])"
        failed = f'{cfg.requests_metric}{{{cfg.status_label}=~"5.."}}'
        buckets = f"rate({cfg.duration_metric}_bucket[{window}])"
        try:
            rates = self._vector(f"sum by ({by}) ({rate})", by)
            errors = self._vector(f"sum by ({by}) (rate({failed}[{window}]))", by)
            quantiles = {
                q: self._vector(f"histogram_quantile({q}, sum by (le, {by}) ({buckets}))", by)
                for q in (0.5, 0.95, 0.99)
            }
            totals = {
                q: self._vector(f"histogram_quantile({q}, sum by (le) ({buckets}))", by)
                for q in (0.5, 0.95, 0.99)
            }
            if cfg.queue_metric:
                queue = self._vector(f"sum({cfg.queue_metric})", "")
                self.gauges = {cfg.queue_metric: queue[""]} if "" in queue else {}
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            return AppSnapshot(now, 0.0, (), f"Prometheus query failed: {exc}")
        stats = [
            _stats(
                e,
                r,
                errors.get(e, 0.0),
                self._cfg.range_s,
                {q: v.get(e) for q, v in quantiles.items()},
            )
            for e, r in sorted(rates.items())
        ]
        total_rate = sum(rates.values())
        stats.append(
            _stats(
                ALL_ENDPOINTS,
                total_rate,
                sum(errors.values()),
                self._cfg.range_s,
                {q: v.get("") for q, v in totals.items()},
            )
        )
        reason = None if total_rate > 0 else "no requests in the range"
        return AppSnapshot(now, self._cfg.range_s, tuple(stats), reason)

    def _vector(self, query: str, label: str) -> dict[str, float]:
        response = self._client.get(self._url, params={"query": query})
        response.raise_for_status()
        body = response.json()
        if body.get("status") != "success":
            raise ValueError(body.get("error", "query failed"))
        out: dict[str, float] = {}
        for item in body["data"]["result"]:
            value = float(item["value"][1])
            if value == value:  # NaN: histogram_quantile without observations
                out[item["metric"].get(label, "")] = value
        return out


def _stats(
    endpoint: str, rate: float, error_rate: float, range_s: float, q: dict[float, float | None]
) -> EndpointStats:
    return EndpointStats(
        endpoint=endpoint,
        requests=rate * range_s,
        request_rate_per_s=rate,
        error_rate=(error_rate / rate) if rate > 0 else None,
        p50_s=q[0.5],
        p95_s=q[0.95],
        p99_s=q[0.99],
    )
