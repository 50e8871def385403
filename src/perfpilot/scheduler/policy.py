"""Pure decisions: which fire times are due or missed, whether a run may start, retry delays."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from perfpilot.core.backoff import Backoff
from perfpilot.scheduler.task import ScheduledTask
from perfpilot.scheduler.trigger import QUIET, CronTrigger, quiet_cron

# Retry delays grow from the task's retry_delay_seconds but never past an hour: a task that
# still fails after that waits for its next fire time instead.
MAX_RETRY_DELAY_S = 3600.0


@dataclass(frozen=True, slots=True)
class Due:
    """The newest fire time of a task at or before ``now``.

    ``coalesced`` counts the fire times it stands for (more than one after downtime: they
    collapse into one run, as APScheduler's ``coalesce``); ``missed`` is set when that newest
    fire time is older than the grace time, so it is recorded instead of run.
    """

    task_id: str
    scheduled_for: datetime
    coalesced: int
    missed: bool


# Until the quiet window is known from a week of rollups, @quiet tasks use the configured one.
DEFAULT_QUIET_START_HOUR = 1


def trigger_of(
    task: ScheduledTask, quiet_start_hour: int = DEFAULT_QUIET_START_HOUR
) -> CronTrigger:
    """The task's trigger; raises ScheduleError when its cron or zone is invalid.

    A ``@quiet`` task fires daily at ``quiet_start_hour`` in its zone.
    """
    if task.cron_expression == QUIET:
        return CronTrigger.of(quiet_cron(quiet_start_hour), task.timezone)
    return CronTrigger.of(task.cron_expression, task.timezone)


def due_runs(
    tasks: Sequence[ScheduledTask],
    last_fired: Mapping[str, datetime],
    now: datetime,
    grace_s: float,
    quiet_start_hour: int = DEFAULT_QUIET_START_HOUR,
) -> list[Due]:
    """Fire times of enabled tasks in (last fired, now], one :class:`Due` per task.

    A task absent from ``last_fired`` has no reference point yet and is not due.
    """
    due: list[Due] = []
    for task in tasks:
        since = last_fired.get(task.id)
        if not task.enabled or since is None:
            continue
        fires = trigger_of(task, quiet_start_hour).fire_times(since, now)
        if not fires:
            continue
        newest = fires[-1]
        late = now - newest > timedelta(seconds=grace_s)
        due.append(Due(task.id, newest, coalesced=len(fires), missed=late))
    return due


def next_fire(
    tasks: Sequence[ScheduledTask],
    last_fired: Mapping[str, datetime],
    now: datetime,
    quiet_start_hour: int = DEFAULT_QUIET_START_HOUR,
) -> datetime | None:
    """The earliest upcoming fire time among enabled tasks, or None when none is enabled."""
    fires = [
        trigger_of(task, quiet_start_hour).next_after(max(last_fired.get(task.id, now), now))
        for task in tasks
        if task.enabled
    ]
    return min(fires, default=None)


def start_blocker(
    task: ScheduledTask, running: Sequence[ScheduledTask], max_concurrent: int
) -> str | None:
    """Why ``task`` cannot start next to the ``running`` tasks; None when it can."""
    if len(running) >= max_concurrent:
        return f"concurrency limit of {max_concurrent} runs reached"
    if task.heavy_db:
        heavy = next((other for other in running if other.heavy_db), None)
        if heavy is not None:
            return f"heavy database task {heavy.id} is running"
    return None


@dataclass(frozen=True, slots=True)
class SlotPool:
    """A limit shared by every replica: at most ``size`` runs hold one of its slots at once.

    ``full`` is the waiting reason of a run that finds every slot taken.
    """

    name: str
    size: int
    full: str


RUN_SLOTS = "perfpilot:scheduler:slot"
HEAVY_DB_SLOTS = "perfpilot:scheduler:heavy-slot"


def slot_pools(task: ScheduledTask, max_concurrent: int) -> list[SlotPool]:
    """The cluster-wide limits a run of ``task`` counts against, as :func:`start_blocker`'s
    local ones: ``max_concurrent`` runs in all, one heavy database task."""
    pools = [
        SlotPool(
            RUN_SLOTS,
            max_concurrent,
            f"cluster-wide concurrency limit of {max_concurrent} runs reached",
        )
    ]
    if task.heavy_db:
        full = "cluster-wide limit reached: a heavy database task is running on another replica"
        pools.append(SlotPool(HEAVY_DB_SLOTS, 1, full))
    return pools


def defer_reason(
    task: ScheduledTask,
    cpu_percent: float | None,
    busy_threshold: float,
    waited_s: float,
    max_defer_s: float,
    db_active: int | None = None,
    db_busy_sessions: int | None = None,
) -> str | None:
    """Why a deferrable task should wait for a quieter moment; None when it should start.

    Busy is the host's CPU above its threshold, or the database running more active sessions
    than its threshold. An unknown level does not defer: no data is not the same as busy.
    """
    if not task.deferrable or waited_s >= max_defer_s:
        return None
    if cpu_percent is not None and cpu_percent > busy_threshold:
        return f"host busy: cpu {cpu_percent:.0f}% above {busy_threshold:g}%"
    if db_active is not None and db_busy_sessions is not None and db_active > db_busy_sessions:
        return f"database busy: {db_active} active sessions above {db_busy_sessions}"
    return None


def retry_delay_s(task: ScheduledTask, failed_attempts: int, rng: random.Random) -> float:
    """Seconds before the next attempt after ``failed_attempts`` failures (full jitter)."""
    cap = max(task.retry_delay_seconds, MAX_RETRY_DELAY_S)
    backoff = Backoff(base_s=task.retry_delay_seconds, cap_s=cap, jitter=True)
    return backoff.delay(failed_attempts - 1, rng)


def retry_ceiling_s(task: ScheduledTask, failed_attempts: int) -> float:
    """Upper bound of :func:`retry_delay_s` for the same arguments."""
    cap = max(task.retry_delay_seconds, MAX_RETRY_DELAY_S)
    return Backoff(base_s=task.retry_delay_seconds, cap_s=cap).ceiling(failed_attempts - 1)
