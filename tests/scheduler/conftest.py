"""A scheduler on a real store (SQLite file, or PostgreSQL for the multi-replica tests)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from perfpilot.core.clock import ManualClock
from perfpilot.scheduler.catalog import TaskRegistry
from perfpilot.scheduler.engine import EngineConfig, Scheduler
from perfpilot.scheduler.ports import RunLock
from perfpilot.scheduler.task import ScheduledTask
from perfpilot.store import Store, open_store
from perfpilot.store.run_lock import run_lock_for
from perfpilot.store.scheduler_runs import SqlRunHistory

# A Monday, 10:00:00 UTC: hourly and ten-minute tasks fire exactly on the hour.
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)

SchedulerFactory = Callable[..., Scheduler]


def every_minute(task_id: str, function_name: str | None = None, **fields: object) -> ScheduledTask:
    """A task firing every minute in UTC."""
    return ScheduledTask(
        task_id, task_id, "* * * * *", function_name or task_id, timezone="UTC", **fields
    )  # type: ignore[arg-type]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    store.migrate()
    yield store
    store.close()


@pytest.fixture
def pg_stores(pg_dsn: str) -> Iterator[tuple[Store, Store]]:
    """Two stores on one PostgreSQL database: the stores of two replicas."""
    first, second = open_store(pg_dsn), open_store(pg_dsn)
    first.migrate()
    second.migrate()
    yield first, second
    first.close()
    second.close()


def build_scheduler(
    store: Store,
    url: str,
    clock: ManualClock,
    tasks: Sequence[ScheduledTask],
    registry: TaskRegistry,
    lock: RunLock | None = None,
    **config: object,
) -> Scheduler:
    engine_config = EngineConfig(**({"runner": "test"} | config))  # type: ignore[arg-type]
    return Scheduler(
        tasks,
        registry,
        SqlRunHistory(store.runner),
        lock or run_lock_for(url),
        clock,
        engine_config,
    )


@pytest.fixture
def make_scheduler(sqlite_store: Store, tmp_path: Path, clock: ManualClock) -> SchedulerFactory:
    url = f"sqlite:///{tmp_path / 'store.db'}"

    def make(tasks: Sequence[ScheduledTask], registry: TaskRegistry, **config: object) -> Scheduler:
        return build_scheduler(sqlite_store, url, clock, tasks, registry, **config)

    return make
