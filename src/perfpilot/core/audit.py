"""The audit trail every applied (or refused) change is written to (DESIGN.md, Safety)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class Outcome(StrEnum):
    APPLIED = "applied"
    PLANNED = "planned"
    SKIPPED = "skipped"
    FAILED = "failed"
    REVERTED = "reverted"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One change: what, why, the exact statement, who asked, and what happened."""

    at: datetime
    component: str
    action: str
    target: str
    statement: str
    reason: str
    trigger: str
    risk: str
    outcome: Outcome
    detail: str = ""
    before: dict[str, float | str | None] = field(default_factory=dict)
    after: dict[str, float | str | None] = field(default_factory=dict)


class AuditLog(Protocol):
    def record(self, entry: AuditEntry) -> None:
        """Append one entry; never updates or deletes earlier ones."""
        ...

    def entries(
        self, since: datetime | None = None, component: str | None = None, limit: int = 100
    ) -> list[AuditEntry]:
        """Newest first."""
        ...
