"""Deferrable maintenance placed in the quiet window: `@quiet` tasks follow the measured hours."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from perfpilot.core.clock import ManualClock
from perfpilot.maintenance.quiet import QuietHours, QuietPlacement
from perfpilot.monitor.model import Rollup
from perfpilot.scheduler.policy import due_runs, next_fire
from perfpilot.scheduler.task import ScheduledTask
from perfpilot.scheduler.trigger import ScheduleError, check_cron
from perfpilot.store import Store, open_store

NOW = datetime(2026, 3, 16, 12, 0, tzinfo=UTC)  # a Monday


def quiet_task() -> ScheduledTask:
    return ScheduledTask(
        "vacuum_quiet",
        "VACUUM at quiet hours",
        "@quiet",
        "run_database_maintenance",
        timezone="Europe/Madrid",
        deferrable=True,
    )  # type: ignore[call-arg]


def test_quiet_tasks_fire_at_the_window_start_in_their_zone() -> None:
    task = quiet_task()
    fire = next_fire([task], {task.id: NOW}, NOW, quiet_start_hour=3)
    # 03:00 in Madrid (UTC+1 in March before the switch) is 02:00 UTC on the next day.
    assert fire == datetime(2026, 3, 17, 2, 0, tzinfo=UTC)
    due = due_runs([task], {task.id: NOW}, NOW + timedelta(days=1), 300, quiet_start_hour=3)
    assert [d.scheduled_for for d in due] == [datetime(2026, 3, 17, 2, 0, tzinfo=UTC)]
    moved = next_fire([task], {task.id: NOW}, NOW, quiet_start_hour=5)
    assert moved == datetime(2026, 3, 17, 4, 0, tzinfo=UTC)


def test_quiet_is_a_valid_schedule_and_typos_are_not() -> None:
    assert check_cron(" @quiet ") == "@quiet"
    with pytest.raises(ScheduleError, match="cron_expression"):
        check_cron("@quiett")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    opened.migrate()
    yield opened
    opened.close()


def cpu_week(store: Store, quiet_utc_hours: range, days: int) -> None:
    """Minute rollups of CPU: 60 % everywhere, 5 % in ``quiet_utc_hours`` (UTC)."""
    start = NOW - timedelta(days=days)
    rollups = []
    minute = start
    while minute < NOW:
        value = 5.0 if minute.hour in quiet_utc_hours else 60.0
        rollups.append(Rollup("cpu", minute, value, value, value, 12))
        minute += timedelta(minutes=10)
    store.save_rollups(rollups)


async def test_placement_moves_quiet_tasks_to_the_measured_window(store: Store) -> None:
    cpu_week(store, range(2, 6), days=8)  # quiet 02:00-06:00 UTC = 03:00-07:00 in Madrid
    placed: list[int] = []
    quiet = QuietHours(store, "Europe/Madrid", 4, 1, ManualClock(NOW))
    summary = await QuietPlacement(quiet, placed.append).run()
    assert placed == [3]
    assert "rollups" in summary


async def test_before_a_week_of_data_the_configured_window_is_used(store: Store) -> None:
    cpu_week(store, range(2, 6), days=3)
    placed: list[int] = []
    quiet = QuietHours(store, "Europe/Madrid", 4, 1, ManualClock(NOW))
    summary = await QuietPlacement(quiet, placed.append).run()
    assert placed == [1]
    assert "default" in summary
