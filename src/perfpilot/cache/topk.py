"""Space-Saving top-K with exponential decay: the client library's hot-key signal.

Counts are kept for up to ``2 * capacity`` keys; when the table fills, the ``capacity`` heaviest
survive and every key admitted later starts at the largest evicted count (Space-Saving's
over-estimate, so a returning heavy key is never under-counted). Eviction in batches keeps the
cost per access O(1) amortized instead of Space-Saving's per-access minimum search.
Client-safe: standard library only.
"""

from __future__ import annotations

import heapq


class DecayingTopK:
    def __init__(self, capacity: int = 1000, half_life_s: float = 300.0) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.half_life_s = half_life_s
        self._counts: dict[bytes, float] = {}
        self._floor = 0.0

    def observe(self, key: bytes, weight: float = 1.0) -> float:
        """Count one access of ``key``; its (over-)estimated decayed count after it."""
        counts = self._counts
        current = counts.get(key)
        if current is not None:
            counts[key] = current = current + weight
            return current
        counts[key] = current = self._floor + weight
        if len(counts) > 2 * self.capacity:
            self._evict()
        return current

    def _evict(self) -> None:
        keep = heapq.nlargest(self.capacity + 1, self._counts.items(), key=lambda kv: kv[1])
        self._floor = max(self._floor, keep[-1][1])
        self._counts = dict(keep[:-1])

    def decay(self, elapsed_s: float) -> None:
        """Age every count by ``elapsed_s``: recent accesses weigh more than old ones."""
        if elapsed_s <= 0 or self.half_life_s <= 0:
            return
        factor = 0.5 ** (elapsed_s / self.half_life_s)
        self._counts = {k: v * factor for k, v in self._counts.items()}
        self._floor *= factor

    def count(self, key: bytes) -> float:
        """The (over-)estimated decayed count; 0 for a key not tracked."""
        return self._counts.get(key, 0.0)

    def top(self, n: int) -> list[tuple[bytes, float]]:
        """The ``n`` heaviest keys, heaviest first."""
        return heapq.nlargest(n, self._counts.items(), key=lambda kv: kv[1])

    def __len__(self) -> int:
        return len(self._counts)
