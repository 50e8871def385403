"""The confidence of a scaling decision, in [0, 1].

    confidence = sufficiency x agreement x (0.5 + 0.5 x margin) x forecast_quality

- sufficiency: share of the service's metric rules with a fresh reading;
- agreement: mean over the readable metrics of 1 (proposes the decision's direction),
  0.75 (within tolerance) or 0.5 (proposes the opposite direction);
- margin: how far the deciding metric's ratio is beyond the tolerance, reaching 1 at twice
  the tolerance: ``(|ratio - 1| - tolerance) / tolerance`` clipped to [0, 1];
- forecast_quality: the forecast's own confidence (holdout skill) when the forecast decided,
  else 1. A forecast-driven scale-out has agreement 1: today's metrics cannot yet show the
  rise it anticipates.

A product, so one weak factor is enough to hold a decision back. Changes that come from the
user's own bounds or schedule windows are not inferences: they have confidence 1.
"""

from __future__ import annotations

from collections.abc import Sequence

from perfpilot.scaling.model import Direction, MetricProposal

_NEUTRAL = 0.75
_OPPOSED = 0.5
# Tolerance 0 would make the margin a division by zero; treat it as this.
_MIN_TOLERANCE = 0.05


def sufficiency(proposals: Sequence[MetricProposal]) -> float:
    """Share of metric rules that could be read."""
    if not proposals:
        return 0.0
    return sum(p.proposal is not None for p in proposals) / len(proposals)


def agreement(proposals: Sequence[MetricProposal], current: int, direction: Direction) -> float:
    """How far the readable metrics back ``direction`` (1 all agree, 0.5 all oppose)."""
    scores = []
    for p in proposals:
        if p.proposal is None:
            continue
        own = _direction(p.proposal, current)
        if own is direction:
            scores.append(1.0)
        elif own is Direction.HOLD:
            scores.append(_NEUTRAL)
        else:
            scores.append(_OPPOSED)
    return sum(scores) / len(scores) if scores else 0.0


def margin(ratio: float | None, tolerance: float) -> float:
    """0 at the tolerance's edge, 1 at twice the tolerance or beyond."""
    if ratio is None:
        return 0.0
    tol = max(tolerance, _MIN_TOLERANCE)
    return min(1.0, max(0.0, (abs(ratio - 1.0) - tolerance) / tol))


def metric_confidence(
    proposals: Sequence[MetricProposal],
    current: int,
    direction: Direction,
    deciding_ratio: float | None,
    tolerance: float,
    forecast_quality: float | None = None,
) -> float:
    """The documented product; ``forecast_quality`` is given when the forecast decided."""
    if forecast_quality is None:
        backing, quality = agreement(proposals, current, direction), 1.0
    else:
        backing, quality = 1.0, forecast_quality
    value = (
        sufficiency(proposals) * backing * (0.5 + 0.5 * margin(deciding_ratio, tolerance)) * quality
    )
    return round(min(1.0, max(0.0, value)), 4)


def _direction(proposal: int, current: int) -> Direction:
    if proposal > current:
        return Direction.UP
    if proposal < current:
        return Direction.DOWN
    return Direction.HOLD
