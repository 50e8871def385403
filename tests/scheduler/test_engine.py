"""The engine on a real SQLite store with a manual clock: nothing here sleeps."""

from __future__ import annotations

import asyncio

import pytest

from perfpilot.core.clock import ManualClock
from perfpilot.core.errors import ConflictError, NotFoundError, TransientError
from perfpilot.scheduler.catalog import TaskRegistry
from perfpilot.scheduler.engine import Scheduler
from perfpilot.scheduler.policy import retry_ceiling_s
from perfpilot.scheduler.run import RunStatus, RunTrigger
from perfpilot.scheduler.task import ScheduledTask, TaskOverride
from perfpilot.scheduler.trigger import ScheduleError

from .conftest import T0, SchedulerFactory, every_minute


class Recorder:
    """Task functions that count calls and can be held open until released."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.running: set[str] = set()
        self.peak = 0
        self.peak_heavy = 0
        self.release = asyncio.Event()
        self.cancelled: list[str] = []

    def quick(self, name: str, summary: str = "done") -> object:
        async def run() -> str:
            self.calls.append(name)
            return summary

        return run

    def held(self, name: str, heavy: bool = False) -> object:
        async def run() -> str:
            self.calls.append(name)
            self.running.add(name)
            self.peak = max(self.peak, len(self.running))
            heavy_now = sum(1 for n in self.running if n.startswith("heavy"))
            self.peak_heavy = max(self.peak_heavy, heavy_now)
            try:
                await self.release.wait()
            except asyncio.CancelledError:
                self.cancelled.append(name)
                raise
            finally:
                self.running.discard(name)
            return f"{name} released"

        return run


def registry_of(functions: dict[str, object]) -> TaskRegistry:
    registry = TaskRegistry()
    for name, function in functions.items():
        registry.register(name, function)  # type: ignore[arg-type]
    return registry


async def settle(scheduler: Scheduler, clock: ManualClock) -> list[object]:
    """Let started attempts finish and record them."""
    await scheduler.wait_attempts()
    return list(await scheduler.run_due(clock.now()))


async def test_due_task_runs_once_and_is_recorded(
    make_scheduler: SchedulerFactory, clock: ManualClock
) -> None:
    rec = Recorder()
    scheduler = make_scheduler([every_minute("a")], registry_of({"a": rec.quick("a", "3 rows")}))
    await scheduler.restore()
    assert await scheduler.run_due(clock.now()) == []
    clock.advance(60)
    recorded = await scheduler.run_due(clock.now())
    recorded += await scheduler.run_due(clock.now())
    recorded += await settle(scheduler, clock)  # type: ignore[arg-type]
    assert rec.calls == ["a"]
    assert [r.status for r in recorded] == [RunStatus.SUCCEEDED]
    runs = scheduler.history.list_runs("a")
    assert [(r.status, r.attempts, r.summary) for r in runs] == [(RunStatus.SUCCEEDED, 1, "3 rows")]
    assert runs[0].scheduled_for == T0.replace(minute=1)
    assert runs[0].lateness_s == 0.0
    assert runs[0].trigger is RunTrigger.CRON


async def test_transient_errors_are_retried_with_bounded_backoff(
    make_scheduler: SchedulerFactory, clock: ManualClock
) -> None:
    failures = [TransientError("connection reset"), TransientError("lock timeout")]
    calls: list[float] = []

    async def flaky() -> str:
        calls.append(clock.monotonic())
        if failures:
            raise failures.pop(0)
        return "ok on third attempt"

    task = every_minute("flaky", retry_count=2, retry_delay_seconds=10.0)
    scheduler = make_scheduler([task], registry_of({"flaky": flaky}))
    await scheduler.restore()
    clock.advance(60)
    await scheduler.run_due(clock.now())
    for attempt in (1, 2):
        await settle(scheduler, clock)
        entry = scheduler.in_flight("flaky")
        assert entry is not None
        assert entry.retry_at is not None
        delay = entry.retry_at - clock.monotonic()
        # Full jitter: anywhere in [0, base * 2**(attempt-1)].
        assert 0.0 <= delay <= retry_ceiling_s(task, attempt) == 10.0 * 2 ** (attempt - 1)
        stored = scheduler.history.list_runs("flaky")[0]
        assert stored.status is RunStatus.RUNNING
        assert stored.attempts == attempt
        assert "TransientError" in (stored.error or "")
        clock.advance(delay + 0.001)
        await scheduler.run_due(clock.now())
    await settle(scheduler, clock)
    run = scheduler.history.list_runs("flaky")[0]
    assert (run.status, run.attempts, run.error) == (RunStatus.SUCCEEDED, 3, None)
    assert run.summary == "ok on third attempt"
    assert len(calls) == 3


async def test_other_errors_fail_without_retry(
    make_scheduler: SchedulerFactory, clock: ManualClock
) -> None:
    calls = 0

    async def broken() -> str:
        nonlocal calls
        calls += 1
        raise ValueError("bad data")

    task = every_minute("broken", retry_count=3)
    scheduler = make_scheduler([task], registry_of({"broken": broken}))
    await scheduler.restore()
    clock.advance(60)
    await scheduler.run_due(clock.now())
    await settle(scheduler, clock)
    run = scheduler.history.list_runs("broken")[0]
    assert (run.status, run.attempts, run.error) == (RunStatus.FAILED, 1, "ValueError: bad data")
    assert calls == 1
    assert scheduler.in_flight("broken") is None


async def test_task_past_its_max_duration_is_cancelled_and_recorded(
    make_scheduler: SchedulerFactory, clock: ManualClock
) -> None:
    rec = Recorder()
    task = every_minute("hang", max_duration_seconds=30.0)
    scheduler = make_scheduler([task], registry_of({"hang": rec.held("hang")}))
    await scheduler.restore()
    clock.advance(60)
    await scheduler.run_due(clock.now())
    await asyncio.sleep(0)  # let the attempt begin
    clock.advance(29)
    assert await scheduler.run_due(clock.now()) == []
    assert scheduler.seconds_until_due(clock.now()) == pytest.approx(1.0)
    clock.advance(1)
    (run,) = await scheduler.run_due(clock.now())
    assert run.status is RunStatus.TIMED_OUT
    assert run.error == "cancelled after exceeding max_duration_seconds=30"
    assert run.duration_s == 30.0
    assert rec.cancelled == ["hang"]
    assert scheduler.history.list_runs("hang")[0].status is RunStatus.TIMED_OUT


async def test_concurrency_limits_hold(
    make_scheduler: SchedulerFactory, clock: ManualClock
) -> None:
    rec = Recorder()
    names = ["heavy1", "heavy2", "light1", "light2", "light3"]
    tasks = [every_minute(n, heavy_db=n.startswith("heavy")) for n in names]
    functions = {n: rec.held(n) for n in names}
    scheduler = make_scheduler(tasks, registry_of(functions), max_concurrent=3)
    await scheduler.restore()
    clock.advance(60)
    await scheduler.run_due(clock.now())
    await asyncio.sleep(0)
    assert sorted(rec.running) == ["heavy1", "light1", "light2"]
    waiting = {n: scheduler.in_flight(n).waiting for n in ("heavy2", "light3")}  # type: ignore[union-attr]
    assert waiting == {
        "heavy2": "heavy database task heavy1 is running",
        "light3": "concurrency limit of 3 runs reached",
    }
    rec.release.set()
    await settle(scheduler, clock)
    await settle(scheduler, clock)
    await settle(scheduler, clock)
    assert sorted(rec.calls) == sorted(names)
    assert rec.peak == 3
    assert rec.peak_heavy == 1
    statuses = {r.task_id: r.status for r in scheduler.history.list_runs()}
    assert statuses == dict.fromkeys(names, RunStatus.SUCCEEDED)


async def test_heavy_database_tasks_run_one_at_a_time(
    make_scheduler: SchedulerFactory, clock: ManualClock
) -> None:
    rec = Recorder()
    tasks = [every_minute(n, heavy_db=True) for n in ("heavy1", "heavy2")]
    functions = {n: rec.held(n) for n in ("heavy1", "heavy2")}
    scheduler = make_scheduler(tasks, registry_of(functions), max_concurrent=3)
    await scheduler.restore()
    clock.advance(60)
    await scheduler.run_due(clock.now())
    await asyncio.sleep(0)
    assert rec.running == {"heavy1"}
    entry = scheduler.in_flight("heavy2")
    assert entry is not None
    assert entry.waiting == "heavy database task heavy1 is running"


async def test_fire_time_past_grace_is_recorded_missed(
    make_scheduler: SchedulerFactory, clock: ManualClock
) -> None:
    rec = Recorder()
    task = ScheduledTask("hourly", "hourly", "0 * * * *", "hourly", timezone="UTC")
    scheduler = make_scheduler([task], registry_of({"hourly": rec.quick("h")}), misfire_grace_s=300)
    await scheduler.restore()
    # The loop was blocked (or the service down) from 10:00 to 12:06: the 11:00 and 12:00
    # fire times coalesce; 12:00 is 6 min late, past the 5 min grace.
    clock.advance(2 * 3600 + 360)
    (run,) = await scheduler.run_due(clock.now())
    assert run.status is RunStatus.MISSED
    assert run.scheduled_for == T0.replace(hour=12)
    assert run.started_at is None
    assert "2 fire time(s) coalesced" in (run.error or "")
    assert rec.calls == []
    # Within the grace time it runs instead.
    clock.advance(3600 - 360 + 299)
    await scheduler.run_due(clock.now())
    await settle(scheduler, clock)
    assert rec.calls == ["h"]
    assert [r.status for r in scheduler.history.list_runs("hourly")] == [
        RunStatus.SUCCEEDED,
        RunStatus.MISSED,
    ]


async def test_fire_while_previous_run_is_going_is_skipped(
    make_scheduler: SchedulerFactory, clock: ManualClock
) -> None:
    rec = Recorder()
    task = every_minute("slow", max_duration_seconds=600)
    scheduler = make_scheduler([task], registry_of({"slow": rec.held("slow")}))
    await scheduler.restore()
    clock.advance(60)
    await scheduler.run_due(clock.now())
    clock.advance(60)
    (skipped,) = await scheduler.run_due(clock.now())
    assert skipped.status is RunStatus.SKIPPED
    assert "still running" in (skipped.error or "")
    assert rec.calls == ["slow"]
    rec.release.set()
    await settle(scheduler, clock)


async def test_manual_runs(make_scheduler: SchedulerFactory, clock: ManualClock) -> None:
    rec = Recorder()
    tasks = [every_minute("held", enabled=False), every_minute("absent", "run_cache_optimization")]
    scheduler = make_scheduler(tasks, registry_of({"held": rec.held("held")}))
    await scheduler.restore()
    ticket = await scheduler.run_now("held")
    assert ticket.started
    assert ticket.run.trigger is RunTrigger.MANUAL
    with pytest.raises(ConflictError, match="already has a running run"):
        await scheduler.run_now("held")
    with pytest.raises(ConflictError, match="cache optimizer not installed"):
        await scheduler.run_now("absent")
    with pytest.raises(NotFoundError):
        await scheduler.run_now("nope")
    rec.release.set()
    await settle(scheduler, clock)
    assert scheduler.history.list_runs("held")[0].status is RunStatus.SUCCEEDED


async def test_updates_are_validated_and_stored(
    make_scheduler: SchedulerFactory, clock: ManualClock
) -> None:
    rec = Recorder()
    scheduler = make_scheduler([every_minute("a")], registry_of({"a": rec.quick("a")}))
    await scheduler.restore()
    with pytest.raises(ScheduleError) as bad_cron:
        await scheduler.update_task(TaskOverride("a", cron_expression="61 * * * *"))
    assert bad_cron.value.field == "cron_expression"
    with pytest.raises(ScheduleError) as bad_zone:
        await scheduler.update_task(TaskOverride("a", timezone="Mars/Olympus"))
    assert bad_zone.value.field == "timezone"
    with pytest.raises(NotFoundError):
        await scheduler.update_task(TaskOverride("zzz", enabled=False))
    changed = await scheduler.update_task(TaskOverride("a", enabled=False))
    assert not changed.enabled
    assert scheduler.history.load_overrides() == [TaskOverride("a", enabled=False)]
    clock.advance(600)
    assert await scheduler.run_due(clock.now()) == []
    assert rec.calls == []
    # Re-enabled: the fire times it slept through are neither run nor reported missed.
    await scheduler.update_task(TaskOverride("a", enabled=True, cron_expression="*/5 * * * *"))
    assert scheduler.task("a").cron_expression == "*/5 * * * *"
    assert await scheduler.run_due(clock.now()) == []
    clock.advance(300)
    await scheduler.run_due(clock.now())
    await settle(scheduler, clock)
    assert rec.calls == ["a"]
