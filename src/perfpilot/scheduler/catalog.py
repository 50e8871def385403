"""The seven specified tasks, the user's changes from the config file, and the function registry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from perfpilot.core.errors import ConfigError
from perfpilot.core.settings import TaskConfig
from perfpilot.scheduler.task import ScheduledTask, TaskFunction
from perfpilot.scheduler.trigger import ScheduleError, check_cron, parse_zone

# The specification's ids, schedules, function names and maximum durations. The zone is
# filled in by ``configured_tasks`` (PERFORMANCE_TIMEZONE, else the host's zone).
BUILTIN_TASKS: tuple[ScheduledTask, ...] = (
    ScheduledTask(
        "perf_optimization_regular", "Regular optimization", "0 */4 * * *",
        "run_performance_optimization", max_duration_seconds=1800, retry_count=1,
        retry_delay_seconds=120, heavy_db=True,
    ),
    ScheduledTask(
        "db_maintenance_daily", "Daily database maintenance", "0 3 * * *",
        "run_database_maintenance", max_duration_seconds=3600, retry_count=2,
        retry_delay_seconds=300, deferrable=True, heavy_db=True,
    ),
    ScheduledTask(
        "cache_optimization_regular", "Regular cache optimization", "0 */2 * * *",
        "run_cache_optimization", max_duration_seconds=900, retry_count=1,
        retry_delay_seconds=60,
    ),
    ScheduledTask(
        "scaling_evaluation_peak", "Scaling evaluation at peak hours", "*/30 8-22 * * *",
        "run_scaling_evaluation", max_duration_seconds=300,
    ),
    ScheduledTask(
        "system_cleanup_daily", "Daily system cleanup", "0 2 * * *", "run_system_cleanup",
        max_duration_seconds=1200, retry_count=2, retry_delay_seconds=60, deferrable=True,
    ),
    ScheduledTask(
        "resource_monitoring_frequent", "Frequent resource monitoring", "*/10 * * * *",
        "run_resource_monitoring", max_duration_seconds=180,
    ),
    ScheduledTask(
        "health_check_hourly", "Hourly comprehensive health check", "0 * * * *",
        "run_comprehensive_health_check", max_duration_seconds=600, retry_count=1,
        retry_delay_seconds=30,
    ),
)  # fmt: skip

# What a built-in function waits for until its component registers it.
_PROVIDED_BY = {
    "run_performance_optimization": "optimizer",
    "run_database_maintenance": "database tuner",
    "run_cache_optimization": "cache optimizer",
    "run_scaling_evaluation": "auto scaler",
}


class TaskRegistry:
    """Task functions by ``function_name``, registered by the composition root."""

    def __init__(self) -> None:
        self._functions: dict[str, TaskFunction] = {}

    def register(self, function_name: str, function: TaskFunction) -> None:
        if function_name in self._functions:
            raise ValueError(f"task function {function_name} is already registered")
        self._functions[function_name] = function

    def get(self, function_name: str) -> TaskFunction | None:
        return self._functions.get(function_name)

    def unavailable_reason(self, function_name: str) -> str | None:
        """Why tasks calling ``function_name`` cannot run; None when it is registered."""
        if function_name in self._functions:
            return None
        component = _PROVIDED_BY.get(function_name)
        if component is not None:
            return f"{component} not installed"
        return f"function {function_name} is not registered"


def configured_tasks(
    builtin: Sequence[ScheduledTask], entries: Sequence[TaskConfig], default_zone: str
) -> list[ScheduledTask]:
    """Built-in tasks in ``default_zone`` with the config file's changes and additions.

    Raises ConfigError naming ``scheduler.tasks[i].<field>`` for a bad cron, zone or a new
    task lacking its cron expression or function name.
    """
    tasks = {task.id: replace(task, timezone=default_zone) for task in builtin}
    for index, entry in enumerate(entries):
        key = f"scheduler.tasks[{index}]"
        base = tasks.get(entry.id)
        if base is None:
            base = _new_task(entry, key, default_zone)
        tasks[entry.id] = _validated(_changed(base, entry), key)
    return list(tasks.values())


def _new_task(entry: TaskConfig, key: str, default_zone: str) -> ScheduledTask:
    for name in ("cron_expression", "function_name"):
        if getattr(entry, name) is None:
            raise ConfigError(f"{key}.{name}: required for the new task {entry.id!r}")
    return ScheduledTask(
        entry.id, entry.name or entry.id, "", entry.function_name or "", timezone=default_zone
    )


def _changed(task: ScheduledTask, entry: TaskConfig) -> ScheduledTask:
    fields = entry.model_dump(exclude={"id"}, exclude_none=True)
    return replace(task, **fields)


def _validated(task: ScheduledTask, key: str) -> ScheduledTask:
    try:
        cron = check_cron(task.cron_expression)
        parse_zone(task.timezone)
    except ScheduleError as exc:
        raise ConfigError(f"{key}.{exc}") from exc
    return replace(task, cron_expression=cron)


def tasks_by_id(tasks: Sequence[ScheduledTask]) -> Mapping[str, ScheduledTask]:
    return {task.id: task for task in tasks}
