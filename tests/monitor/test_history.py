"""SeriesHistory: ring behaviour, absent values, downsampling, memory and concurrent use."""

from __future__ import annotations

import logging
import math
import threading
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from perfpilot.monitor.history import SeriesHistory, history_capacity

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
END = T0 + timedelta(days=1)


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_capacity_for_24h_at_5s() -> None:
    assert history_capacity(24, 5) == 17_280
    assert history_capacity(1, 7) == 515


def test_oldest_samples_are_dropped_when_full() -> None:
    history = SeriesHistory(capacity=10)
    for i in range(15):
        history.append(_at(5 * i), {"cpu": float(i)})

    window = history.window(["cpu"], T0, END, max_points=100)

    assert len(history) == 10
    assert history.oldest_ts == _at(25)
    assert history.latest_ts == _at(70)
    assert window.series["cpu"] == tuple(float(i) for i in range(5, 15))
    assert window.timestamps == tuple(_at(5 * i) for i in range(5, 15))
    assert window.raw_points == 10


def test_empty_history() -> None:
    history = SeriesHistory(capacity=4)

    window = history.window(None, T0, END, max_points=10)

    assert len(history) == 0
    assert history.latest_ts is None
    assert history.oldest_ts is None
    assert window.timestamps == ()
    assert window.series == {}


def test_absent_values_are_none() -> None:
    history = SeriesHistory(capacity=10)
    history.append(_at(0), {"cpu": 1.0})
    history.append(_at(5), {"cpu": 2.0, "disk:/": 40.0})
    history.append(_at(10), {"disk:/": 41.0})
    history.append(_at(15), {"cpu": math.nan})

    window = history.window(None, T0, END, max_points=10)

    assert history.series_names() == ["cpu", "disk:/"]
    assert window.series["cpu"] == (1.0, 2.0, None, None)
    assert window.series["disk:/"] == (None, 40.0, 41.0, None)


def test_reused_slot_does_not_keep_a_stale_value() -> None:
    history = SeriesHistory(capacity=3)
    history.append(_at(0), {"a": 1.0, "b": 99.0})
    for i in range(1, 4):
        history.append(_at(i), {"a": float(i)})

    window = history.window(None, T0, END, max_points=10)

    assert window.series["a"] == (1.0, 2.0, 3.0)
    assert window.series["b"] == (None, None, None)


def test_window_bounds_are_inclusive_and_unknown_series_left_out() -> None:
    history = SeriesHistory(capacity=100)
    for i in range(10):
        history.append(_at(10 * i), {"cpu": float(i), "memory": 50.0})

    window = history.window(["cpu", "nope"], _at(20), _at(50), max_points=100)

    assert window.timestamps == (_at(20), _at(30), _at(40), _at(50))
    assert window.series == {"cpu": (2.0, 3.0, 4.0, 5.0)}
    assert window.since == _at(20)
    assert window.until == _at(50)


def test_downsampling_averages_equal_buckets() -> None:
    history = SeriesHistory(capacity=100)
    for i in range(10):
        history.append(_at(i), {"v": float(i)})

    window = history.window(["v"], T0, END, max_points=5)

    assert window.raw_points == 10
    assert window.series["v"] == (0.5, 2.5, 4.5, 6.5, 8.5)
    assert window.timestamps == tuple(_at(s) for s in (0.5, 2.5, 4.5, 6.5, 8.5))


def test_downsampling_uneven_buckets_and_absent_values() -> None:
    history = SeriesHistory(capacity=100)
    # 10 points into 3 buckets: sizes 4, 3, 3.
    values = [0.0, 2.0, math.nan, 4.0, 5.0, 5.0, 5.0, math.nan, math.nan, math.nan]
    for i, value in enumerate(values):
        history.append(_at(i), {"v": value, "w": float(i)})

    window = history.window(None, T0, END, max_points=3)

    assert window.series["v"] == (2.0, 5.0, None)
    assert window.series["w"] == (1.5, 5.0, 8.0)
    assert len(window.timestamps) == 3


def test_max_points_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_points"):
        SeriesHistory(capacity=4).window(None, T0, END, max_points=0)


def test_arrays_since_skips_absent_and_older_points() -> None:
    history = SeriesHistory(capacity=100)
    for i in range(6):
        history.append(_at(60 * i), {"cpu": float(i)} if i != 3 else {"memory": 1.0})

    ts, values = history.arrays_since("cpu", _at(60))

    np.testing.assert_array_equal(values, [1.0, 2.0, 4.0, 5.0])
    np.testing.assert_array_equal(ts, [_at(60 * i).timestamp() for i in (1, 2, 4, 5)])
    empty_ts, empty_values = history.arrays_since("unknown", T0)
    assert empty_ts.size == 0
    assert empty_values.size == 0


def test_memory_of_a_full_day_of_40_series() -> None:
    capacity = history_capacity(24, 5)
    history = SeriesHistory(capacity)
    values = {f"s{i}": float(i) for i in range(40)}
    history.append(T0, values)
    allocated = history.nbytes

    for i in range(1, capacity + 100):
        history.append(_at(5 * i), values)

    # One float64 timestamp column plus 40 series columns, allocated once: about 5.7 MB.
    assert allocated == 41 * capacity * 8
    assert history.nbytes == allocated
    assert len(history) == capacity


def test_series_beyond_the_cap_are_dropped_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    history = SeriesHistory(capacity=10, max_series=2)

    with caplog.at_level(logging.WARNING, logger="perfpilot.monitor.history"):
        history.append(_at(0), {"a": 1.0, "b": 2.0, "c": 3.0})
        history.append(_at(1), {"a": 1.0, "d": 4.0})

    assert history.series_names() == ["a", "b"]
    assert len([r for r in caplog.records if "maximum" in r.getMessage()]) == 1
    assert history.window(None, T0, END, 10).series["b"] == (2.0, None)


def test_sample_older_than_latest_is_dropped() -> None:
    history = SeriesHistory(capacity=10)
    history.append(_at(10), {"cpu": 1.0})
    history.append(_at(5), {"cpu": 2.0})
    history.append(_at(10), {"cpu": 3.0})

    assert len(history) == 2
    assert history.window(["cpu"], T0, END, 10).series["cpu"] == (1.0, 3.0)


def test_naive_timestamp_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone"):
        SeriesHistory(capacity=4).append(datetime(2024, 5, 1), {"cpu": 1.0})  # noqa: DTZ001


def test_reads_during_appends_see_consistent_rows() -> None:
    history = SeriesHistory(capacity=50)
    total = 5_000

    def write() -> None:
        for i in range(total):
            history.append(_at(i), {"x": float(i), "y": float(-i)})

    writer = threading.Thread(target=write)
    writer.start()
    windows = []
    while writer.is_alive():
        windows.append(history.window(None, T0, END, max_points=1_000))
    writer.join()
    windows.append(history.window(None, T0, END, max_points=1_000))

    for window in windows:
        offsets = [(t - T0).total_seconds() for t in window.timestamps]
        assert offsets == sorted(offsets)
        assert len(offsets) <= 50
        if offsets:
            assert list(window.series["x"]) == offsets
            assert list(window.series["y"]) == [-o for o in offsets]
    assert windows[-1].series["x"][-1] == float(total - 1)
