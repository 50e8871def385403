"""max_concurrent_runs and the heavy database limit hold across replicas sharing PostgreSQL.

Each replica is a scheduler with its own PostgresRunLock on one store DSN, driven by one
manual clock; task functions wait on events, so nothing depends on timing.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from tests.pg_locks import advisory_lock_pid, terminate_lock_holder

from perfpilot.core.clock import ManualClock
from perfpilot.scheduler.catalog import TaskRegistry
from perfpilot.scheduler.engine import Scheduler
from perfpilot.scheduler.entry import lock_key
from perfpilot.scheduler.ports import Lease
from perfpilot.scheduler.run import RunStatus
from perfpilot.scheduler.slots import SLOT_RECHECK_S
from perfpilot.scheduler.status import task_line, task_view
from perfpilot.store import Store
from perfpilot.store.base import StoreError
from perfpilot.store.run_lock import LocalRunLock

from .conftest import T0, build_scheduler, every_minute

RUN_LIMIT = "cluster-wide concurrency limit of 1 runs reached"
HEAVY_LIMIT = "cluster-wide limit reached: a heavy database task is running on another replica"


class HeldTask:
    """A task function that runs until released."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        self.started.set()
        await self.release.wait()
        return "done"


def replica(
    store: Store, dsn: str, clock: ManualClock, task_id: str, function: HeldTask, **config: object
) -> Scheduler:
    """A replica configured with the single task ``task_id``; ``heavy_db`` and ``retry_count``
    in ``config`` are the task's fields, the rest the engine's."""
    fields = {f: config.pop(f) for f in ("heavy_db", "retry_count") if f in config}
    registry = TaskRegistry()
    registry.register(task_id, function)
    # A one-second backoff keeps the retry well inside the minute, before the next fire time.
    tasks = [every_minute(task_id, retry_delay_seconds=1.0, **fields)]
    return build_scheduler(store, dsn, clock, tasks, registry, runner=task_id, **config)


@pytest.mark.parametrize(
    ("config", "reason", "slot_key"),
    [
        ({"max_concurrent": 1}, RUN_LIMIT, "perfpilot:scheduler:slot:0"),
        ({"max_concurrent": 3, "heavy_db": True}, HEAVY_LIMIT, "perfpilot:scheduler:heavy-slot:0"),
    ],
    ids=["max_concurrent_runs", "heavy_db"],
)
async def test_a_run_waits_for_a_slot_another_replica_holds(
    pg_dsn: str,
    pg_stores: tuple[Store, Store],
    clock: ManualClock,
    config: dict[str, object],
    reason: str,
    slot_key: str,
) -> None:
    a, b = HeldTask(), HeldTask()
    r1 = replica(pg_stores[0], pg_dsn, clock, "a", a, **config)
    r2 = replica(pg_stores[1], pg_dsn, clock, "b", b, **config)
    await asyncio.gather(r1.restore(), r2.restore())
    clock.advance(60)
    assert await r1.run_due(clock.now()) == []
    await a.started.wait()
    assert await asyncio.to_thread(advisory_lock_pid, pg_dsn, slot_key) is not None

    # r2 runs nothing itself, so only the cluster-wide limit holds b back, tick after tick.
    for _ in range(3):
        assert await r2.run_due(clock.now()) == []
        entry = r2.in_flight("b")
        assert entry is not None
        assert not entry.started
        assert entry.waiting == reason
        clock.advance(10)
    assert b.calls == 0
    assert task_line(task_view(r2, r2.task("b"), clock.now())) == f"queued, waiting: {reason}"
    assert r2.history.list_runs("b") == []
    # The task lock is not held while waiting: b's entry holds nothing on the server.
    assert await asyncio.to_thread(advisory_lock_pid, pg_dsn, "perfpilot:task:b") is None

    a.release.set()
    await r1.wait_attempts()
    assert [r.status for r in await r1.run_due(clock.now())] == [RunStatus.SUCCEEDED]
    assert await asyncio.to_thread(advisory_lock_pid, pg_dsn, slot_key) is None

    assert await r2.run_due(clock.now()) == []
    await b.started.wait()
    entry = r2.in_flight("b")
    assert entry is not None
    assert entry.waiting is None
    assert await asyncio.to_thread(advisory_lock_pid, pg_dsn, slot_key) is not None
    b.release.set()
    await r2.wait_attempts()
    written = await r2.run_due(clock.now())
    assert [(r.task_id, r.status, r.scheduled_for) for r in written] == [
        ("b", RunStatus.SUCCEEDED, T0.replace(minute=1))
    ]
    statuses = [(r.task_id, r.status) for r in r1.history.list_runs()]
    assert sorted(statuses) == [("a", RunStatus.SUCCEEDED), ("b", RunStatus.SUCCEEDED)]
    assert await asyncio.to_thread(advisory_lock_pid, pg_dsn, slot_key) is None


async def test_a_manual_run_is_queued_while_the_cluster_is_full(
    pg_dsn: str, pg_stores: tuple[Store, Store], clock: ManualClock
) -> None:
    a, b = HeldTask(), HeldTask()
    r1 = replica(pg_stores[0], pg_dsn, clock, "a", a, max_concurrent=1)
    r2 = replica(pg_stores[1], pg_dsn, clock, "b", b, max_concurrent=1)
    await asyncio.gather(r1.restore(), r2.restore())
    assert (await r1.run_now("a")).started
    await a.started.wait()
    ticket = await r2.run_now("b")
    assert (ticket.started, ticket.waiting) == (False, RUN_LIMIT)

    a.release.set()
    await r1.wait_attempts()
    await r1.run_due(clock.now())
    await r2.run_due(clock.now())
    await b.started.wait()
    b.release.set()
    await r2.wait_attempts()
    (run,) = await r2.run_due(clock.now())
    assert (run.task_id, run.status, run.attempts) == ("b", RunStatus.SUCCEEDED, 1)


async def test_a_retry_waits_for_a_slot_instead_of_failing(
    pg_dsn: str, pg_stores: tuple[Store, Store], clock: ManualClock
) -> None:
    a, b = HeldTask(), HeldTask()
    r1 = replica(pg_stores[0], pg_dsn, clock, "a", a, max_concurrent=1)
    r2 = replica(
        pg_stores[1],
        pg_dsn,
        clock,
        "b",
        b,
        max_concurrent=1,
        retry_count=1,
        lease_check_interval_s=15.0,
    )
    await asyncio.gather(r1.restore(), r2.restore())
    clock.advance(60)
    await r2.run_due(clock.now())
    await b.started.wait()
    await r1.run_due(clock.now())
    assert r1.in_flight("a").waiting == RUN_LIMIT  # type: ignore[union-attr]
    # b loses its task lock: its attempt is cancelled and its slot given back for the retry.
    await asyncio.to_thread(terminate_lock_holder, pg_dsn, "perfpilot:task:b")
    clock.advance(15)
    assert await r2.run_due(clock.now()) == []
    entry = r2.in_flight("b")
    assert entry is not None
    assert entry.retry_at is not None
    await r1.run_due(clock.now())
    await a.started.wait()

    b.started.clear()
    clock.advance(entry.retry_at - clock.monotonic())
    assert await r2.run_due(clock.now()) == []
    assert (entry.waiting, b.calls) == (RUN_LIMIT, 1)
    assert entry.retry_at == clock.monotonic() + SLOT_RECHECK_S

    a.release.set()
    await r1.wait_attempts()
    await r1.run_due(clock.now())
    clock.advance(SLOT_RECHECK_S)
    assert await r2.run_due(clock.now()) == []
    await b.started.wait()
    assert entry.waiting is None
    b.release.set()
    await r2.wait_attempts()
    (run,) = await r2.run_due(clock.now())
    assert (run.task_id, run.status, run.attempts) == ("b", RunStatus.SUCCEEDED, 2)


class SlotsUnreachable(LocalRunLock):
    """The local lock, but the first ``failures`` slot requests fail as an unreachable store."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def try_acquire_slot(self, pool: str, size: int) -> Lease | None:
        if self.failures:
            self.failures -= 1
            raise StoreError("scheduler lock: cannot connect: connection refused")
        return super().try_acquire_slot(pool, size)


async def test_a_run_whose_slots_cannot_be_read_stays_queued(
    sqlite_store: Store, tmp_path: Path, clock: ManualClock
) -> None:
    task = HeldTask()
    registry = TaskRegistry()
    registry.register("a", task)
    lock = SlotsUnreachable(failures=1)
    scheduler = build_scheduler(
        sqlite_store, f"sqlite:///{tmp_path / 'store.db'}", clock, [every_minute("a")], registry,
        lock=lock,
    )  # fmt: skip
    await scheduler.restore()
    ticket = await scheduler.run_now("a")
    assert ticket.started is False
    assert ticket.waiting is not None
    assert "store unavailable" in ticket.waiting
    given_back = lock.try_acquire(lock_key("a"))
    assert given_back is not None, "the task lock is given back while the run waits"
    given_back.release()
    # The store answers again: the queued run starts on the next cycle and is not lost.
    await scheduler.run_due(clock.now())
    await task.started.wait()
    task.release.set()
    await scheduler.wait_attempts()
    (run,) = await scheduler.run_due(clock.now())
    assert (run.task_id, run.status, run.attempts) == ("a", RunStatus.SUCCEEDED, 1)
