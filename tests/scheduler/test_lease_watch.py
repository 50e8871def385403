"""The run-lock watchdog: a run whose PostgreSQL lock session dies is cancelled and recorded.

The lock's backend is killed with pg_terminate_backend; the checks run on the manual clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.pg_locks import advisory_lock_pid, terminate_lock_holder

from perfpilot.core.clock import ManualClock
from perfpilot.scheduler.catalog import TaskRegistry
from perfpilot.scheduler.engine import Scheduler
from perfpilot.scheduler.entry import lock_key
from perfpilot.scheduler.ports import Lease
from perfpilot.scheduler.run import RunStatus
from perfpilot.store import Store, open_store
from perfpilot.store.run_lock import LocalRunLock, PostgresRunLock

from .conftest import build_scheduler, every_minute

CHECK_S = 15.0
KEY = lock_key("vacuum")


class LongTask:
    """A task function that runs until released, noting its starts and its cancellations."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.calls = 0
        self.cancelled = 0

    async def __call__(self) -> str:
        self.calls += 1
        self.started.set()
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        return "vacuumed"


@pytest.fixture
def pg_store(pg_dsn: str) -> Iterator[Store]:
    store = open_store(pg_dsn)
    store.migrate()
    yield store
    store.close()


async def started_scheduler(
    store: Store, url: str, clock: ManualClock, task: LongTask, **fields: object
) -> Scheduler:
    """A scheduler whose ``vacuum`` run has just started (its attempt is waiting)."""
    registry = TaskRegistry()
    registry.register("vacuum", task)
    scheduler = build_scheduler(
        store,
        url,
        clock,
        [every_minute("vacuum", **fields)],
        registry,
        lease_check_interval_s=CHECK_S,
    )
    await scheduler.restore()
    clock.advance(60)
    assert await scheduler.run_due(clock.now()) == []
    await task.started.wait()
    return scheduler


async def test_lost_lock_cancels_the_run_and_frees_the_task(
    pg_dsn: str, pg_store: Store, clock: ManualClock
) -> None:
    task = LongTask()
    scheduler = await started_scheduler(pg_store, pg_dsn, clock, task)
    # The loop wakes for the check even though nothing else is due for a minute.
    assert scheduler.seconds_until_due(clock.now()) == CHECK_S
    await asyncio.to_thread(terminate_lock_holder, pg_dsn, KEY)

    clock.advance(CHECK_S - 1)
    assert await scheduler.run_due(clock.now()) == []
    assert task.cancelled == 0  # not checked yet: the interval has not passed

    clock.advance(1)
    written = await scheduler.run_due(clock.now())
    assert [r.status for r in written] == [RunStatus.FAILED]
    error = written[0].error or ""
    assert error.startswith("run lock lost (connection closed: terminating connection"), error
    assert task.cancelled == 1
    assert scheduler.in_flight("vacuum") is None
    stored = scheduler.history.list_runs("vacuum")
    assert [(r.status, r.error, r.attempts) for r in stored] == [(RunStatus.FAILED, error, 1)]
    # Another replica can take the task now.
    other = await asyncio.to_thread(PostgresRunLock(pg_dsn).try_acquire, KEY)
    assert other is not None
    await asyncio.to_thread(other.release)


async def test_lost_concurrency_slot_ends_the_run_like_a_lost_lock(
    pg_dsn: str, pg_store: Store, clock: ManualClock
) -> None:
    task = LongTask()
    scheduler = await started_scheduler(pg_store, pg_dsn, clock, task)
    # Once the slot's session is gone another replica could take the slot and run past the
    # cluster-wide limit, so the run is ended as when its task lock is lost.
    await asyncio.to_thread(terminate_lock_holder, pg_dsn, "perfpilot:scheduler:slot:0")
    clock.advance(CHECK_S)
    written = await scheduler.run_due(clock.now())
    assert [r.status for r in written] == [RunStatus.FAILED]
    error = written[0].error or ""
    assert error.startswith(
        "run lock lost (slot of perfpilot:scheduler:slot: connection closed: terminating"
    ), error
    assert task.cancelled == 1
    # The task lock went with it.
    assert await asyncio.to_thread(advisory_lock_pid, pg_dsn, KEY) is None


async def test_held_lock_is_checked_without_disturbing_the_run(
    pg_dsn: str, pg_store: Store, clock: ManualClock
) -> None:
    task = LongTask()
    scheduler = await started_scheduler(pg_store, pg_dsn, clock, task)
    holder = await asyncio.to_thread(advisory_lock_pid, pg_dsn, KEY)
    assert holder is not None
    for _ in range(3):
        clock.advance(CHECK_S)
        assert await scheduler.run_due(clock.now()) == []
        entry = scheduler.in_flight("vacuum")
        assert entry is not None
        assert entry.lease is not None
        # Checked at this tick: the next check is one interval from now.
        assert entry.lease_check_at == clock.monotonic() + CHECK_S
    assert task.cancelled == 0
    assert await asyncio.to_thread(advisory_lock_pid, pg_dsn, KEY) == holder
    assert await asyncio.to_thread(PostgresRunLock(pg_dsn).try_acquire, KEY) is None

    task.release.set()
    await scheduler.wait_attempts()
    written = await scheduler.run_due(clock.now())
    assert [(r.status, r.attempts, r.error, r.summary) for r in written] == [
        (RunStatus.SUCCEEDED, 1, None, "vacuumed")
    ]
    assert await asyncio.to_thread(advisory_lock_pid, pg_dsn, KEY) is None


@pytest.mark.parametrize("taken_by_other", [True, False])
async def test_retry_after_a_lost_lock_must_acquire_it_again(
    pg_dsn: str, pg_store: Store, clock: ManualClock, taken_by_other: bool
) -> None:
    task = LongTask()
    scheduler = await started_scheduler(
        pg_store, pg_dsn, clock, task, retry_count=1, retry_delay_seconds=10.0
    )
    await asyncio.to_thread(terminate_lock_holder, pg_dsn, KEY)
    clock.advance(CHECK_S)
    assert await scheduler.run_due(clock.now()) == []
    assert task.cancelled == 1
    entry = scheduler.in_flight("vacuum")
    assert entry is not None
    assert entry.lease is None
    assert entry.retry_at is not None
    pending = scheduler.history.list_runs("vacuum")[0]
    assert pending.status is RunStatus.RUNNING
    assert (pending.error or "").startswith("run lock lost (connection closed")

    other = None
    if taken_by_other:
        other = await asyncio.to_thread(PostgresRunLock(pg_dsn).try_acquire, KEY)
        assert other is not None
    task.started.clear()
    clock.advance(entry.retry_at - clock.monotonic())
    written = await scheduler.run_due(clock.now())
    if other is not None:
        assert [r.status for r in written] == [RunStatus.FAILED]
        error = written[0].error or ""
        assert error.startswith("retry skipped: another replica is running this task"), error
        assert "run lock lost (connection closed" in error
        assert task.calls == 1
        await asyncio.to_thread(other.release)
        return
    assert written == []
    await task.started.wait()
    assert task.calls == 2
    # The retry runs under a new session's lock, which the watchdog then sees as held.
    assert await asyncio.to_thread(advisory_lock_pid, pg_dsn, KEY) is not None
    assert entry.lease is not None
    clock.advance(CHECK_S)
    assert await scheduler.run_due(clock.now()) == []
    assert task.cancelled == 1
    task.release.set()
    await scheduler.wait_attempts()
    written = await scheduler.run_due(clock.now())
    assert [(r.status, r.attempts) for r in written] == [(RunStatus.SUCCEEDED, 2)]


class UnreadableLease:
    """A lease whose check raises, as a faulty lock implementation might."""

    def __init__(self) -> None:
        self.lost_reason: str | None = None
        self.releases = 0

    def held(self) -> bool:
        raise RuntimeError("lock service unreachable")

    def release(self) -> None:
        self.releases += 1


class UnreadableLock:
    def __init__(self) -> None:
        self.leases: list[UnreadableLease] = []

    def try_acquire(self, key: str) -> UnreadableLease:
        self.leases.append(UnreadableLease())
        return self.leases[-1]

    def try_acquire_slot(self, pool: str, size: int) -> Lease | None:
        # Only the task lock's check is faulty here; slots come from a working lock.
        return LocalRunLock().try_acquire_slot(pool, size)


async def test_a_failing_check_counts_as_lost_and_the_scheduler_goes_on(
    sqlite_store: Store, tmp_path: Path, clock: ManualClock
) -> None:
    task = LongTask()
    registry = TaskRegistry()
    registry.register("vacuum", task)
    lock = UnreadableLock()
    scheduler = build_scheduler(
        sqlite_store,
        f"sqlite:///{tmp_path / 'store.db'}",
        clock,
        [every_minute("vacuum")],
        registry,
        lock=lock,
        lease_check_interval_s=CHECK_S,
    )
    await scheduler.restore()
    clock.advance(60)
    await scheduler.run_due(clock.now())
    await task.started.wait()
    clock.advance(CHECK_S)
    written = await scheduler.run_due(clock.now())
    assert [(r.status, r.error) for r in written] == [
        (RunStatus.FAILED, "run lock lost (check failed: RuntimeError: lock service unreachable)")
    ]
    assert task.cancelled == 1
    assert [lease.releases for lease in lock.leases] == [1]
    # The next fire time runs as usual.
    task.started.clear()
    clock.advance(60 - CHECK_S)
    assert await scheduler.run_due(clock.now()) == []
    await task.started.wait()
    assert task.calls == 2
    await scheduler.stop()
