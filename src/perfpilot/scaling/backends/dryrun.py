"""``dry-run``: a count kept in memory, for trying rules without touching anything."""

from __future__ import annotations

import threading

from perfpilot.scaling.backends.base import Observed


class DryRunBackend:
    """Starts at ``initial`` and follows every order; nothing outside perfpilot changes."""

    kind = "dry-run"

    def __init__(self, initial: int) -> None:
        self._count = initial
        self._lock = threading.Lock()

    def observe(self) -> Observed:
        with self._lock:
            return Observed(self._count, ready=self._count, detail="dry-run: simulated count")

    def scale(self, desired: int) -> Observed:
        with self._lock:
            self._count = desired
        return self.observe()
