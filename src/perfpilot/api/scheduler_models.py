"""Request and response models of the scheduler endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from perfpilot.api.out import Out as _Out
from perfpilot.scheduler.run import RunStatus, RunTrigger, TaskRun
from perfpilot.scheduler.status import TaskView, task_line
from perfpilot.scheduler.trigger import ScheduleError, check_cron, parse_zone


class TaskOut(_Out):
    """A task with the specification's ``ScheduledTask`` fields and its current state."""

    id: str
    name: str
    cron_expression: str
    function_name: str
    enabled: bool
    max_duration_seconds: float
    retry_count: int
    retry_delay_seconds: float
    timezone: str
    deferrable: bool
    heavy_db: bool
    state: str = Field(description="e.g. 'enabled, next …', 'running', 'disabled: <reason>'")
    unavailable_reason: str | None = Field(
        description="Why the task cannot run at all (its component is not installed)"
    )
    next_run_at: datetime | None = Field(description="Next cron fire time (UTC); null if none")
    active_run_id: str | None
    waiting: str | None = Field(description="Why a queued run has not started yet")

    @classmethod
    def of(cls, view: TaskView) -> TaskOut:
        t = view.task
        return cls(
            id=t.id,
            name=t.name,
            cron_expression=t.cron_expression,
            function_name=t.function_name,
            enabled=t.enabled,
            max_duration_seconds=t.max_duration_seconds,
            retry_count=t.retry_count,
            retry_delay_seconds=t.retry_delay_seconds,
            timezone=t.timezone,
            deferrable=t.deferrable,
            heavy_db=t.heavy_db,
            state=task_line(view),
            unavailable_reason=view.unavailable,
            next_run_at=view.next_run_at,
            active_run_id=view.active_run_id,
            waiting=view.waiting,
        )


class TasksOut(_Out):
    cron_enabled: bool = Field(description="PERFORMANCE_SCHEDULER_ENABLED")
    max_concurrent_runs: int
    count: int
    tasks: list[TaskOut]


class RunOut(_Out):
    id: str
    task_id: str
    trigger: RunTrigger
    scheduled_for: datetime
    status: RunStatus
    runner: str
    started_at: datetime | None
    finished_at: datetime | None
    attempts: int
    error: str | None
    summary: str | None
    duration_s: float | None
    lateness_s: float | None

    @classmethod
    def of(cls, run: TaskRun) -> RunOut:
        return cls.model_validate(run)


class RunsOut(_Out):
    task_id: str
    count: int
    runs: list[RunOut]


class RunTicketOut(_Out):
    task_id: str
    started: bool
    waiting: str | None = Field(description="Why the run is queued (limits); null once started")
    run: RunOut


class TaskUpdateIn(BaseModel):
    """Enable, disable or reschedule a task; unset fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = None
    cron_expression: str | None = Field(default=None, examples=["0 3 * * *"])
    timezone: str | None = Field(default=None, examples=["Europe/Madrid"])

    @field_validator("cron_expression")
    @classmethod
    def _valid_cron(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return check_cron(value)
        except ScheduleError as exc:
            raise ValueError(exc.detail) from exc

    @field_validator("timezone")
    @classmethod
    def _valid_zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            parse_zone(value)
        except ScheduleError as exc:
            raise ValueError(exc.detail) from exc
        return value

    @model_validator(mode="after")
    def _something_to_change(self) -> TaskUpdateIn:
        if self.enabled is None and self.cron_expression is None and self.timezone is None:
            raise ValueError("set at least one of enabled, cron_expression, timezone")
        return self


class QuietHoursOut(_Out):
    """The daily maintenance window: measured from >= 7 days of CPU rollups, else the default."""

    source: Literal["rollups", "default"]
    start_hour: int = Field(description="Local hour (0-23) the window starts at")
    hours: int
    zone: str
    days_of_data: float
    mean_cpu_percent: float | None = Field(description="Null for the default window")
