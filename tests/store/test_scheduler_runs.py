"""The scheduler's run history, overrides and compaction on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from perfpilot.scheduler.run import RunStatus, RunTrigger, TaskRun
from perfpilot.scheduler.task import TaskOverride
from perfpilot.store import Store, open_store
from perfpilot.store.compaction import compactor_for
from perfpilot.store.scheduler_runs import SqlRunHistory

T0 = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/perfpilot.db"
    dsn: str = request.getfixturevalue("pg_dsn")
    return dsn


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    opened.migrate()
    yield opened
    opened.close()


def run(
    run_id: str,
    task_id: str,
    at: datetime,
    status: RunStatus,
    trigger: RunTrigger = RunTrigger.CRON,
) -> TaskRun:
    started = None if status in (RunStatus.SKIPPED, RunStatus.MISSED) else at
    finished = None if status is RunStatus.RUNNING else at + timedelta(seconds=2)
    return TaskRun(run_id, task_id, trigger, at, status, "r1", started, finished, 1, None, "s")


def test_runs_round_trip_newest_first(store: Store) -> None:
    history = SqlRunHistory(store.runner)
    first = run("1", "a", T0, RunStatus.RUNNING)
    history.save_run(first)
    history.save_run(run("2", "a", T0 + timedelta(hours=1), RunStatus.MISSED))
    history.save_run(run("3", "b", T0, RunStatus.SUCCEEDED, RunTrigger.MANUAL))
    done = TaskRun(
        "1", "a", RunTrigger.CRON, T0, RunStatus.FAILED, "r1", T0, T0 + timedelta(seconds=9),
        3, "TransientError: reset", None,
    )  # fmt: skip
    history.save_run(done)
    assert [r.id for r in history.list_runs("a")] == ["2", "1"]
    assert history.list_runs("a")[1] == done
    assert [r.id for r in history.list_runs(limit=1)] == ["2"]
    assert len(history.list_runs()) == 3


def test_last_fire_times_and_slots(store: Store) -> None:
    history = SqlRunHistory(store.runner)
    history.save_run(run("1", "a", T0, RunStatus.SUCCEEDED))
    history.save_run(run("2", "a", T0 + timedelta(hours=1), RunStatus.SKIPPED))
    history.save_run(run("3", "b", T0 + timedelta(hours=5), RunStatus.SUCCEEDED, RunTrigger.MANUAL))
    assert history.last_scheduled() == {"a": T0 + timedelta(hours=1)}
    assert history.slot_taken("a", T0)
    # A skipped record says another replica had it; it does not take the slot.
    assert not history.slot_taken("a", T0 + timedelta(hours=1))
    assert not history.slot_taken("b", T0 + timedelta(hours=5))


def test_prune_keeps_running_and_recent_runs(store: Store) -> None:
    history = SqlRunHistory(store.runner)
    history.save_run(run("old", "a", T0 - timedelta(days=40), RunStatus.SUCCEEDED))
    history.save_run(run("stuck", "a", T0 - timedelta(days=40), RunStatus.RUNNING))
    history.save_run(run("new", "a", T0, RunStatus.SUCCEEDED))
    assert history.prune_runs(T0 - timedelta(days=30)) == 1
    assert sorted(r.id for r in history.list_runs()) == ["new", "stuck"]


def test_overrides_upsert(store: Store) -> None:
    history = SqlRunHistory(store.runner)
    history.save_override(TaskOverride("a", enabled=False), T0)
    history.save_override(TaskOverride("b", None, "*/5 * * * *", "Europe/Madrid"), T0)
    history.save_override(TaskOverride("a", enabled=True, timezone="UTC"), T0)
    assert history.load_overrides() == [
        TaskOverride("a", True, None, "UTC"),
        TaskOverride("b", None, "*/5 * * * *", "Europe/Madrid"),
    ]


def test_compaction_runs_outside_a_transaction(store: Store, store_url: str) -> None:
    history = SqlRunHistory(store.runner)
    for i in range(200):
        history.save_run(run(str(i), "a", T0 - timedelta(days=60, minutes=i), RunStatus.SUCCEEDED))
    history.prune_runs(T0)
    done = compactor_for(store_url, store.runner).compact()
    assert done.startswith("sqlite VACUUM" if store_url.startswith("sqlite") else "postgres VACUUM")
    if store_url.startswith("postgres"):
        rows = store.runner.query(
            "last vacuum",
            "SELECT last_vacuum FROM pg_stat_user_tables"
            " WHERE schemaname = 'perfpilot' AND relname = 'scheduler_runs'",
        )
        assert rows[0][0] is not None
