"""``decide``: one service's instance count as a pure function of inputs, policy and time.

The stages follow the Kubernetes HPA controller
(https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/):
1. per-metric proposals with the tolerance; the highest wins; a missing or stale metric
   never lets the count go down;
2. the predictive layer may raise (never lower) the recommendation ahead of a forecast rise
   within the start-up time, and holds a scale-in above the count the forecast needs within
   the scale-down window (so scale-in after a forecast peak follows the forecast decline);
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
    DemandForecast,
    Direction,
    MetricProposal,
    ScalingDecision,
    ScalingInputs,
)
from perfpilot.scaling.proposals import metric_targets, propose
from perfpilot.scaling.schedule import Bounds, schedule_bounds
from perfpilot.scaling.stages import (
    Stage,
    cooldown_hold,
    stabilize,
    step_limit,
    wait_for_full_scale_in,
)
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
    from_metrics = stage.value
    stage = _with_forecast(stage, inputs, policy, current)
    forecast_used = stage.value != from_metrics
    bounds = schedule_bounds(policy.rules, now)
    stage = _with_schedule(stage, bounds)
    recommended = stage.value
    confirmed = _forecast_confirms_scale_in(stage, inputs.forecast, policy, current)
    if confirmed is not None:
        stabilized = stage.noted(confirmed)
    else:
        stabilized = stabilize(stage, inputs.recommendations, current, policy, now)
    stage = wait_for_full_scale_in(stage, stabilized, inputs.recommendations, current, policy, now)
    stage = step_limit(stage, current, policy, bounds.floor)
    stage = cooldown_hold(stage, inputs, current, policy, now)
    stage = _clamped(stage, policy)
    return _decision(
        inputs, policy, now, proposals, bounds, recommended, stage, forecast_used=forecast_used
    )


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
    """Raise ahead of a forecast rise; hold a scale-in the forecast says would not last."""
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
    stage = _forecast_hold(stage, forecast, policy, target, current)
    return _forecast_raise(stage, forecast, policy, target, current)


def _covering(demand: float, target: float, policy: ServiceConfig) -> int:
    """Fewest instances that carry ``demand`` within the HPA's tolerance band."""
    return math.ceil(round(demand / (target * (1 + policy.tolerance)), 9))


def _forecast_confirms_scale_in(
    stage: Stage, forecast: DemandForecast | None, policy: ServiceConfig, current: int
) -> str | None:
    """Why the scale-down stabilization window can be skipped, or None when it cannot.

    The window guards a scale-in against a rebound nobody can see coming
    (https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#stabilization-window).
    Past a forecast peak, when a confident forecast says the demand over that same window
    stays within what the smaller count carries, scale-in follows the forecast decline
    instead of lagging it by the window; cooldowns and the flap guard still apply.
    """
    if not policy.predictive or forecast is None or forecast.hold_demand is None:
        return None
    # Only past a forecast peak: while the forecast is flat or rising, noise around the
    # tolerance band would turn each skipped window into a reversal.
    if forecast.demand_now is None or forecast.hold_demand > forecast.demand_now:
        return None
    if stage.value >= current or forecast.confidence < policy.predictive_min_confidence:
        return None
    target = dict(metric_targets(policy)).get(forecast.metric)
    if target is None or _covering(forecast.hold_demand, target, policy) > stage.value:
        return None
    return (
        f"forecast: {forecast.metric} demand {forecast.hold_demand:.3g} within"
        f" {forecast.hold_horizon_s:.0f}s fits {stage.value}: no stabilization wait"
    )


def _forecast_hold(
    stage: Stage, forecast: DemandForecast, policy: ServiceConfig, target: float, current: int
) -> Stage:
    """Never scale in below the count the forecast needs within the scale-down window.

    "Needs" uses the HPA's tolerance band: ``n`` instances cover demand ``d`` while
    ``d / (n x target) <= 1 + tolerance``, the same test that would otherwise order the
    scale-out straight back (a reversal, and an instance-start paid for nothing)."""
    if stage.value >= current or forecast.hold_demand is None:
        return stage
    covering = _covering(forecast.hold_demand, target, policy)
    if covering <= stage.value:
        return stage
    held = min(current, covering)
    note = (
        f"forecast holds scale-in at {held}: {forecast.metric} demand"
        f" {forecast.hold_demand:.3g} within {forecast.hold_horizon_s:.0f}s needs {covering}"
    )
    return stage.moved(held, note)


def _forecast_raise(
    stage: Stage, forecast: DemandForecast, policy: ServiceConfig, target: float, current: int
) -> Stage:
    """The HPA's rule applied to the forecast peak within the start-up time: outside the
    tolerance, provision ``ceil(demand / target)`` now so the instances are ready in time."""
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
    *,
    forecast_used: bool,
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
        # The forecast is evidence whenever it raised the count or held a scale-in.
        forecast=inputs.forecast if forecast_used else None,
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
