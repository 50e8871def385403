"""What runs: the specification's ``ScheduledTask`` plus retry, zone and placement fields."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

# A task function does its work and returns a one-line summary of what it did. It must not
# block the event loop: synchronous work goes through ``asyncio.to_thread``.
TaskFunction = Callable[[], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class ScheduledTask:
    """One cron task; field names follow the specification's ``ScheduledTask``."""

    id: str
    name: str
    cron_expression: str
    function_name: str
    enabled: bool = True
    max_duration_seconds: float = 600.0
    # Extra attempts after the first, only for errors marked transient.
    retry_count: int = 0
    # Base of the exponential backoff between attempts (full jitter).
    retry_delay_seconds: float = 60.0
    # IANA zone the cron expression is read in.
    timezone: str = "UTC"
    # May wait while the host is busy, up to the scheduler's maximum delay.
    deferrable: bool = False
    # Loads the target database; at most one such task runs at a time.
    heavy_db: bool = False


@dataclass(frozen=True, slots=True)
class TaskOverride:
    """A change made through the API; stored so every replica and a restart see it.

    ``None`` fields keep the configured value.
    """

    task_id: str
    enabled: bool | None = None
    cron_expression: str | None = None
    timezone: str | None = None


def apply_override(task: ScheduledTask, override: TaskOverride | None) -> ScheduledTask:
    """The task with the override's set fields replacing its own."""
    if override is None:
        return task
    return ScheduledTask(
        id=task.id,
        name=task.name,
        cron_expression=override.cron_expression or task.cron_expression,
        function_name=task.function_name,
        enabled=task.enabled if override.enabled is None else override.enabled,
        max_duration_seconds=task.max_duration_seconds,
        retry_count=task.retry_count,
        retry_delay_seconds=task.retry_delay_seconds,
        timezone=override.timezone or task.timezone,
        deferrable=task.deferrable,
        heavy_db=task.heavy_db,
    )
