"""Per-metric proposals: the Kubernetes HPA's ratio rule.

    desired = ceil(current x value / target), unchanged while |value / target - 1| <= tolerance

(https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#algorithm-details).
Values are per-instance averages, as the HPA's utilization is.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from perfpilot.core.scaling_config import ServiceConfig
from perfpilot.scaling.model import MetricProposal, MetricReading

# Response time is not proportional to the instance count below saturation: a fast service
# with 10 instances is not slow with 2. Latency therefore only ever asks for more instances.
UP_ONLY = frozenset({"latency_p95"})


def metric_targets(policy: ServiceConfig) -> list[tuple[str, float]]:
    """(metric, target) of every enabled metric rule, the fixed cpu/memory targets first."""
    targets: list[tuple[str, float]] = []
    if policy.target_cpu_percent is not None:
        targets.append(("cpu", policy.target_cpu_percent))
    if policy.target_memory_percent is not None:
        targets.append(("memory", policy.target_memory_percent))
    for rule in policy.rules:
        if not rule.is_schedule and rule.enabled and rule.target is not None:
            targets.append((rule.name, rule.target))
    return targets


def propose(
    metric: str,
    target: float,
    reading: MetricReading | None,
    current: int,
    policy: ServiceConfig,
    now: datetime,
    ready: int | None = None,
) -> MetricProposal:
    """The HPA answer for one metric; ``proposal`` None when the reading is missing or stale.

    With ``ready`` below ``current`` the ratio applies to the serving instances only and the
    starting ones count towards a scale-up, as the HPA treats not-yet-ready pods: a metric
    still high while new instances boot does not order more on top of them.
    """
    if reading is None or reading.value is None or reading.at is None:
        why = reading.reason if reading is not None and reading.reason else "no reading"
        return MetricProposal(metric, None, target, None, None, f"missing: {why}")
    age_s = (now - reading.at) / timedelta(seconds=1)
    if age_s > policy.stale_after_s:
        note = f"stale: measured {age_s:.0f}s ago (limit {policy.stale_after_s:g}s)"
        return MetricProposal(metric, reading.value, target, None, None, note)
    ratio = reading.value / target
    if abs(ratio - 1.0) <= policy.tolerance:
        note = f"{reading.value:.3g} vs target {target:g}: within tolerance {policy.tolerance:g}"
        return MetricProposal(metric, reading.value, target, ratio, current, note)
    if ratio < 1.0 and metric in UP_ONLY:
        note = f"{reading.value:.3g} below target {target:g}: {metric} never scales in"
        return MetricProposal(metric, reading.value, target, ratio, current, note)
    base = current if ready is None else min(ready, current)
    # A float ratio like 1.0000000001 must not add an instance through ceil.
    proposal = math.ceil(round(base * ratio, 9))
    if ratio > 1.0:
        proposal = max(proposal, current)
    note = f"{reading.value:.3g} vs target {target:g}: ratio {ratio:.2f} -> {proposal}"
    return MetricProposal(metric, reading.value, target, ratio, proposal, note)
