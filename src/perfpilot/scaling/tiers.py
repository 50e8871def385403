"""What a service's tier changes: the confidence needed to act and who gets capacity first."""

from __future__ import annotations

from perfpilot.core.scaling_config import Tier

# Confidence a decision needs before it is executed; below it, it is only recommended. A
# critical service (the reservation API) is worse off short of capacity than a batch worker
# is with one instance too many, so it acts on less certain evidence.
REQUIRED_CONFIDENCE: dict[Tier, float] = {
    Tier.CRITICAL: 0.5,
    Tier.HIGH: 0.6,
    Tier.MEDIUM: 0.7,
    Tier.LOW: 0.8,
}

# Lower number = served first when a shared capacity limit cannot grant every scale-up.
PRIORITY: dict[Tier, int] = {Tier.CRITICAL: 0, Tier.HIGH: 1, Tier.MEDIUM: 2, Tier.LOW: 3}


def required_confidence(tier: Tier) -> float:
    """The confidence a decision of a service in ``tier`` needs to be executed."""
    return REQUIRED_CONFIDENCE[tier]
