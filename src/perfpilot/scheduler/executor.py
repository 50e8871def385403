"""Runs of the engine from claim to record: lease, attempts, deadlines, retries, final record."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from perfpilot.core.clock import Clock
from perfpilot.core.errors import ConflictError, PerfpilotError
from perfpilot.scheduler.catalog import TaskRegistry
from perfpilot.scheduler.entry import Entry, attempts_left, describe_error, lock_key, retryable
from perfpilot.scheduler.lease_watch import lost_leases
from perfpilot.scheduler.policy import SlotPool, retry_delay_s, slot_pools
from perfpilot.scheduler.ports import Lease, RunHistory, RunLock
from perfpilot.scheduler.run import RunStatus, RunTrigger, TaskRun
from perfpilot.scheduler.slots import SLOT_RECHECK_S, LeaseGroup, take_slots
from perfpilot.scheduler.task import ScheduledTask

logger = logging.getLogger(__name__)

RunObserver = Callable[[TaskRun], None]


class RunExecutor:
    """Owns the runs in flight (``entries``, one per task) and writes every record."""

    def __init__(
        self,
        registry: TaskRegistry,
        history: RunHistory,
        lock: RunLock,
        clock: Clock,
        runner: str,
        wake: Callable[[], None],
        cancel_grace_s: float = 5.0,
        rng: random.Random | None = None,
        lease_check_interval_s: float = 15.0,
        max_concurrent: int = 3,
    ) -> None:
        if lease_check_interval_s <= 0:
            raise ValueError(f"lease_check_interval_s must be > 0, not {lease_check_interval_s}")
        self._registry = registry
        self._history = history
        self._lock = lock
        self._clock = clock
        self._runner = runner
        self._wake = wake
        self._cancel_grace_s = cancel_grace_s
        self._rng = rng or random.Random()
        self._lease_check_interval_s = lease_check_interval_s
        self._max_concurrent = max_concurrent
        self.entries: dict[str, Entry] = {}
        self._observers: list[RunObserver] = []

    def add_observer(self, observer: RunObserver) -> None:
        self._observers.append(observer)

    async def wait_attempts(self) -> None:
        """Wait until every running attempt has returned (tests and benchmarks)."""
        attempts = [e.attempt for e in self.entries.values() if e.attempt is not None]
        if attempts:
            await asyncio.wait(attempts)

    async def stop(self) -> None:
        """Cancel running attempts and record them as failed; release every lease."""
        for entry in list(self.entries.values()):
            if entry.attempt is not None and not entry.attempt.done():
                entry.attempt.cancel()
                await asyncio.wait([entry.attempt], timeout=self._cancel_grace_s)
            if entry.started:
                await self._finish(entry, RunStatus.FAILED, "service stopped during the run")
            else:
                del self.entries[entry.task.id]

    # ------------------------------------------------------------------ cycle steps

    async def start(self, entry: Entry) -> list[TaskRun]:
        """Start a queued run, or leave it queued with ``entry.waiting`` set when every slot of a
        cluster-wide limit is taken (it is tried again on later cycles)."""
        task, run = entry.task, entry.run
        lease = await asyncio.to_thread(self._lock.try_acquire, lock_key(task.id))
        if lease is None:
            del self.entries[task.id]
            error = "another replica is running this task"
            skipped = await self.record(
                task, run.scheduled_for, RunStatus.SKIPPED, error, run.trigger
            )
            return [skipped]
        try:
            if run.trigger is RunTrigger.CRON and await asyncio.to_thread(
                self._history.slot_taken, task.id, run.scheduled_for
            ):
                # Another replica already ran this fire time and let go of the lock.
                del self.entries[task.id]
                await asyncio.to_thread(lease.release)
                return []
            group = await self._with_slots(entry, lease)
            if group is None:
                return []
            lease = group
            entry.run = replace(run, started_at=self._clock.now(), attempts=1)
            await asyncio.to_thread(self._history.save_run, entry.run)
        except BaseException:
            self.entries.pop(task.id, None)
            await asyncio.to_thread(lease.release)
            raise
        entry.lease, entry.waiting = lease, None
        self._launch(entry)
        return []

    async def _with_slots(self, entry: Entry, task_lease: Lease) -> LeaseGroup | None:
        """``task_lease`` plus a slot of each cluster-wide limit; None when a limit is full.

        Then the task lock is given back (so this replica does not hold the task while it
        waits) and ``entry.waiting`` says which limit is reached.
        """
        pools = slot_pools(entry.task, self._max_concurrent)
        try:
            slots = await asyncio.to_thread(take_slots, self._lock, pools)
        except PerfpilotError as exc:
            # The lock store did not answer. Like a task lock that could not be taken, the run
            # stays queued and is tried again on a later cycle: dropping it would lose the run.
            logger.warning("task %s: cluster-wide slots not taken: %s", entry.task.id, exc)
            entry.waiting = f"cluster-wide limits unknown, store unavailable: {describe_error(exc)}"
            await asyncio.to_thread(task_lease.release)
            return None
        if isinstance(slots, SlotPool):
            entry.waiting = slots.full
            await asyncio.to_thread(task_lease.release)
            return None
        return LeaseGroup(task_lease, slots)

    def _launch(self, entry: Entry) -> None:
        function = self._registry.get(entry.task.function_name)
        if function is None:
            raise ConflictError(f"task function {entry.task.function_name} is not registered")

        async def attempt() -> str:
            return await function()

        entry.attempt = asyncio.create_task(attempt(), name=f"perfpilot-task-{entry.task.id}")
        entry.attempt.add_done_callback(lambda _: self._wake())
        mono = self._clock.monotonic()
        entry.deadline = mono + entry.task.max_duration_seconds
        entry.lease_check_at = mono + self._lease_check_interval_s
        entry.retry_at = None

    async def advance(self, entry: Entry) -> list[TaskRun]:
        """Record a finished or overdue attempt, or start a retry that is due."""
        mono = self._clock.monotonic()
        attempt = entry.attempt
        if attempt is None:
            if entry.retry_at is not None and entry.retry_at <= mono:
                return await self._retry(entry)
            return []
        if attempt.done():
            return await self._attempt_ended(entry, attempt)
        if entry.deadline is not None and entry.deadline <= mono:
            await self._cancel(entry, attempt)
            limit = entry.task.max_duration_seconds
            error = f"cancelled after exceeding max_duration_seconds={limit:g}"
            return [await self._finish(entry, RunStatus.TIMED_OUT, error)]
        return []

    async def check_leases(self) -> list[TaskRun]:
        """End the attempts whose run lock was lost; each lease is checked once per interval."""
        mono = self._clock.monotonic()
        lost = await lost_leases(list(self.entries.values()), mono, self._lease_check_interval_s)
        written: list[TaskRun] = []
        for entry, reason in lost:
            written += await self._lease_lost(entry, reason)
        return written

    async def _lease_lost(self, entry: Entry, reason: str) -> list[TaskRun]:
        error = f"run lock lost ({reason})"
        logger.error("task %s run %s: %s", entry.task.id, entry.run.id, error)
        attempt, lease = entry.attempt, entry.lease
        entry.lease, entry.lease_check_at = None, None
        ended_first = attempt is not None and attempt.done()
        if attempt is not None and not ended_first:
            await self._cancel(entry, attempt)
        if lease is not None:
            # The server already freed the lock; this closes what is left of the session.
            await asyncio.to_thread(lease.release)
        if attempt is None:
            # Lost while waiting for a retry: the retry has to acquire the lock again.
            return []
        if ended_first:
            # It ended on its own while the lease was being checked: record what it did.
            return await self._attempt_ended(entry, attempt)
        entry.attempt, entry.deadline = None, None
        # An attempt that ignores cancellation may still be running: no retry next to it.
        if attempt.done() and attempts_left(entry.run.attempts, entry.task):
            await self._schedule_retry(entry, error)
            return []
        return [await self._finish(entry, RunStatus.FAILED, error)]

    async def _retry(self, entry: Entry) -> list[TaskRun]:
        if entry.lease is None:
            task_lease = await asyncio.to_thread(self._lock.try_acquire, lock_key(entry.task.id))
            if task_lease is None:
                error = f"retry skipped: another replica is running this task; {entry.run.error}"
                return [await self._finish(entry, RunStatus.FAILED, error)]
            entry.lease = await self._with_slots(entry, task_lease)
            if entry.lease is None:
                # The cluster is busy: the retry waits for a slot like a queued run.
                entry.retry_at = self._clock.monotonic() + SLOT_RECHECK_S
                return []
            entry.waiting = None
        entry.run = replace(entry.run, attempts=entry.run.attempts + 1)
        await asyncio.to_thread(self._history.save_run, entry.run)
        self._launch(entry)
        return []

    async def _cancel(self, entry: Entry, attempt: asyncio.Task[str]) -> None:
        attempt.cancel()
        await asyncio.wait([attempt], timeout=self._cancel_grace_s)
        if not attempt.done():
            logger.error("task %s ignores cancellation; recorded anyway", entry.task.id)

    async def _attempt_ended(self, entry: Entry, attempt: asyncio.Task[str]) -> list[TaskRun]:
        entry.attempt, entry.deadline = None, None
        if attempt.cancelled():
            return [await self._finish(entry, RunStatus.FAILED, "attempt was cancelled")]
        exc = attempt.exception()
        if exc is None:
            entry.run = replace(entry.run, summary=str(attempt.result()))
            return [await self._finish(entry, RunStatus.SUCCEEDED, None)]
        error = describe_error(exc)
        logger.warning("task %s attempt %d failed: %s", entry.task.id, entry.run.attempts, error)
        if not retryable(exc, entry.run.attempts, entry.task):
            return [await self._finish(entry, RunStatus.FAILED, error)]
        await self._schedule_retry(entry, error)
        return []

    async def _schedule_retry(self, entry: Entry, error: str) -> None:
        delay = retry_delay_s(entry.task, entry.run.attempts, self._rng)
        entry.retry_at = self._clock.monotonic() + delay
        entry.run = replace(entry.run, error=f"{error} (retry in {delay:.1f}s)")
        await asyncio.to_thread(self._history.save_run, entry.run)

    async def _finish(self, entry: Entry, status: RunStatus, error: str | None) -> TaskRun:
        self.entries.pop(entry.task.id, None)
        run = entry.finished(status, self._clock.now(), error)
        try:
            await asyncio.to_thread(self._history.save_run, run)
        finally:
            if entry.lease is not None:
                await asyncio.to_thread(entry.lease.release)
        self.notify(run)
        return run

    async def record_unless_taken(
        self, task: ScheduledTask, scheduled_for: datetime, status: RunStatus, error: str
    ) -> list[TaskRun]:
        lease = await asyncio.to_thread(self._lock.try_acquire, lock_key(task.id))
        if lease is None:
            return []  # the replica holding the task decides about this fire time
        try:
            if await asyncio.to_thread(self._history.slot_taken, task.id, scheduled_for):
                return []
            return [await self.record(task, scheduled_for, status, error)]
        finally:
            await asyncio.to_thread(lease.release)

    async def record(
        self,
        task: ScheduledTask,
        scheduled_for: datetime,
        status: RunStatus,
        error: str,
        trigger: RunTrigger = RunTrigger.CRON,
    ) -> TaskRun:
        entry = Entry.queued(task, trigger, scheduled_for, self._runner, 0.0)
        run = entry.finished(status, self._clock.now(), error)
        await asyncio.to_thread(self._history.save_run, run)
        logger.info("task %s %s for %s: %s", task.id, status.value, scheduled_for, error)
        self.notify(run)
        return run

    def notify(self, run: TaskRun) -> None:
        for observer in self._observers:
            observer(run)
