"""The keyspace lookups perfpilot itself makes, and the INFO window with them subtracted.

Redis counts every TYPE, PTTL, GET, HGETALL or XRANGE of the sweep, the signal reads and the
actions as keyspace hits or misses, like any client's. Before 7.2 there is no CLIENT NO-TOUCH
to keep them out, so every such lookup is counted here and subtracted from INFO's deltas:
the hit ratio the report shows is the application's, not inflated by the sweep.
"""

from __future__ import annotations

from perfpilot.cache.server_info import InfoDelta, ServerSnapshot, delta


class OwnLookups:
    def __init__(self) -> None:
        self.hits = 0
        self.misses = 0
        self._previous: ServerSnapshot | None = None
        self._at_previous = (0, 0)

    def count(self, hits: int, misses: int) -> None:
        """Add lookups perfpilot made."""
        self.hits += hits
        self.misses += misses

    def mark(self) -> tuple[int, int]:
        """The running totals, to pass to ``window`` as where this report began."""
        return self.hits, self.misses

    def window(
        self, before: ServerSnapshot, after: ServerSnapshot, own_before: tuple[int, int]
    ) -> InfoDelta | None:
        """INFO counters since the previous window (or over this report's own sweep, the first
        time) with every lookup perfpilot made in between subtracted."""
        start, base = (before, own_before) if self._previous is None else (
            self._previous, self._at_previous
        )  # fmt: skip
        own_hits, own_misses = self.hits - base[0], self.misses - base[1]
        self._previous, self._at_previous = after, (self.hits, self.misses)
        return delta(start, after, own_hits, own_misses)
