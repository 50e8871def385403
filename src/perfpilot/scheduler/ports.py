"""What the scheduler needs from persistence; ``store`` implements these, ``app`` wires them.

All methods are synchronous; the engine calls them through ``asyncio.to_thread``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from perfpilot.scheduler.run import TaskRun
from perfpilot.scheduler.task import TaskOverride


class RunHistory(Protocol):
    def save_run(self, run: TaskRun) -> None:
        """Insert or replace the run with this id."""
        ...

    def list_runs(self, task_id: str | None = None, limit: int = 100) -> list[TaskRun]:
        """Newest first (by scheduled_for); every task when ``task_id`` is None."""
        ...

    def last_scheduled(self) -> dict[str, datetime]:
        """Latest ``scheduled_for`` of a cron run, per task, whatever its status."""
        ...

    def slot_taken(self, task_id: str, scheduled_for: datetime) -> bool:
        """Whether a cron run for this fire time ran, runs, or was recorded missed.

        Skipped records do not count: they say another replica had it.
        """
        ...

    def prune_runs(self, before: datetime) -> int:
        """Delete finished runs scheduled before ``before``; returns the number deleted."""
        ...

    def save_override(self, override: TaskOverride, now: datetime) -> None:
        """Insert or replace the API override of one task, stamped ``now``."""
        ...

    def load_overrides(self) -> list[TaskOverride]: ...


class Lease(Protocol):
    """One held run lock. ``lost_reason`` says why :meth:`held` last answered False."""

    lost_reason: str | None

    def release(self) -> None:
        """Give the lock back; calling it twice is harmless."""
        ...

    def held(self) -> bool:
        """Whether the lock is still ours; False once released or lost.

        Blocking, but bounded by a short timeout: a check that cannot answer in time, or whose
        connection is broken, answers False (and sets ``lost_reason``) rather than waiting.
        """
        ...


class RunLock(Protocol):
    """Mutual exclusion of one task's runs across every replica sharing the store."""

    def try_acquire(self, key: str) -> Lease | None:
        """The lease on ``key``, or None at once when another holder has it."""
        ...

    def try_acquire_slot(self, pool: str, size: int) -> Lease | None:
        """A lease on any free one of the ``size`` slots named ``pool``; None at once when
        every replica sharing the store together holds all of them."""
        ...
