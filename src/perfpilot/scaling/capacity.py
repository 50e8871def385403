"""Shared capacity: when every scale-up cannot be granted, the higher tier is served first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from perfpilot.core.scaling_config import Tier
from perfpilot.scaling.model import Direction, ScalingDecision
from perfpilot.scaling.tiers import PRIORITY


def allocate(
    decisions: Sequence[tuple[ScalingDecision, Tier]], capacity: int | None, current_total: int
) -> list[ScalingDecision]:
    """The decisions with scale-ups cut to fit ``capacity`` instances in total.

    Scale-ups are served by tier (critical first), then by confidence. Instances freed by
    scale-downs are not counted as available: they may not be executed (recommend-only).
    A cut decision keeps at least its current count and says why.
    """
    if capacity is None:
        return [decision for decision, _ in decisions]
    available = max(0, capacity - current_total)
    order = sorted(
        range(len(decisions)),
        key=lambda i: (PRIORITY[decisions[i][1]], -decisions[i][0].confidence),
    )
    granted: dict[int, ScalingDecision] = {}
    for i in order:
        decision, tier = decisions[i]
        if decision.direction is not Direction.UP:
            granted[i] = decision
            continue
        wanted = decision.desired - decision.current
        given = min(wanted, available)
        available -= given
        if given == wanted:
            granted[i] = decision
            continue
        desired = decision.current + given
        note = (
            f"; capacity: {given} of {wanted} more instances granted"
            f" ({capacity} shared, tier {tier.value})"
        )
        granted[i] = replace(
            decision,
            desired=desired,
            direction=Direction.UP if given else Direction.HOLD,
            actionable=decision.actionable and given > 0,
            reason=decision.reason + note,
        )
    return [granted[i] for i in range(len(decisions))]
