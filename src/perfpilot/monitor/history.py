"""The in-memory ring buffer of full-resolution samples (24 h by default), stored by column.

One float64 array of epoch seconds plus one float64 array per series, all preallocated to the
capacity, so an append writes one slot per series and never reallocates. 17,280 samples
(24 h at 5 s) of 40 series hold about 5.7 MB.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.intp]

DEFAULT_MAX_SERIES = 512


def history_capacity(history_hours: float, interval_s: float) -> int:
    """Samples needed to hold ``history_hours`` at one sample per ``interval_s``."""
    return math.ceil(history_hours * 3600 / interval_s)


@dataclass(frozen=True, slots=True)
class HistoryWindow:
    """Samples with since <= ts <= until, oldest first, bucket-averaged to at most the
    requested number of points. A value is None where the series was not measured."""

    since: datetime
    until: datetime
    timestamps: tuple[datetime, ...]
    series: Mapping[str, tuple[float | None, ...]]
    raw_points: int


class SeriesHistory:
    """Thread-safe bounded history: the sampling thread appends while API threads read."""

    def __init__(self, capacity: int, max_series: int = DEFAULT_MAX_SERIES) -> None:
        if capacity < 1 or max_series < 1:
            raise ValueError("capacity and max_series must be at least 1")
        self._capacity = capacity
        self._max_series = max_series
        self._ts: FloatArray = np.full(capacity, np.nan)
        self._columns: dict[str, FloatArray] = {}
        self._next = 0
        self._count = 0
        self._warned_series_cap = False
        self._lock = threading.Lock()

    @property
    def capacity(self) -> int:
        return self._capacity

    def __len__(self) -> int:
        with self._lock:
            return self._count

    @property
    def nbytes(self) -> int:
        """Bytes held by the timestamp and series arrays."""
        with self._lock:
            return self._ts.nbytes + sum(column.nbytes for column in self._columns.values())

    @property
    def latest_ts(self) -> datetime | None:
        with self._lock:
            if not self._count:
                return None
            return _to_datetime(float(self._ts[(self._next - 1) % self._capacity]))

    @property
    def oldest_ts(self) -> datetime | None:
        with self._lock:
            if not self._count:
                return None
            return _to_datetime(float(self._ts[self._oldest_index()]))

    def series_names(self) -> list[str]:
        """Names of the series held, in the order they first appeared."""
        with self._lock:
            return list(self._columns)

    def append(self, ts: datetime, values: Mapping[str, float]) -> None:
        """Store one sample, overwriting the oldest when full; a sample older than the
        latest is dropped, because windows rely on timestamps being in order."""
        epoch = _to_epoch(ts)
        with self._lock:
            latest = float(self._ts[(self._next - 1) % self._capacity])
            if self._count and epoch < latest:
                logger.warning("dropping sample at %s: older than the latest one", ts)
                return
            slot = self._next
            self._ts[slot] = epoch
            for name, column in self._columns.items():
                column[slot] = values.get(name, math.nan)
            for name, value in values.items():
                if name not in self._columns:
                    self._add_column(name, slot, value)
            self._next = (slot + 1) % self._capacity
            self._count = min(self._count + 1, self._capacity)

    def window(
        self,
        series: Collection[str] | None,
        since: datetime,
        until: datetime,
        max_points: int,
    ) -> HistoryWindow:
        """Samples in [since, until] for the named series (all when None; unknown names are
        left out), averaged over equal-count buckets when there are more than max_points."""
        if max_points < 1:
            raise ValueError("max_points must be at least 1")
        with self._lock:
            slots = self._slots_between(_to_epoch(since), _to_epoch(until))
            ts = self._ts[slots]
            names = list(self._columns) if series is None else list(series)
            columns = {n: self._columns[n][slots] for n in names if n in self._columns}
        buckets = _buckets(len(ts), max_points)
        return HistoryWindow(
            since=since,
            until=until,
            timestamps=tuple(_to_datetime(t) for t in _bucket_mean(ts, buckets).tolist()),
            series={name: _nullable(_bucket_mean(v, buckets)) for name, v in columns.items()},
            raw_points=len(ts),
        )

    def arrays_since(self, series: str, since: datetime) -> tuple[FloatArray, FloatArray]:
        """Epoch seconds and values of one series from ``since`` on, without absent points."""
        with self._lock:
            column = self._columns.get(series)
            if column is None:
                return np.empty(0), np.empty(0)
            slots = self._slots_between(_to_epoch(since), math.inf)
            ts, values = self._ts[slots], column[slots]
        present = ~np.isnan(values)
        return ts[present], values[present]

    def _add_column(self, name: str, slot: int, value: float) -> None:
        if len(self._columns) >= self._max_series:
            if not self._warned_series_cap:
                self._warned_series_cap = True
                logger.warning(
                    "history holds %d series, the maximum; dropping new series such as %r",
                    self._max_series,
                    name,
                )
            return
        column: FloatArray = np.full(self._capacity, np.nan)
        column[slot] = value
        self._columns[name] = column

    def _oldest_index(self) -> int:
        return (self._next - self._count) % self._capacity

    def _slots_between(self, low: float, high: float) -> IndexArray:
        # Physical slots oldest first; timestamps along them are sorted, so binary search.
        order = (self._oldest_index() + np.arange(self._count)) % self._capacity
        ordered_ts = self._ts[order]
        start = int(np.searchsorted(ordered_ts, low, side="left"))
        stop = int(np.searchsorted(ordered_ts, high, side="right"))
        return order[start:stop]


def _buckets(points: int, max_points: int) -> IndexArray:
    """Bucket number of each point: contiguous, nearly equal-sized, none empty."""
    if points <= max_points:
        return np.arange(points)
    return np.arange(points) * max_points // points


def _bucket_mean(values: FloatArray, buckets: IndexArray) -> FloatArray:
    """Mean of the non-NaN values in each bucket; NaN where a bucket has none."""
    if values.size == 0:
        return values
    present = ~np.isnan(values)
    sums = np.bincount(buckets, weights=np.where(present, values, 0.0))
    counts = np.bincount(buckets, weights=present.astype(np.float64))
    means: FloatArray = np.full(sums.shape, np.nan)
    np.divide(sums, counts, out=means, where=counts > 0)
    return means


def _nullable(values: FloatArray) -> tuple[float | None, ...]:
    return tuple(None if math.isnan(v) else v for v in values.tolist())


def _to_epoch(ts: datetime) -> float:
    if ts.tzinfo is None:
        raise ValueError(f"naive datetime {ts!r}: history needs timezone-aware timestamps")
    return ts.timestamp()


def _to_datetime(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)
