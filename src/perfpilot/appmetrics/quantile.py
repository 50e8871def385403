"""``histogram_quantile`` as Prometheus computes it, over bucket counts of one window.

https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile: the rank
``q x total`` is located in its bucket and linearly interpolated between the bucket's bounds
(the first bucket starts at 0 when its upper bound is positive); a rank in the ``+Inf`` bucket
returns the highest finite bound.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def histogram_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float | None:
    """The ``q`` quantile from cumulative ``(upper_bound, count)`` pairs; None without data."""
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile must be within [0, 1], got {q}")
    ordered = sorted(buckets)
    if len(ordered) < 2 or not math.isinf(ordered[-1][0]):
        return None
    total = ordered[-1][1]
    if total <= 0:
        return None
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for index, (upper, count) in enumerate(ordered):
        if count >= rank:
            if math.isinf(upper):
                return ordered[-2][0]
            if index == 0 and upper <= 0:
                return upper
            start = lower_bound if index > 0 else 0.0
            width = count - lower_count
            if width <= 0:
                return upper
            return start + (upper - start) * (rank - lower_count) / width
        lower_bound, lower_count = upper, count
    return ordered[-2][0]
