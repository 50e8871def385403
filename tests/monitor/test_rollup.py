"""Minute rollups and hourly aggregation: exact figures and minute boundaries."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import pytest

from perfpilot.monitor.model import Rollup
from perfpilot.monitor.rollup import MinuteRollups, hourly

T10 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def _at(seconds: float) -> datetime:
    return T10 + timedelta(seconds=seconds)


def test_minute_closes_on_the_first_sample_of_a_later_minute() -> None:
    rollups = MinuteRollups()

    assert rollups.add(_at(5), {"cpu": 10.0, "memory": 50.0}) == []
    assert rollups.add(_at(15), {"cpu": 20.0}) == []
    assert rollups.add(_at(45), {"cpu": 60.0, "memory": 70.0}) == []
    closed = rollups.add(_at(60), {"cpu": 99.0})

    assert closed == [
        Rollup("cpu", T10, avg=30.0, min=10.0, max=60.0, count=3),
        Rollup("memory", T10, avg=60.0, min=50.0, max=70.0, count=2),
    ]
    assert rollups.open_minute == _at(60)


def test_last_microsecond_belongs_to_the_open_minute() -> None:
    rollups = MinuteRollups()
    rollups.add(_at(0), {"cpu": 1.0})

    assert rollups.add(_at(59.999999), {"cpu": 3.0}) == []
    assert rollups.flush() == [Rollup("cpu", T10, 2.0, 1.0, 3.0, 2)]


def test_gap_closes_only_the_open_minute() -> None:
    rollups = MinuteRollups()
    rollups.add(_at(30), {"cpu": 5.0})

    closed = rollups.add(_at(5 * 60 + 1), {"cpu": 7.0})

    assert closed == [Rollup("cpu", T10, 5.0, 5.0, 5.0, 1)]
    assert rollups.flush() == [Rollup("cpu", T10 + timedelta(minutes=5), 7.0, 7.0, 7.0, 1)]


def test_nan_values_are_not_counted() -> None:
    rollups = MinuteRollups()
    rollups.add(_at(0), {"cpu": 4.0, "lag": math.nan})
    rollups.add(_at(1), {"cpu": math.nan})

    assert rollups.flush() == [Rollup("cpu", T10, 4.0, 4.0, 4.0, 1)]


def test_flush_closes_once() -> None:
    rollups = MinuteRollups()

    assert rollups.flush() == []
    rollups.add(_at(0), {"cpu": 1.0})
    assert len(rollups.flush()) == 1
    assert rollups.flush() == []
    assert rollups.open_minute is None


def test_sample_of_a_closed_minute_is_dropped() -> None:
    rollups = MinuteRollups()
    rollups.add(_at(70), {"cpu": 10.0})

    assert rollups.add(_at(30), {"cpu": 1000.0}) == []
    assert rollups.flush() == [Rollup("cpu", T10 + timedelta(minutes=1), 10.0, 10.0, 10.0, 1)]


def test_minutes_are_utc() -> None:
    madrid_summer = timezone(timedelta(hours=2))
    rollups = MinuteRollups()
    rollups.add(datetime(2024, 5, 1, 12, 0, 30, tzinfo=madrid_summer), {"cpu": 1.0})

    (rollup,) = rollups.flush()

    assert rollup.minute == T10
    assert rollup.minute.utcoffset() == timedelta(0)


def test_naive_timestamp_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone"):
        MinuteRollups().add(datetime(2024, 5, 1, 10, 0), {"cpu": 1.0})  # noqa: DTZ001


def test_hourly_weights_the_average_by_count() -> None:
    minutes = [
        Rollup("cpu", T10, avg=10.0, min=5.0, max=15.0, count=1),
        Rollup("cpu", T10 + timedelta(minutes=59), avg=40.0, min=30.0, max=90.0, count=2),
        Rollup("cpu", T10 + timedelta(minutes=60), avg=7.0, min=7.0, max=7.0, count=12),
    ]

    assert hourly(minutes) == [
        Rollup("cpu", T10, avg=30.0, min=5.0, max=90.0, count=3),
        Rollup("cpu", T10 + timedelta(hours=1), avg=7.0, min=7.0, max=7.0, count=12),
    ]


def test_hourly_keeps_series_apart_and_ignores_input_order() -> None:
    minutes = [
        Rollup("memory", T10 + timedelta(minutes=1), 60.0, 60.0, 60.0, 1),
        Rollup("cpu", T10 + timedelta(hours=1), 3.0, 3.0, 3.0, 1),
        Rollup("cpu", T10 + timedelta(minutes=2), 2.0, 2.0, 2.0, 1),
        Rollup("memory", T10, 40.0, 40.0, 40.0, 1),
    ]

    assert hourly(minutes) == [
        Rollup("cpu", T10, 2.0, 2.0, 2.0, 1),
        Rollup("cpu", T10 + timedelta(hours=1), 3.0, 3.0, 3.0, 1),
        Rollup("memory", T10, 50.0, 40.0, 60.0, 2),
    ]


def test_hourly_of_nothing() -> None:
    assert hourly([]) == []


def test_mean_of_equal_values_stays_within_min_and_max() -> None:
    # Seen on a real host: twelve equal memory readings whose float sum, divided back,
    # came out one ulp below the value itself.
    value = 3.6093847633715246
    rollups = MinuteRollups()
    for second in range(0, 60, 5):
        rollups.add(_at(second), {"memory": value})
    (closed,) = rollups.flush()
    assert closed.min <= closed.avg <= closed.max
    assert closed.avg == value
