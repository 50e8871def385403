"""Adaptive TTL: steer a managed namespace's TTL toward a target hit ratio, within bounds (pure).

Raising the TTL keeps values longer, so more reads find them; lowering it frees memory when the
namespace is already above target. Steps are multiplicative (x2 up, /sqrt 2 down: cautious on
the way down, where the hit ratio is paid) and never cross the bounds. No step is taken on
fewer than ``min_lookups`` reads, or upward while Redis is evicting: a longer TTL would only
push other keys out. First TTLs (a key's first set after a miss) are a quarter of the TTL,
hot keys' four times it, both bounded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from perfpilot.cache.ttlpolicy import TtlPolicy


@dataclass(frozen=True, slots=True)
class TtlBounds:
    min_ms: int
    max_ms: int
    default_ms: int

    def clamp(self, ms: float) -> int:
        return int(min(self.max_ms, max(self.min_ms, ms)))


@dataclass(frozen=True, slots=True)
class TtlEvidence:
    """Inputs of one decision; ``hit_ratio`` is the client-measured ratio over the window."""

    namespace: bytes
    hit_ratio: float | None
    lookups: int
    current: TtlPolicy | None
    evicting: bool
    target: float


@dataclass(frozen=True, slots=True)
class TtlDecision:
    namespace: bytes
    change: str  # "raise", "lower" or "hold"
    before: TtlPolicy | None
    after: TtlPolicy
    reason: str
    evidence: TtlEvidence

    @property
    def changed(self) -> bool:
        return self.change != "hold"


def policy_for(ttl_ms: int, bounds: TtlBounds) -> TtlPolicy:
    return TtlPolicy(ttl_ms, bounds.clamp(ttl_ms / 4), bounds.clamp(ttl_ms * 4))


def decide_ttl(
    e: TtlEvidence,
    bounds: TtlBounds,
    tolerance: float = 0.02,
    min_lookups: int = 100,
    step: float = 2.0,
) -> TtlDecision:
    """The namespace's next TTL policy and why."""
    current = e.current or policy_for(bounds.clamp(bounds.default_ms), bounds)

    def hold(reason: str) -> TtlDecision:
        return TtlDecision(e.namespace, "hold", e.current, current, reason, e)

    if e.hit_ratio is None or e.lookups < min_lookups:
        return hold(f"{e.lookups} client reads in the window; {min_lookups} needed to steer")
    gap = e.target - e.hit_ratio
    if abs(gap) <= tolerance:
        return hold(f"hit ratio {e.hit_ratio:.1%} is within {tolerance:.0%} of {e.target:.0%}")
    if gap > 0:
        if e.evicting:
            return hold(f"hit ratio {e.hit_ratio:.1%} below target, but Redis is evicting")
        ttl = bounds.clamp(current.ttl_ms * step)
        change = "raise"
    else:
        ttl = bounds.clamp(current.ttl_ms / math.sqrt(step))
        change = "lower"
    after = policy_for(ttl, bounds)
    if after == current:
        return hold(f"hit ratio {e.hit_ratio:.1%}, but the TTL is at its bound ({ttl} ms)")
    reason = (
        f"hit ratio {e.hit_ratio:.1%} over {e.lookups} reads vs target {e.target:.0%}: "
        f"TTL {current.ttl_ms} -> {ttl} ms"
    )
    return TtlDecision(e.namespace, change, e.current, after, reason, e)
