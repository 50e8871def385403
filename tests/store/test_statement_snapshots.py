"""Workload periods (pg_stat_statements deltas) on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from perfpilot.database.ports import StatementSnapshotStore
from perfpilot.database.workload import StatementCounters
from perfpilot.database.workload_delta import WorkloadDelta, workload_since
from perfpilot.store import Store, open_store
from perfpilot.store.workload_deltas import WorkloadDeltaRepository

T0 = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/perfpilot.db"
    else:
        url = request.getfixturevalue("pg_dsn")
    opened = open_store(url)
    opened.migrate()
    yield opened
    opened.close()


@pytest.fixture
def deltas(store: Store) -> StatementSnapshotStore:
    return WorkloadDeltaRepository(store.runner)


def statement(
    queryid: int, calls: int, total_ms: float, fingerprint: str = "fp"
) -> StatementCounters:
    return StatementCounters(
        queryid=queryid,
        userid=16384,
        toplevel=True,
        fingerprint=fingerprint,
        query=f"SELECT * FROM reservations WHERE guest_id = $1 /* {queryid} */",
        calls=calls,
        total_ms=total_ms,
        rows=calls * 2,
        shared_blks_hit=calls * 10,
        shared_blks_read=calls,
    )


def period(end_min: int, *statements: StatementCounters, db: str = "hotel") -> WorkloadDelta:
    end = T0 + timedelta(minutes=end_min)
    return WorkloadDelta(db, end - timedelta(minutes=5), end, False, statements)


def test_saved_periods_load_back_equal_in_time_order(deltas: StatementSnapshotStore) -> None:
    later = period(10, statement(-9_187_832_351_455_373_177, 3, 12.5))
    earlier = WorkloadDelta(
        "hotel", T0, T0 + timedelta(minutes=5), True, (statement(1, 4, 8.25), statement(2, 1, 0.5))
    )
    empty = period(15)
    for delta in (later, earlier, empty):
        deltas.save_workload_delta(delta)

    assert deltas.load_workload_deltas("hotel", T0) == [earlier, later, empty]


def test_load_is_bounded_and_scoped_to_the_database(deltas: StatementSnapshotStore) -> None:
    for end in (5, 10, 15):
        deltas.save_workload_delta(period(end, statement(end, end, float(end))))
    deltas.save_workload_delta(period(10, statement(99, 1, 1.0), db="other"))

    loaded = deltas.load_workload_deltas(
        "hotel", T0 + timedelta(minutes=5), T0 + timedelta(minutes=10)
    )

    assert [d.ended_at for d in loaded] == [T0 + timedelta(minutes=10)]
    assert [s.queryid for s in loaded[0].statements] == [10]


def test_saving_a_period_again_replaces_its_figures(deltas: StatementSnapshotStore) -> None:
    deltas.save_workload_delta(period(5, statement(1, 4, 8.0)))
    deltas.save_workload_delta(period(5, statement(1, 6, 9.0)))

    [loaded] = deltas.load_workload_deltas("hotel", T0)
    assert [(s.calls, s.total_ms) for s in loaded.statements] == [(6, 9.0)]


def test_prune_removes_old_periods_with_their_statements(deltas: StatementSnapshotStore) -> None:
    for end in (5, 10, 15):
        deltas.save_workload_delta(period(end, statement(end, 1, 1.0)))

    assert deltas.prune_workload_deltas(T0 + timedelta(minutes=10)) == 1
    assert [d.ended_at.minute for d in deltas.load_workload_deltas("hotel", T0)] == [10, 15]


def test_slow_in_the_last_hour_from_stored_periods(deltas: StatementSnapshotStore) -> None:
    deltas.save_workload_delta(period(5, statement(1, 1000, 90_000.0)))  # two hours ago
    deltas.save_workload_delta(period(125, statement(1, 10, 500.0), statement(2, 5, 50.0)))
    now = T0 + timedelta(minutes=125)

    groups = workload_since(
        deltas.load_workload_deltas("hotel", now - timedelta(hours=1)), now - timedelta(hours=1)
    )

    assert [(g.calls, g.total_ms, g.queryids) for g in groups] == [(15, 550.0, (1, 2))]
