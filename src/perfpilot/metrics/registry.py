"""Builds the app's own Prometheus registry (never the process-global one)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram, ProcessCollector

from perfpilot.metrics.monitor_collector import MonitorCollector
from perfpilot.monitor.alerts import AlertEngine
from perfpilot.monitor.sample import HostSample
from perfpilot.monitor.service import ResourceMonitor

# Sampling normally takes a few milliseconds; the upper buckets catch a stalled /proc read.
_SAMPLE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


def build_registry(monitor: ResourceMonitor, alerts: AlertEngine) -> CollectorRegistry:
    """A registry with the monitor's families, a sampling-duration histogram and process stats."""
    registry = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    registry.register(MonitorCollector(monitor, alerts))
    duration = Histogram(
        "perfpilot_monitor_sample_duration_seconds",
        "Time taken to take one host sample.",
        buckets=_SAMPLE_BUCKETS,
        registry=registry,
    )

    def observe(sample: HostSample) -> None:
        duration.observe(sample.sample_duration_s)

    monitor.add_observer(observe)
    return registry
