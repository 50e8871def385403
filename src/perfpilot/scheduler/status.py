"""What the scheduler reports: each task's state for the API and its health for /status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from perfpilot.core.clock import Clock
from perfpilot.core.health import ComponentHealth, HealthState
from perfpilot.scheduler.engine import Scheduler
from perfpilot.scheduler.task import ScheduledTask

NAME = "scheduler"
DISABLED_REASON = (
    "PERFORMANCE_SCHEDULER_ENABLED=false: no cron runs; runs requested through the API still work"
)


@dataclass(frozen=True, slots=True)
class TaskView:
    """A task as listed: ``unavailable`` says why it cannot run (its component is missing),
    ``next_run_at`` is None when it will not fire on cron."""

    task: ScheduledTask
    unavailable: str | None
    next_run_at: datetime | None
    active_run_id: str | None
    active_state: str | None
    waiting: str | None


def task_views(scheduler: Scheduler, now: datetime) -> list[TaskView]:
    """Every task in configuration order."""
    return [task_view(scheduler, task, now) for task in scheduler.tasks()]


def task_view(scheduler: Scheduler, task: ScheduledTask, now: datetime) -> TaskView:
    entry = scheduler.in_flight(task.id)
    state = None if entry is None else ("running" if entry.started else "queued")
    return TaskView(
        task=task,
        unavailable=scheduler.registry.unavailable_reason(task.function_name),
        next_run_at=scheduler.next_run(task, now),
        active_run_id=None if entry is None else entry.run.id,
        active_state=state,
        waiting=None if entry is None else entry.waiting,
    )


def task_line(view: TaskView) -> str:
    """One-word state plus detail, e.g. ``enabled, next 2026-03-29T01:00:00+00:00`` or
    ``queued, waiting: cluster-wide concurrency limit of 3 runs reached``."""
    if view.unavailable is not None:
        return f"disabled: {view.unavailable}"
    if not view.task.enabled:
        return "disabled"
    if view.active_state is not None:
        if view.waiting is not None:
            return f"{view.active_state}, waiting: {view.waiting}"
        return view.active_state
    if view.next_run_at is None:
        return "enabled, manual runs only"
    return f"enabled, next {view.next_run_at.isoformat()}"


class SchedulerHealth:
    """The scheduler as a health source; one ``task.<id>`` detail per task lists it on /status."""

    def __init__(self, scheduler: Scheduler, clock: Clock) -> None:
        self._scheduler = scheduler
        self._clock = clock

    def health(self) -> ComponentHealth:
        now = self._clock.now()
        views = task_views(self._scheduler, now)
        details: dict[str, str | int | float | bool | None] = {
            "tasks": len(views),
            "runnable": sum(1 for v in views if v.unavailable is None and v.task.enabled),
            "active_runs": sum(1 for v in views if v.active_state is not None),
            "max_concurrent_runs": self._scheduler.config.max_concurrent,
        }
        for view in views:
            details[f"task.{view.task.id}"] = task_line(view)
        if not self._scheduler.config.cron_enabled:
            return ComponentHealth(NAME, HealthState.DISABLED, DISABLED_REASON, now, details)
        error = self._scheduler.last_error
        if error is not None:
            reason = f"last scheduling cycle failed: {error}"
            return ComponentHealth(NAME, HealthState.DEGRADED, reason, now, details)
        return ComponentHealth(NAME, HealthState.OK, None, now, details)
