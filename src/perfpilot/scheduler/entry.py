"""One run in flight inside the engine: its record so far, lease, attempt and timers."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, replace
from datetime import datetime

from perfpilot.core.errors import TransientError
from perfpilot.scheduler.ports import Lease
from perfpilot.scheduler.run import RunStatus, RunTrigger, TaskRun
from perfpilot.scheduler.task import ScheduledTask


@dataclass(slots=True)
class Entry:
    """Mutable, engine-private state of a queued or started run.

    ``deadline``, ``retry_at`` and ``lease_check_at`` are clock-monotonic seconds, so a
    wall-clock step neither cancels an attempt early nor starts a retry late. ``lease`` is None
    before the start and after a lost lock was let go (a retry then acquires it again).
    """

    task: ScheduledTask
    run: TaskRun
    queued_at: float
    lease: Lease | None = None
    attempt: asyncio.Task[str] | None = None
    deadline: float | None = None
    retry_at: float | None = None
    lease_check_at: float | None = None
    waiting: str | None = None

    @classmethod
    def queued(
        cls,
        task: ScheduledTask,
        trigger: RunTrigger,
        scheduled_for: datetime,
        runner: str,
        queued_at: float,
    ) -> Entry:
        run = TaskRun(
            id=new_run_id(),
            task_id=task.id,
            trigger=trigger,
            scheduled_for=scheduled_for,
            status=RunStatus.RUNNING,
            runner=runner,
        )
        return cls(task=task, run=run, queued_at=queued_at)

    @property
    def started(self) -> bool:
        return self.run.started_at is not None

    def finished(self, status: RunStatus, now: datetime, error: str | None = None) -> TaskRun:
        """The final record; the summary of the last attempt is kept."""
        self.run = replace(self.run, status=status, finished_at=now, error=error)
        return self.run


def new_run_id() -> str:
    return uuid.uuid4().hex[:16]


def lock_key(task_id: str) -> str:
    """The run lock's key: per task, so one instance of a task runs across all replicas."""
    return f"perfpilot:task:{task_id}"


def describe_error(exc: BaseException) -> str:
    """``Type: message`` for the run record."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def retryable(exc: BaseException, attempts: int, task: ScheduledTask) -> bool:
    """Whether a failed attempt (``attempts`` made so far) gets another one."""
    return isinstance(exc, TransientError) and attempts_left(attempts, task)


def attempts_left(attempts: int, task: ScheduledTask) -> bool:
    """Whether the task's retries allow another attempt after ``attempts`` made so far."""
    return attempts <= task.retry_count
