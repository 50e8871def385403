"""The record of indexes perfpilot built, so each is judged once and a failure is not retried."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from perfpilot.database.impact import IndexVerdict


@dataclass(frozen=True, slots=True)
class BuiltIndex:
    """An index perfpilot built; ``definition`` is the normalized key list it covers."""

    schema: str
    name: str
    table: str
    definition: str
    created_at: datetime
    fingerprints: tuple[str, ...]
    before_mean_ms: float | None
    verdict: IndexVerdict | None = None
    judged_at: datetime | None = None
    detail: str | None = None


class IndexLedger(Protocol):
    def record_built(self, index: BuiltIndex) -> None:
        """Insert or replace the entry for (schema, name)."""
        ...

    def built(self) -> list[BuiltIndex]:
        """Every entry, oldest first."""
        ...

    def set_verdict(
        self, schema: str, name: str, verdict: IndexVerdict, at: datetime, detail: str
    ) -> None: ...
