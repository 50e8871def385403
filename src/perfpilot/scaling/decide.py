"""``decide``: one service's instance count as a pure function of inputs, policy and time.

The stages follow the Kubernetes HPA controller
(https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/):
1. per-metric proposals with the tolerance; the highest wins; a missing or stale metric
   never lets the count go down;
2. the predictive layer may raise (never lower) the recommendation ahead of a forecast rise;
3. open schedule windows raise the floor / lower the ceiling;
4. stabilization: the highest recommendation of the scale-down window and the lowest of the
   scale-up window bound the change;
5. step policies limit how far one action goes (schedule floors are exempt);
6. cooldowns per direction; 7. clamp to [min_instances, max_instances], always.
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta

from perfpilot.core.scaling_config import ServiceConfig
from perfpilot.scaling.confidence import metric_confidence, sufficiency
from perfpilot.scaling.model import (
    DecisionSource,
    Direction,
    MetricProposal,
    ScalingDecision,
    ScalingInputs,
)
from perfpilot.scaling.proposals import metric_targets, propose
from perfpilot.scaling.schedule import Bounds, schedule_bounds
from perfpilot.scaling.stages import Stage, cooldown_hold, stabilize, step_limit
from perfpilot.scaling.tiers import required_confidence


def decision_id(service: str, at: datetime) -> str:
    """Stable id of the decision for ``service`` at ``at`` (16 hex chars)."""
    return hashlib.sha256(f"{service}|{at.isoformat()}".encode()).hexdigest()[:16]


def decide(inputs: ScalingInputs, policy: ServiceConfig, now: datetime) -> ScalingDecision:
    """The decision for one service at ``now``; ``recommended`` feeds later stabilization."""
    current = inputs.current
    readings = {r.name: r for r in inputs.readings}
    proposals = tuple(
        propose(metric, target, readings.get(metric), current, policy, now, inputs.ready)
        for metric, target in metric_targets(policy)
    )
    stage = _from_metrics(proposals, current)
    stage = _with_forecast(stage, inputs, policy, current)
    bounds = schedule_bounds(policy.rules, now)
    stage = _with_schedule(stage, bounds)
    recommended = stage.value
    stage = stabilize(stage, inputs.recommendations, current, policy, now)
    stage = step_limit(stage, current, policy, bounds.floor)
    stage = cooldown_hold(stage, inputs, current, policy, now)
    stage = _clamped(stage, policy)
    return _decision(inputs, policy, now, proposals, bounds, recommended, stage)


def _from_metrics(proposals: tuple[MetricProposal, ...], current: int) -> Stage:
    readable = [p for p in proposals if p.proposal is not None]
    if not readable:
        note = "no metric readable: holding" if proposals else "no metric rules"
        return Stage(current, DecisionSource.NONE, None, (note,))
    best = max(readable, key=lambda p: (p.proposal or 0, p.ratio or 0.0))
    value = best.proposal or 0
    steps = [f"metrics: highest proposal {value} from {best.metric}"]
    missing = [p.metric for p in proposals if p.proposal is None]
    if missing and value < current:
        steps.append(f"missing {', '.join(missing)}: no scale-in, holding {current}")
        value = current
    return Stage(value, DecisionSource.METRICS, best.ratio, tuple(steps))


def _with_forecast(
    stage: Stage, inputs: ScalingInputs, policy: ServiceConfig, current: int
) -> Stage:
    forecast = inputs.forecast
    if not policy.predictive:
        return stage
    if forecast is None:
        why = inputs.forecast_reason or "no forecast"
        return stage.noted(f"forecast: {why}")
    if forecast.confidence < policy.predictive_min_confidence:
        return stage.noted(
            f"forecast ignored: confidence {forecast.confidence:.2f}"
            f" < {policy.predictive_min_confidence:g}"
        )
    target = dict(metric_targets(policy)).get(forecast.metric)
    if target is None or current <= 0:
        return stage.noted(f"forecast of {forecast.metric}: no such target")
    ratio = forecast.peak_demand / (current * target)
    if ratio <= 1.0 + policy.tolerance:
        return stage.noted(f"forecast: peak {forecast.peak_demand:.3g} needs no more instances")
    needed = math.ceil(round(forecast.peak_demand / target, 9))
    if needed <= stage.value:
        return stage.noted(f"forecast: {needed} needed, already recommending {stage.value}")
    note = (
        f"forecast: {forecast.metric} demand {forecast.peak_demand:.3g} within"
        f" {forecast.horizon_s:.0f}s -> {needed}"
    )
    return Stage(needed, DecisionSource.FORECAST, ratio, (*stage.steps, note))


def _with_schedule(stage: Stage, bounds: Bounds) -> Stage:
    value, source, steps = stage.value, stage.source, list(stage.steps)
    if bounds.ceiling is not None and value > bounds.ceiling:
        value, source = bounds.ceiling, DecisionSource.SCHEDULE
        steps.append(f"schedule ceiling {bounds.ceiling} ({', '.join(bounds.open_windows)})")
    if bounds.floor is not None and value < bounds.floor:
        value, source = bounds.floor, DecisionSource.SCHEDULE
        steps.append(f"schedule floor {bounds.floor} ({', '.join(bounds.open_windows)})")
    return Stage(value, source, stage.ratio, tuple(steps))


def _clamped(stage: Stage, policy: ServiceConfig) -> Stage:
    low, high = policy.min_instances, policy.max_instances
    value = min(high, max(low, stage.value))
    if value == stage.value:
        return stage
    note = f"clamped to [{low}, {high}]: {value}"
    return Stage(value, DecisionSource.BOUNDS, stage.ratio, (*stage.steps, note))


def _decision(
    inputs: ScalingInputs,
    policy: ServiceConfig,
    now: datetime,
    proposals: tuple[MetricProposal, ...],
    bounds: Bounds,
    recommended: int,
    stage: Stage,
) -> ScalingDecision:
    current, desired = inputs.current, stage.value
    direction = (
        Direction.UP
        if desired > current
        else Direction.DOWN
        if desired < current
        else Direction.HOLD
    )
    source = stage.source if direction is not Direction.HOLD else DecisionSource.NONE
    if source in (DecisionSource.SCHEDULE, DecisionSource.BOUNDS):
        confidence = 1.0
    elif direction is Direction.HOLD:
        confidence = round(sufficiency(proposals), 4) if proposals else 1.0
    else:
        forecast = inputs.forecast
        quality = forecast.confidence if forecast and source is DecisionSource.FORECAST else None
        confidence = metric_confidence(
            proposals, current, direction, stage.ratio, policy.tolerance, quality
        )
    needed = required_confidence(policy.tier)
    actionable = direction is not Direction.HOLD and confidence >= needed
    return ScalingDecision(
        id=decision_id(inputs.service, now),
        service=inputs.service,
        at=now,
        current=current,
        desired=desired,
        recommended=recommended,
        direction=direction,
        source=source,
        confidence=confidence,
        required_confidence=needed,
        actionable=actionable,
        reason=_reason(direction, current, desired, confidence, needed, stage),
        proposals=proposals,
        schedules=bounds.open_windows,
        forecast=inputs.forecast if source is DecisionSource.FORECAST else None,
        steps=stage.steps,
    )


def _reason(
    direction: Direction, current: int, desired: int, confidence: float, needed: float, stage: Stage
) -> str:
    last = stage.steps[-1] if stage.steps else "no change"
    if direction is Direction.HOLD:
        return f"hold at {current}: {last}"
    verb = "scale up" if direction is Direction.UP else "scale down"
    gate = (
        ""
        if confidence >= needed
        else f"; recommend only (confidence {confidence:.2f} < {needed:g})"
    )
    return f"{verb} {current} -> {desired}: {last}{gate}"


def cooldown_remaining_s(last_at: datetime | None, cooldown_s: float, now: datetime) -> float:
    """Seconds until a direction's cooldown ends (0 when it has)."""
    if last_at is None:
        return 0.0
    return max(0.0, cooldown_s - (now - last_at) / timedelta(seconds=1))
