"""The optimizer's Prometheus families: ``performance_optimization_duration_seconds`` (the
specification's name) and actions by type and status."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from perfpilot.optimizer.model import OptimizationType
from perfpilot.optimizer.records import ActionStatus
from perfpilot.optimizer.service import PerformanceOptimizer

# A run reads every component (a cache sweep has a 10 s budget, the index advisor runs EXPLAINs)
# and may build an index: seconds to tens of minutes.
_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)


def register_optimizer_metrics(
    registry: CollectorRegistry, optimizer: PerformanceOptimizer
) -> None:
    duration = Histogram(
        "performance_optimization_duration_seconds",
        "Duration of one Performance Optimizer run (analysis and actions).",
        buckets=_BUCKETS,
        registry=registry,
    )
    actions = Counter(
        "perfpilot_optimization_actions",
        "Optimizer actions by type (cpu, memory, database, cache, api) and status.",
        ["type", "status"],
        registry=registry,
    )
    # Every (type, status) starts at 0, so increase() sees the first applied or failed action.
    for kind in OptimizationType:
        for status in ActionStatus:
            actions.labels(kind.value, status.value)

    def observe(kind: str, status: str, duration_s: float | None) -> None:
        if duration_s is not None:
            duration.observe(duration_s)
        else:
            actions.labels(kind, status).inc()

    optimizer.add_observer(observe)
