"""The scheduler engine: decides with the pure policy, runs task functions, records every run.

Everything time-based happens in :meth:`Scheduler.run_due` (fire times, deadlines, retries,
run-lock checks, queued runs), so tests drive it with a manual clock; :meth:`Scheduler.serve`
only calls it and sleeps until the next thing is due or a run finishes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from perfpilot.core.clock import Clock
from perfpilot.core.errors import ConflictError, NotFoundError
from perfpilot.scheduler.catalog import TaskRegistry
from perfpilot.scheduler.entry import Entry, describe_error
from perfpilot.scheduler.executor import RunExecutor, RunObserver
from perfpilot.scheduler.policy import (
    Due,
    defer_reason,
    due_runs,
    next_fire,
    start_blocker,
    trigger_of,
)
from perfpilot.scheduler.ports import RunHistory, RunLock
from perfpilot.scheduler.run import RunStatus, RunTrigger, TaskRun
from perfpilot.scheduler.task import ScheduledTask, TaskOverride, apply_override

logger = logging.getLogger(__name__)

CpuProbe = Callable[[], float | None]
DbProbe = Callable[[], int | None]

# Upper bound of one sleep: overrides written by another replica and wall-clock steps are
# noticed within this time; one wake a minute costs nothing measurable.
_MAX_SLEEP_S = 60.0
# How often a deferred task looks at the CPU level again.
_DEFER_RECHECK_S = 30.0


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """The engine's limits and policy; ``runner`` names this replica in run records."""

    runner: str
    max_concurrent: int = 3
    misfire_grace_s: float = 300.0
    max_defer_s: float = 7200.0
    busy_cpu_percent: float = 75.0
    cron_enabled: bool = True
    # Start hour of the quiet window for ``@quiet`` tasks until best hours are measured.
    quiet_start_hour: int = 1
    # A deferrable task also waits while the database runs more active sessions than this.
    busy_db_active_sessions: int | None = None
    # Time a cancelled attempt gets to unwind before it is recorded anyway.
    cancel_grace_s: float = 5.0
    # How often each running run checks that it still holds its run lock (see lease_watch).
    lease_check_interval_s: float = 15.0


@dataclass(frozen=True, slots=True)
class RunTicket:
    """Answer to a run request: the record when it started, else why it waits."""

    task_id: str
    run: TaskRun
    started: bool
    waiting: str | None


class Scheduler:
    """Runs the configured tasks on cron, at most one run per task across all replicas."""

    def __init__(
        self,
        tasks: Sequence[ScheduledTask],
        registry: TaskRegistry,
        history: RunHistory,
        lock: RunLock,
        clock: Clock,
        config: EngineConfig,
        cpu_probe: CpuProbe | None = None,
        db_probe: DbProbe | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._configured = {task.id: task for task in tasks}
        self._overrides: dict[str, TaskOverride] = {}
        self.registry = registry
        self.history = history
        self._clock = clock
        self.config = config
        self._cpu_probe = cpu_probe or (lambda: None)
        self._db_probe = db_probe or (lambda: None)
        self._last_fired: dict[str, datetime] = {}
        self._mutex = asyncio.Lock()
        self._wake = asyncio.Event()
        self._executor = RunExecutor(
            registry,
            history,
            lock,
            clock,
            config.runner,
            self._wake.set,
            config.cancel_grace_s,
            rng,
            config.lease_check_interval_s,
            config.max_concurrent,
        )
        self.last_error: str | None = None
        self.restored = False
        self.quiet_start_hour = config.quiet_start_hour

    # ------------------------------------------------------------------ reading

    def tasks(self) -> list[ScheduledTask]:
        """Every task with its API override applied, in configuration order."""
        return [apply_override(t, self._overrides.get(t.id)) for t in self._configured.values()]

    def task(self, task_id: str) -> ScheduledTask:
        """One task; NotFoundError for an unknown id."""
        if task_id not in self._configured:
            raise NotFoundError(f"task {task_id} not found")
        return apply_override(self._configured[task_id], self._overrides.get(task_id))

    def runnable(self) -> list[ScheduledTask]:
        """Enabled tasks whose function is registered."""
        return [
            t for t in self.tasks() if t.enabled and self.registry.get(t.function_name) is not None
        ]

    def next_run(self, task: ScheduledTask, now: datetime) -> datetime | None:
        """The task's next cron fire time; None while it cannot run on cron."""
        if not self.config.cron_enabled or task not in self.runnable():
            return None
        return next_fire([task], self._last_fired, now, self.quiet_start_hour)

    def in_flight(self, task_id: str) -> Entry | None:
        return self._executor.entries.get(task_id)

    def set_quiet_start(self, hour: int) -> None:
        """Move ``@quiet`` tasks to a window starting at ``hour`` (local, 0-23)."""
        if not 0 <= hour <= 23:
            raise ValueError(f"quiet window start hour {hour} is not in 0-23")
        if hour != self.quiet_start_hour:
            self.quiet_start_hour = hour
            self.wake()

    def wake(self) -> None:
        """Make the loop re-evaluate now, e.g. after the clock or a task changed outside it."""
        self._wake.set()

    def add_observer(self, observer: RunObserver) -> None:
        """Call ``observer`` with every record that ends a run (and skipped or missed ones)."""
        self._executor.add_observer(observer)

    async def wait_attempts(self) -> None:
        """Wait until every running attempt has returned (tests and benchmarks)."""
        await self._executor.wait_attempts()

    async def stop(self) -> None:
        """Cancel running attempts and record them as failed; release every lease."""
        await self._executor.stop()

    # ------------------------------------------------------------------ changing

    async def restore(self) -> None:
        """Load the last fire time of each task; tasks without history start from now."""
        stored = await asyncio.to_thread(self.history.last_scheduled)
        now = self._clock.now()
        for task_id in self._configured:
            self._last_fired.setdefault(task_id, stored.get(task_id, now))
        await self._refresh_overrides()
        self.restored = True

    async def update_task(self, override: TaskOverride) -> ScheduledTask:
        """Store an API change; NotFoundError for an unknown id, ScheduleError when invalid."""
        current = self.task(override.task_id)
        merged = self._merged(self._overrides.get(override.task_id), override)
        changed = apply_override(self._configured[override.task_id], merged)
        trigger_of(changed)
        await asyncio.to_thread(self.history.save_override, merged, self._clock.now())
        self._overrides[override.task_id] = merged
        if changed.enabled and not current.enabled:
            # Fire times that passed while disabled are neither run nor reported as missed.
            self._last_fired[changed.id] = self._clock.now()
        self._wake.set()
        return changed

    async def run_now(self, task_id: str) -> RunTicket:
        """Queue a manual run and start it when the limits allow.

        NotFoundError for an unknown id; ConflictError when its function is not installed or
        a run of the task is already queued or running.
        """
        async with self._mutex:
            task = self.task(task_id)
            reason = self.registry.unavailable_reason(task.function_name)
            if reason is not None:
                raise ConflictError(f"task {task_id} cannot run: {reason}")
            if task_id in self._executor.entries:
                current = self._executor.entries[task_id]
                state = "running" if current.started else "queued"
                raise ConflictError(f"task {task_id} already has a {state} run {current.run.id}")
            now, mono = self._clock.now(), self._clock.monotonic()
            entry = Entry.queued(task, RunTrigger.MANUAL, now, self.config.runner, mono)
            self._executor.entries[task_id] = entry
            await self._start_queued(mono)
            return RunTicket(task_id, entry.run, entry.started, entry.waiting)

    async def run_due(self, now: datetime) -> list[TaskRun]:
        """One scheduling cycle at ``now``; returns the records written by it."""
        async with self._mutex:
            await self._refresh_overrides()
            written: list[TaskRun] = []
            for entry in [e for e in self._executor.entries.values() if e.started]:
                written += await self._executor.advance(entry)
            written += await self._executor.check_leases()
            if self.config.cron_enabled:
                written += await self._fire(now)
            written += await self._start_queued(self._clock.monotonic())
            return written

    def seconds_until_due(self, now: datetime) -> float:
        """How long the loop may sleep before :meth:`run_due` has something to do."""
        waits = [_MAX_SLEEP_S]
        if self.config.cron_enabled:
            fire = next_fire(self.runnable(), self._last_fired, now, self.quiet_start_hour)
            if fire is not None:
                waits.append((fire - now).total_seconds())
        mono = self._clock.monotonic()
        for entry in self._executor.entries.values():
            for at in (entry.deadline, entry.retry_at, entry.lease_check_at):
                if at is not None:
                    waits.append(at - mono)
            if entry.waiting is not None:
                waits.append(_DEFER_RECHECK_S)
        return max(0.0, min(waits))

    async def serve(self) -> None:
        """Run until cancelled; in-flight runs are then recorded as failed."""
        try:
            await self.restore()
            while True:
                self._wake.clear()
                try:
                    await self.run_due(self._clock.now())
                    self.last_error = None
                except Exception as exc:
                    self.last_error = describe_error(exc)
                    logger.exception("scheduler cycle failed")
                delay = self.seconds_until_due(self._clock.now())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=max(delay, 0.001))
        finally:
            await self.stop()

    async def _refresh_overrides(self) -> None:
        stored = await asyncio.to_thread(self.history.load_overrides)
        self._overrides = {o.task_id: o for o in stored if o.task_id in self._configured}

    async def _fire(self, now: datetime) -> list[TaskRun]:
        runnable = self.runnable()
        runnable_ids = {t.id for t in runnable}
        for task in self._configured:
            if task not in runnable_ids:
                # Disabled tasks keep their reference point at now: enabling one later does
                # not report the fire times it slept through as missed.
                self._last_fired[task] = now
        written: list[TaskRun] = []
        due_list = due_runs(
            runnable, self._last_fired, now, self.config.misfire_grace_s, self.quiet_start_hour
        )
        for due in due_list:
            self._last_fired[due.task_id] = due.scheduled_for
            written += await self._dispatch(self.task(due.task_id), due, now)
        return written

    async def _dispatch(self, task: ScheduledTask, due: Due, now: datetime) -> list[TaskRun]:
        if due.missed:
            late_s = (now - due.scheduled_for).total_seconds()
            error = (
                f"fire time seen {late_s:.0f}s late (grace {self.config.misfire_grace_s:g}s);"
                f" {due.coalesced} fire time(s) coalesced"
            )
            return await self._executor.record_unless_taken(
                task, due.scheduled_for, RunStatus.MISSED, error
            )
        current = self._executor.entries.get(task.id)
        if current is not None:
            state = "running" if current.started else f"waiting ({current.waiting})"
            error = f"previous run {current.run.id} still {state}"
            return [await self._executor.record(task, due.scheduled_for, RunStatus.SKIPPED, error)]
        self._executor.entries[task.id] = Entry.queued(
            task, RunTrigger.CRON, due.scheduled_for, self.config.runner, self._clock.monotonic()
        )
        return []

    async def _start_queued(self, mono: float) -> list[TaskRun]:
        written: list[TaskRun] = []
        for entry in sorted(self._executor.entries.values(), key=lambda e: e.queued_at):
            if entry.started:
                continue
            running = [e.task for e in self._executor.entries.values() if e.started]
            entry.waiting = start_blocker(entry.task, running, self.config.max_concurrent)
            if entry.waiting is None and entry.run.trigger is RunTrigger.CRON:
                entry.waiting = defer_reason(
                    entry.task,
                    self._cpu_probe(),
                    self.config.busy_cpu_percent,
                    mono - entry.queued_at,
                    self.config.max_defer_s,
                    self._db_probe(),
                    self.config.busy_db_active_sessions,
                )
            if entry.waiting is None:
                written += await self._executor.start(entry)
        return written

    @staticmethod
    def _merged(current: TaskOverride | None, change: TaskOverride) -> TaskOverride:
        if current is None:
            return change
        return TaskOverride(
            task_id=change.task_id,
            enabled=current.enabled if change.enabled is None else change.enabled,
            cron_expression=change.cron_expression or current.cron_expression,
            timezone=change.timezone or current.timezone,
        )
