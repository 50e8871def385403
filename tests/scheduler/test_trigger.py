"""Cron fire times in a zone, across Madrid's 2026 daylight-saving changes, and the pure policy."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from perfpilot.scheduler.policy import (
    defer_reason,
    due_runs,
    retry_ceiling_s,
    retry_delay_s,
    start_blocker,
)
from perfpilot.scheduler.task import ScheduledTask
from perfpilot.scheduler.trigger import CronTrigger, ScheduleError, check_cron, parse_zone


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def test_daily_fixed_time_in_the_skipped_hour_runs_right_after_the_change() -> None:
    # 2026-03-29: Madrid jumps from 02:00 CET to 03:00 CEST; 02:30 does not exist that day.
    trigger = CronTrigger.of("30 2 * * *", "Europe/Madrid")
    fires = trigger.fire_times(utc(2026, 3, 27, 12), utc(2026, 3, 31, 12))
    local = [f.astimezone(trigger.zone).strftime("%d %H:%M %Z") for f in fires]
    assert local == ["28 02:30 CET", "29 03:00 CEST", "30 02:30 CEST", "31 02:30 CEST"]
    assert fires[1] == utc(2026, 3, 29, 1, 0)


def test_daily_fixed_time_in_the_repeated_hour_runs_once() -> None:
    # 2026-10-25: Madrid goes from 03:00 CEST back to 02:00 CET; 02:30 happens twice.
    trigger = CronTrigger.of("30 2 * * *", "Europe/Madrid")
    fires = trigger.fire_times(utc(2026, 10, 23, 12), utc(2026, 10, 26, 12))
    assert fires == [utc(2026, 10, 24, 0, 30), utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]


def test_hourly_job_runs_every_real_hour_across_both_changes() -> None:
    hourly = CronTrigger.of("0 * * * *", "Europe/Madrid")
    spring = hourly.fire_times(utc(2026, 3, 28, 23, 30), utc(2026, 3, 29, 3, 30))
    assert spring == [utc(2026, 3, 29, h) for h in range(4)]
    autumn = hourly.fire_times(utc(2026, 10, 24, 23, 30), utc(2026, 10, 25, 3, 30))
    assert autumn == [utc(2026, 10, 25, h) for h in range(4)]
    local = [f.astimezone(hourly.zone).strftime("%H:%M %Z") for f in autumn]
    assert local == ["02:00 CEST", "02:00 CET", "03:00 CET", "04:00 CET"]


def test_next_after_is_strictly_later_and_utc() -> None:
    trigger = CronTrigger.of("*/10 * * * *", "Europe/Madrid")
    assert trigger.next_after(utc(2026, 1, 5, 9, 10)) == utc(2026, 1, 5, 9, 20)
    assert trigger.next_after(utc(2026, 1, 5, 9, 10)).tzinfo is UTC


@pytest.mark.parametrize("bad", ["61 * * * *", "* * * *", "* * * * * *", "every day", ""])
def test_invalid_cron_names_the_field(bad: str) -> None:
    with pytest.raises(ScheduleError) as error:
        check_cron(bad)
    assert error.value.field == "cron_expression"


def test_invalid_zone_names_the_field() -> None:
    with pytest.raises(ScheduleError) as error:
        parse_zone("Europe/Atlantis")
    assert error.value.field == "timezone"


def task(task_id: str, cron: str = "0 * * * *", **fields: object) -> ScheduledTask:
    return ScheduledTask(task_id, task_id, cron, task_id, timezone="UTC", **fields)  # type: ignore[arg-type]


def test_due_runs_coalesces_and_marks_missed() -> None:
    last = {"a": utc(2026, 1, 5, 9, 0), "b": utc(2026, 1, 5, 9, 0)}
    tasks = [task("a"), task("b", enabled=False), task("c")]
    (due,) = due_runs(tasks, last, utc(2026, 1, 5, 12, 4), grace_s=300)
    assert (due.task_id, due.scheduled_for, due.coalesced, due.missed) == (
        "a",
        utc(2026, 1, 5, 12),
        3,
        False,
    )
    (late,) = due_runs(tasks, last, utc(2026, 1, 5, 12, 6), grace_s=300)
    assert late.missed


def test_start_blocker_limits() -> None:
    heavy, light = task("h", heavy_db=True), task("l")
    assert start_blocker(light, [light, light], 3) is None
    assert start_blocker(light, [light, light, light], 3) == "concurrency limit of 3 runs reached"
    assert start_blocker(heavy, [heavy], 3) == "heavy database task h is running"
    assert start_blocker(light, [heavy], 3) is None


def test_retry_delays_stay_within_full_jitter_bounds() -> None:
    t = task("r", retry_delay_seconds=5.0, retry_count=5)
    rng = random.Random(1)
    for failed in range(1, 6):
        ceiling = retry_ceiling_s(t, failed)
        assert ceiling == 5.0 * 2 ** (failed - 1)
        delays = [retry_delay_s(t, failed, rng) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in delays)
        # Jitter spreads the delays over the whole range, not around one point.
        assert min(delays) < ceiling * 0.1
        assert max(delays) > ceiling * 0.9


def test_deferral_only_for_deferrable_tasks_on_a_busy_host_up_to_the_maximum() -> None:
    t = task("d", deferrable=True)
    assert defer_reason(t, 92.0, 75.0, 0.0, 3600) == "host busy: cpu 92% above 75%"
    assert defer_reason(t, 70.0, 75.0, 0.0, 3600) is None
    assert defer_reason(t, None, 75.0, 0.0, 3600) is None
    assert defer_reason(t, 92.0, 75.0, 3600.0, 3600) is None
    assert defer_reason(task("n"), 92.0, 75.0, 0.0, 3600) is None


def test_deferral_while_the_database_is_busy() -> None:
    t = task("d", deferrable=True)
    assert defer_reason(t, 10.0, 75.0, 0.0, 3600, db_active=14, db_busy_sessions=10) == (
        "database busy: 14 active sessions above 10"
    )
    assert defer_reason(t, 10.0, 75.0, 0.0, 3600, db_active=3, db_busy_sessions=10) is None
    # Unknown activity (the database cannot be read) is not "busy".
    assert defer_reason(t, 10.0, 75.0, 0.0, 3600, db_active=None, db_busy_sessions=10) is None
    assert defer_reason(t, 10.0, 75.0, 3600.0, 3600, db_active=14, db_busy_sessions=10) is None


def test_quiet_window_needs_a_week_and_finds_the_quietest_hours() -> None:
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from perfpilot.scheduler.best_hours import quiet_window

    madrid = ZoneInfo("Europe/Madrid")
    start = utc(2026, 1, 5, 0)

    def cpu(at: datetime) -> float:
        # Busy by day, quietest from 03:00 to 06:00 Madrid time.
        hour = at.astimezone(madrid).hour
        return 5.0 if 3 <= hour < 6 else 60.0

    points = [(start + timedelta(minutes=10 * i), 0.0) for i in range(6 * 24 * 8)]
    points = [(at, cpu(at)) for at, _ in points]
    found = quiet_window(points, madrid, hours=3, default_start_hour=1)
    assert (found.source, found.start_hour, found.mean_cpu_percent) == ("rollups", 3, 5.0)
    assert found.days_of_data > 7
    short = quiet_window(points[: 6 * 24 * 3], madrid, hours=3, default_start_hour=1)
    assert (short.source, short.start_hour, short.mean_cpu_percent) == ("default", 1, None)
