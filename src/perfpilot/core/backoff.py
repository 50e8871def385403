"""Exponential backoff with full jitter (AWS architecture blog's "full jitter" variant)."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delays for retrying an operation: base * 2**attempt, capped, optionally jittered."""

    base_s: float = 1.0
    cap_s: float = 60.0
    jitter: bool = True

    def ceiling(self, attempt: int) -> float:
        """Upper bound of the delay before retry number ``attempt`` (0-based)."""
        return float(min(self.cap_s, self.base_s * 2.0 ** min(attempt, 32)))

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait; full jitter spreads replicas that failed together."""
        ceiling = self.ceiling(attempt)
        if not self.jitter:
            return ceiling
        # Jitter only spreads retries; it is never reported as a measurement.
        return (rng or random).uniform(0, ceiling)
