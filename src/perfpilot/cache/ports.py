"""What the Cache Optimizer persists, as a protocol the store implements."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class TtlChange:
    """One TTL policy change with the namespace's hit ratio before it and, once judged, after."""

    id: str
    namespace: str
    at: datetime
    before_ttl_ms: int | None
    after_ttl_ms: int
    hit_ratio_before: float | None
    lookups_before: int
    reason: str
    hit_ratio_after: float | None = None
    lookups_after: int | None = None
    judged_at: datetime | None = None


class TtlLedger(Protocol):
    def record_change(self, change: TtlChange) -> None:
        """Append one change."""
        ...

    def unjudged(self) -> list[TtlChange]:
        """Changes without an after figure yet, oldest first."""
        ...

    def set_after(
        self, change_id: str, hit_ratio: float | None, lookups: int, judged_at: datetime
    ) -> None: ...

    def recent(self, limit: int = 50) -> list[TtlChange]:
        """Newest first."""
        ...


class PeakForecast(Protocol):
    def minutes_to_peak(self) -> float | None:
        """Minutes until the next forecast rise of load (0 when it is under way), None when
        no trusted forecast sees one."""
        ...
