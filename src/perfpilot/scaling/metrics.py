"""The scaler's Prometheus families on the app's registry: ``scaling_operations_total``
(the specification's name), instance gauges and decision confidence."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from perfpilot.scaling.scaler import AutoScaler


class ScalingCollector(Collector):
    """Instance counts and the last decision's confidence, read from the scaler's state."""

    def __init__(self, scaler: AutoScaler) -> None:
        self._scaler = scaler

    def collect(self) -> Iterator[GaugeMetricFamily]:
        instances = GaugeMetricFamily(
            "perfpilot_scaling_instances",
            "Instances per service: observed, desired (last decision), min and max.",
            labels=["service", "state"],
        )
        confidence = GaugeMetricFamily(
            "perfpilot_scaling_decision_confidence",
            "Confidence of the last scaling decision, 0-1.",
            labels=["service"],
        )
        for runtime in self._scaler.runtimes():
            name, cfg = runtime.config.name, runtime.config
            observed = runtime.observed.instances if runtime.observed else None
            if observed is not None:
                instances.add_metric([name, "observed"], observed)
            instances.add_metric([name, "min"], cfg.min_instances)
            instances.add_metric([name, "max"], cfg.max_instances)
            decision = runtime.decision
            if decision is not None and decision.current > 0:
                instances.add_metric([name, "desired"], decision.desired)
                confidence.add_metric([name], decision.confidence)
        yield instances
        yield confidence


def register_scaling_metrics(registry: CollectorRegistry, scaler: AutoScaler) -> None:
    """Add the collector and an operations counter fed by the scaler's observer."""
    registry.register(ScalingCollector(scaler))
    operations = Counter(
        "scaling_operations",
        "Scaling operations by operation (evaluate, scale_up, scale_down, hold) and status.",
        ["operation", "status"],
        registry=registry,
    )
    scaler.add_observer(lambda operation, status: operations.labels(operation, status).inc())
