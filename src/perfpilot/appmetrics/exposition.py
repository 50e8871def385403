"""One scrape of the application's ``/metrics``: histogram buckets and request counts per
endpoint, parsed with ``prometheus_client.parser``."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

from perfpilot.core.scaling_config import AppMetricsConfig

# Endpoint -> upper bound -> cumulative count, summed over every other label.
Buckets = dict[str, dict[float, float]]


@dataclass(frozen=True, slots=True)
class Scrape:
    """Cumulative counters at one moment (monotonic seconds), by endpoint."""

    at_s: float
    buckets: Buckets
    requests: dict[str, float] = field(default_factory=dict)
    errors: dict[str, float] = field(default_factory=dict)
    # Whether requests carry a status label (from the requests counter): error rates need it.
    has_status: bool = False
    gauges: dict[str, float] = field(default_factory=dict)
    # The duration family is exposed (a labelled histogram has no samples before a request).
    has_histogram: bool = False


def parse_scrape(text: str, at_s: float, cfg: AppMetricsConfig) -> Scrape:
    """The duration histogram's buckets and the request counter from an exposition text.

    Requests and 5xx counts come from ``cfg.requests_metric`` when it is exposed, else from the
    histogram's ``_count`` (then without status, so no error rate).
    """
    buckets: Buckets = defaultdict(lambda: defaultdict(float))
    counts: dict[str, float] = defaultdict(float)
    requests: dict[str, float] = defaultdict(float)
    errors: dict[str, float] = defaultdict(float)
    gauges: dict[str, float] = {}
    requests_base = cfg.requests_metric.removesuffix("_total")
    has_histogram = False
    for family in text_string_to_metric_families(text):
        has_histogram = has_histogram or family.name == cfg.duration_metric
        for sample in family.samples:
            endpoint = sample.labels.get(cfg.endpoint_label, "")
            if family.name == cfg.duration_metric and sample.name.endswith("_bucket"):
                buckets[endpoint][_bound(sample.labels["le"])] += sample.value
            elif family.name == cfg.duration_metric and sample.name.endswith("_count"):
                counts[endpoint] += sample.value
            elif family.name == requests_base and sample.name.endswith("_total"):
                requests[endpoint] += sample.value
                if sample.labels.get(cfg.status_label, "").startswith("5"):
                    errors[endpoint] += sample.value
            elif family.name == cfg.queue_metric and family.type == "gauge":
                gauges[family.name] = gauges.get(family.name, 0.0) + sample.value
    has_status = bool(requests)
    return Scrape(
        at_s,
        {e: dict(b) for e, b in buckets.items()},
        dict(requests) if has_status else dict(counts),
        dict(errors),
        has_status,
        gauges,
        has_histogram,
    )


def _bound(text: str) -> float:
    return math.inf if text in ("+Inf", "Inf", "inf") else float(text)
