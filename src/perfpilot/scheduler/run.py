"""Run records: one per fire time (or request) that the scheduler ran, skipped or missed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    # Not run: another replica holds the task, or its previous run is still going.
    SKIPPED = "skipped"
    # Not run: the fire time passed more than the grace time before the scheduler saw it.
    MISSED = "missed"


FINAL_STATUSES = frozenset(RunStatus) - {RunStatus.RUNNING}


class RunTrigger(StrEnum):
    CRON = "cron"
    MANUAL = "manual"


@dataclass(frozen=True, slots=True)
class TaskRun:
    """One run of a task.

    ``scheduled_for`` is the cron fire time (the request time for manual runs); ``started_at``
    is when the first attempt began (None for skipped and missed runs); ``attempts`` counts the
    attempts made; ``summary`` is the task's own one-line report; ``runner`` names the replica.
    """

    id: str
    task_id: str
    trigger: RunTrigger
    scheduled_for: datetime
    status: RunStatus
    runner: str
    started_at: datetime | None = None
    finished_at: datetime | None = None
    attempts: int = 0
    error: str | None = None
    summary: str | None = None

    @property
    def duration_s(self) -> float | None:
        """Seconds from start to finish; None while running or when it never started."""
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def lateness_s(self) -> float | None:
        """Seconds between the fire time and the start; None when it never started."""
        if self.started_at is None:
            return None
        return (self.started_at - self.scheduled_for).total_seconds()
