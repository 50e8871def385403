"""Application signals for the scaler, from the application-metrics reader."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from perfpilot.appmetrics.model import AppSnapshot
from perfpilot.scaling.model import MetricReading


class SnapshotReader(Protocol):
    gauges: dict[str, float]

    def read(self, now: datetime) -> AppSnapshot: ...


class AppMetricSignals:
    """``latency_p95`` (seconds), ``rps_per_instance`` and ``queue_length`` per instance, for
    a service whose application metrics ``reader`` reads (one application per reader)."""

    def __init__(self, reader: SnapshotReader, queue_metric: str | None = None) -> None:
        self._reader = reader
        self._queue_metric = queue_metric
        # One scrape per evaluation: a second read at the same moment would see an empty window.
        self._cached: AppSnapshot | None = None

    def readings(self, service: str, instances: int, now: datetime) -> list[MetricReading]:
        snapshot = self._cached
        if snapshot is None or snapshot.at != now:
            snapshot = self._cached = self._reader.read(now)
        total = snapshot.total()
        if total is None or instances <= 0:
            why = snapshot.reason or "no requests measured"
            return [MetricReading(n, None, None, why) for n in ("latency_p95", "rps_per_instance")]
        latency = (
            MetricReading("latency_p95", total.p95_s, now)
            if total.p95_s is not None
            else MetricReading("latency_p95", None, None, snapshot.reason or "no requests")
        )
        readings = [
            latency,
            MetricReading("rps_per_instance", total.request_rate_per_s / instances, now),
        ]
        queue = self._reader.gauges.get(self._queue_metric) if self._queue_metric else None
        if queue is not None:
            readings.append(MetricReading("queue_length", queue / instances, now))
        return readings
