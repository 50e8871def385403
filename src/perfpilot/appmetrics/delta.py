"""Per-endpoint stats from two scrapes: rates and percentiles of the window between them."""

from __future__ import annotations

from datetime import datetime

from perfpilot.appmetrics.exposition import Scrape
from perfpilot.appmetrics.model import ALL_ENDPOINTS, AppSnapshot, EndpointStats
from perfpilot.appmetrics.quantile import histogram_quantile


def snapshot_between(before: Scrape, after: Scrape, now: datetime) -> AppSnapshot:
    """Stats of (before, after]; a counter that went down (the app restarted) is read from 0."""
    window_s = after.at_s - before.at_s
    if window_s <= 0:
        return AppSnapshot(now, 0.0, (), "scrapes are not in time order")
    total_buckets: dict[float, float] = {}
    stats = []
    for endpoint, buckets in sorted(after.buckets.items()):
        deltas = _deltas(before.buckets.get(endpoint, {}), buckets)
        for bound, count in deltas.items():
            total_buckets[bound] = total_buckets.get(bound, 0.0) + count
        requests = _delta(before.requests.get(endpoint, 0.0), after.requests.get(endpoint, 0.0))
        errors = _delta(before.errors.get(endpoint, 0.0), after.errors.get(endpoint, 0.0))
        stats.append(_stats(endpoint, deltas, requests, errors, window_s, after.has_status))
    requests = sum(s.requests for s in stats)
    errors = sum(_delta(before.errors.get(e, 0.0), after.errors.get(e, 0.0)) for e in after.buckets)
    stats.append(_stats(ALL_ENDPOINTS, total_buckets, requests, errors, window_s, after.has_status))
    reason = None if requests > 0 else "no requests in the window"
    return AppSnapshot(now, window_s, tuple(stats), reason)


def _stats(
    endpoint: str,
    buckets: dict[float, float],
    requests: float,
    errors: float,
    window_s: float,
    has_status: bool,
) -> EndpointStats:
    pairs = list(buckets.items())
    return EndpointStats(
        endpoint=endpoint,
        requests=requests,
        request_rate_per_s=requests / window_s,
        error_rate=(errors / requests) if requests > 0 and has_status else None,
        p50_s=histogram_quantile(0.50, pairs),
        p95_s=histogram_quantile(0.95, pairs),
        p99_s=histogram_quantile(0.99, pairs),
    )


def _deltas(before: dict[float, float], after: dict[float, float]) -> dict[float, float]:
    return {bound: _delta(before.get(bound, 0.0), count) for bound, count in after.items()}


def _delta(before: float, after: float) -> float:
    return after if after < before else after - before
