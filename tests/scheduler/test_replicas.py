"""Two scheduler instances on one PostgreSQL store run each due task exactly once."""

from __future__ import annotations

import asyncio

from perfpilot.core.clock import ManualClock
from perfpilot.scheduler.catalog import TaskRegistry
from perfpilot.scheduler.engine import Scheduler
from perfpilot.scheduler.run import RunStatus
from perfpilot.store import Store
from perfpilot.store.run_lock import PostgresRunLock, advisory_key

from .conftest import build_scheduler, every_minute


def replicas(
    pg_dsn: str,
    stores: tuple[Store, Store],
    clock: ManualClock,
    calls: list[str],
    gate: asyncio.Event,
) -> tuple[Scheduler, Scheduler]:
    def registry(replica: str) -> TaskRegistry:
        reg = TaskRegistry()
        for name in ("a", "b"):

            async def run(name: str = name) -> str:
                calls.append(f"{name}@{replica}")
                await gate.wait()
                return f"{name} by {replica}"

            reg.register(name, run)
        return reg

    tasks = [every_minute("a"), every_minute("b")]
    return (
        build_scheduler(stores[0], pg_dsn, clock, tasks, registry("r1"), runner="r1"),
        build_scheduler(stores[1], pg_dsn, clock, tasks, registry("r2"), runner="r2"),
    )


async def test_concurrent_replicas_run_each_fire_time_once(
    pg_dsn: str, pg_stores: tuple[Store, Store], clock: ManualClock
) -> None:
    calls: list[str] = []
    gate = asyncio.Event()
    r1, r2 = replicas(pg_dsn, pg_stores, clock, calls, gate)
    await asyncio.gather(r1.restore(), r2.restore())
    for _ in range(3):
        clock.advance(60)
        await asyncio.gather(r1.run_due(clock.now()), r2.run_due(clock.now()))
        await asyncio.sleep(0)
        gate.set()
        for replica in (r1, r2):
            await replica.wait_attempts()
        await asyncio.gather(r1.run_due(clock.now()), r2.run_due(clock.now()))
        gate.clear()
    runs = r1.history.list_runs()
    done = [r for r in runs if r.status is RunStatus.SUCCEEDED]
    # Three fire times of two tasks: six runs in all, each fire time exactly once.
    assert len(calls) == 6
    assert sorted((r.task_id, r.scheduled_for) for r in done) == sorted(
        {(r.task_id, r.scheduled_for) for r in runs}
    )
    assert len(done) == 6
    skipped = [r for r in runs if r.status is RunStatus.SKIPPED]
    assert len(skipped) == 6
    assert all(r.error == "another replica is running this task" for r in skipped)


async def test_a_late_replica_does_not_rerun_a_finished_fire_time(
    pg_dsn: str, pg_stores: tuple[Store, Store], clock: ManualClock
) -> None:
    calls: list[str] = []
    gate = asyncio.Event()
    gate.set()
    r1, r2 = replicas(pg_dsn, pg_stores, clock, calls, gate)
    await asyncio.gather(r1.restore(), r2.restore())
    clock.advance(60)
    await r1.run_due(clock.now())
    await r1.wait_attempts()
    await r1.run_due(clock.now())
    # r2 looks after r1 finished and let go of the lock: the slot is taken, nothing runs.
    assert await r2.run_due(clock.now()) == []
    await r2.wait_attempts()
    assert sorted(calls) == ["a@r1", "b@r1"]
    assert {r.status for r in r2.history.list_runs()} == {RunStatus.SUCCEEDED}


def test_advisory_lock_excludes_other_sessions(pg_dsn: str) -> None:
    first, second = PostgresRunLock(pg_dsn), PostgresRunLock(pg_dsn)
    lease = first.try_acquire("perfpilot:task:x")
    assert lease is not None
    assert second.try_acquire("perfpilot:task:x") is None
    other = second.try_acquire("perfpilot:task:y")
    assert other is not None
    lease.release()
    lease.release()
    again = second.try_acquire("perfpilot:task:x")
    assert again is not None
    again.release()
    other.release()
    assert advisory_key("perfpilot:task:x") != advisory_key("perfpilot:task:y")
