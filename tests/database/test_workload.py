"""Workload reading against the real test PostgreSQL, and the pure delta arithmetic."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg import sql

from perfpilot.core.clock import ManualClock
from perfpilot.database.connection import APPLICATION_NAME
from perfpilot.database.workload import (
    SQL_MARKER,
    StatementCounters,
    WorkloadSnapshot,
    classify,
    group_statements,
    read_workload,
)
from perfpilot.database.workload_availability import WorkloadStatus, read_availability
from perfpilot.database.workload_delta import WorkloadDelta, snapshot_delta, workload_since
from perfpilot.database.workload_recorder import WorkloadRecorder
from perfpilot.database.workload_totals import WorkloadTotals

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

Conn = psycopg.Connection[Any]


@pytest.fixture
def conn(pg_dsn: str) -> Iterator[Conn]:
    with psycopg.connect(pg_dsn, autocommit=True, application_name=APPLICATION_NAME) as c:
        c.execute("CREATE TABLE guests (id int PRIMARY KEY, email text NOT NULL)")
        c.execute("INSERT INTO guests SELECT g, 'guest' || g FROM generate_series(1, 1000) g")
        yield c


@pytest.fixture
def role(pg_dsn: str) -> Iterator[str]:
    """A login role without privileges (roles are cluster-wide: unique name, dropped after)."""
    name = f"app_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(name)))
    yield name
    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
        admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def _as(dsn: str, user: str) -> str:
    return dsn.replace("postgresql://postgres@", f"postgresql://{user}@")


def counters(queryid: int, calls: int, total_ms: float, **changes: Any) -> StatementCounters:
    base = StatementCounters(
        queryid=queryid,
        userid=10,
        toplevel=True,
        fingerprint=f"fp{queryid}",
        query=f"SELECT {queryid}",
        calls=calls,
        total_ms=total_ms,
        rows=calls,
        shared_blks_hit=calls * 3,
        shared_blks_read=calls,
    )
    return replace(base, **changes)


def snapshot(at: datetime, *entries: StatementCounters, reset: datetime | None = None) -> Any:
    return WorkloadSnapshot("db", at, tuple(entries), stats_reset_at=reset)


# ------------------------------------------------------------------ reading


def test_statements_with_one_fingerprint_are_grouped_across_queryids(conn: Conn) -> None:
    for i in range(150):
        conn.execute("SELECT email FROM guests WHERE id IN (%s, %s)", (i, i + 1))
        conn.execute("SELECT email FROM guests WHERE id IN (%s, %s, %s)", (i, i + 1, i + 2))

    reading = read_workload(conn, T0)

    assert reading.availability.status is WorkloadStatus.AVAILABLE
    assert reading.snapshot is not None
    statements = reading.snapshot.statements
    groups = [g for g in group_statements(statements) if "email FROM guests" in g.query]
    assert len(groups) == 1
    group = groups[0]
    # The IN lists normalize to different texts, hence two queryids, but one fingerprint.
    assert len(group.queryids) == 2
    assert group.calls == 300
    assert group.rows == 150 * 2 + 150 * 3 - 2  # id 0 does not exist (once per list)
    assert group.mean_ms is not None
    assert group.mean_ms == pytest.approx(group.total_ms / 300)
    assert group.shared_blks_hit + group.shared_blks_read > 0


def test_own_marked_statements_utilities_and_excluded_roles_are_left_out(
    conn: Conn, pg_dsn: str, role: str
) -> None:
    conn.execute(sql.SQL("GRANT SELECT ON guests TO {}").format(sql.Identifier(role)))
    conn.execute(f"{SQL_MARKER} SELECT count(*) FROM guests WHERE id > 10")
    conn.execute("SET work_mem = '8MB'")
    conn.execute("VACUUM guests")
    conn.execute("SELECT count(*) FROM guests WHERE id < 5")
    with psycopg.connect(_as(pg_dsn, role), autocommit=True) as other:
        other.execute("SELECT email FROM guests WHERE id = 7")

    first = read_workload(conn, T0).snapshot
    second = read_workload(conn, T0, exclude_roles=[role]).snapshot

    assert first is not None
    assert second is not None
    texts = {s.query for s in first.statements}
    assert "SELECT count(*) FROM guests WHERE id < $1" in texts
    assert "SELECT email FROM guests WHERE id = $1" in texts
    assert not any(t.startswith(SQL_MARKER) for t in texts)  # includes the reader's own query
    assert not any("work_mem" in t or "VACUUM" in t for t in texts)
    assert "SELECT email FROM guests WHERE id = $1" not in {s.query for s in second.statements}


def test_classify_tells_workload_from_utility_and_ignores_comments() -> None:
    assert classify("WITH x AS (SELECT $1) INSERT INTO t SELECT * FROM x").workload
    assert classify("MERGE INTO t USING s ON t.a = s.a WHEN MATCHED THEN DELETE").workload
    assert not classify("VACUUM t").workload
    assert not classify("EXPLAIN SELECT 1").workload
    assert not classify("SET work_mem = $1").workload
    assert classify("/* app */ SELECT $1").fingerprint == classify("SELECT $1").fingerprint
    unparsable = classify("SELECT FROM WHERE ((")
    assert unparsable.workload
    assert unparsable.fingerprint.startswith("text:")


def test_missing_extension_says_which_database_and_what_to_run(pg_server: Any) -> None:
    name = f"bare_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server.dsn(), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
    try:
        with psycopg.connect(pg_server.dsn(name), autocommit=True) as bare:
            reading = read_workload(bare, T0)
            still_works = bare.execute("SELECT 1").fetchone()
    finally:
        with psycopg.connect(pg_server.dsn(), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))

    availability = reading.availability
    assert reading.snapshot is None
    assert still_works == (1,)
    assert availability.status is WorkloadStatus.EXTENSION_MISSING
    assert not availability.available
    assert availability.database == name
    # The test server preloads the library, so only CREATE EXTENSION is needed.
    assert availability.remedies == (
        f'run CREATE EXTENSION pg_stat_statements; in database "{name}"',
    )


def test_role_without_read_all_stats_gets_the_grant_to_run(pg_dsn: str, role: str) -> None:
    with psycopg.connect(_as(pg_dsn, role), autocommit=True) as limited:
        availability = read_availability(limited)

    assert availability.status is WorkloadStatus.LIMITED
    assert availability.available
    assert availability.remedies == (f'GRANT pg_read_all_stats TO "{role}";',)


def test_snapshots_give_the_calls_made_between_them(conn: Conn) -> None:
    def run(times: int) -> None:
        for i in range(times):
            conn.execute("SELECT email FROM guests WHERE id = %s", (i,))

    run(3)
    first = read_workload(conn, T0).snapshot
    run(7)
    second = read_workload(conn, T0 + timedelta(minutes=1)).snapshot
    # A reset scoped to this database (never the argument-less, cluster-wide one).
    conn.execute(
        "SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database"
        " WHERE datname = current_database()), 0)"
    )
    run(2)
    third = read_workload(conn, T0 + timedelta(minutes=2)).snapshot
    assert first is not None
    assert second is not None
    assert third is not None

    def calls(delta: WorkloadDelta) -> int:
        return sum(s.calls for s in delta.statements if s.query.endswith("id = $1"))

    after_run = snapshot_delta(first, second)
    after_reset = snapshot_delta(second, third)
    assert (calls(after_run), after_run.stats_reset) == (7, False)
    assert (calls(after_reset), after_reset.stats_reset) == (2, True)


class ListStore:
    """The snapshot store protocol over a list (the real backends have their own tests)."""

    def __init__(self) -> None:
        self.saved: list[WorkloadDelta] = []

    def save_workload_delta(self, delta: WorkloadDelta) -> None:
        self.saved.append(delta)

    def load_workload_deltas(
        self, database: str, since: datetime, until: datetime | None = None
    ) -> list[WorkloadDelta]:
        end = until or datetime.max.replace(tzinfo=UTC)
        return [d for d in self.saved if d.database == database and since < d.ended_at <= end]

    def prune_workload_deltas(self, before: datetime) -> int:
        kept = [d for d in self.saved if d.ended_at >= before]
        removed, self.saved = len(self.saved) - len(kept), kept
        return removed


def test_recorder_stores_the_delta_of_each_period_after_a_baseline(conn: Conn) -> None:
    store, clock = ListStore(), ManualClock(T0)
    recorder = WorkloadRecorder(store, clock)

    _, baseline = recorder.record(conn)
    for i in range(4):
        conn.execute("SELECT email FROM guests WHERE id = %s", (i,))
    clock.advance(60)
    _, delta = recorder.record(conn)

    assert baseline is None
    assert delta is not None
    assert store.saved == [delta]
    assert (delta.started_at, delta.ended_at) == (T0, T0 + timedelta(seconds=60))
    groups = workload_since(store.load_workload_deltas(delta.database, T0), T0)
    assert [(g.query, g.calls) for g in groups if "guests" in g.query] == [
        ("SELECT email FROM guests WHERE id = $1", 4)
    ]


def test_recorder_totals_only_grow_across_a_pg_stat_statements_reset(conn: Conn) -> None:
    clock = ManualClock(T0)
    recorder = WorkloadRecorder(ListStore(), clock)
    assert recorder.totals is None

    def lookups(count: int) -> None:
        for i in range(count):
            conn.execute("SELECT email FROM guests WHERE id = %s", (i,))

    recorder.record(conn)
    assert recorder.totals == WorkloadTotals()
    lookups(7)
    clock.advance(60)
    _, first = recorder.record(conn)
    after_run = recorder.totals
    conn.execute(
        "SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database"
        " WHERE datname = current_database()), 0)"
    )
    lookups(2)
    clock.advance(60)
    _, second = recorder.record(conn)

    assert first is not None
    assert second is not None
    assert second.stats_reset is True
    assert after_run is not None
    assert after_run.calls == sum(e.calls for e in first.statements) >= 7
    assert recorder.totals == after_run.plus(second)
    assert recorder.totals.calls >= after_run.calls + 2
    assert recorder.totals.total_ms >= after_run.total_ms


# ------------------------------------------------------------------ pure delta arithmetic


def test_delta_subtracts_counts_new_entries_and_drops_idle_and_vanished_ones() -> None:
    before = snapshot(T0, counters(1, 10, 100.0), counters(2, 5, 50.0), counters(3, 4, 8.0))
    after = snapshot(
        T0 + timedelta(minutes=5),
        counters(1, 15, 160.0),  # 5 more calls, 60 ms more
        counters(2, 5, 50.0),  # idle
        counters(4, 2, 30.0),  # new; entry 3 vanished (evicted)
    )

    delta = snapshot_delta(before, after)

    assert delta.started_at == T0
    assert delta.stats_reset is False
    by_id = {s.queryid: s for s in delta.statements}
    assert set(by_id) == {1, 4}
    assert (by_id[1].calls, by_id[1].total_ms, by_id[1].rows) == (5, 60.0, 5)
    assert (by_id[1].shared_blks_hit, by_id[1].shared_blks_read) == (15, 5)
    assert (by_id[4].calls, by_id[4].total_ms) == (2, 30.0)


def test_counters_that_went_backwards_count_from_zero() -> None:
    before = snapshot(T0, counters(1, 100, 1000.0), counters(2, 10, 10.0))
    after = snapshot(T0 + timedelta(minutes=1), counters(1, 4, 40.0), counters(2, 12, 14.0))

    delta = snapshot_delta(before, after)

    assert delta.stats_reset is True
    by_id = {s.queryid: (s.calls, s.total_ms) for s in delta.statements}
    assert by_id == {1: (4, 40.0), 2: (2, 4.0)}


def test_a_newer_reset_time_makes_every_entry_count_from_zero() -> None:
    before = snapshot(T0, counters(1, 10, 10.0), reset=T0 - timedelta(days=1))
    # More calls than before, yet the reset time moved: the 12 calls all happened after it.
    after = snapshot(T0 + timedelta(minutes=1), counters(1, 12, 20.0), reset=T0)

    delta = snapshot_delta(before, after)

    assert delta.stats_reset is True
    assert [(s.calls, s.total_ms) for s in delta.statements] == [(12, 20.0)]


def test_delta_refuses_snapshots_out_of_order_or_of_other_databases() -> None:
    first = snapshot(T0, counters(1, 1, 1.0))
    with pytest.raises(ValueError, match="not after"):
        snapshot_delta(first, first)
    with pytest.raises(ValueError, match="differ"):
        snapshot_delta(first, replace(first, database="other", taken_at=T0 + timedelta(1)))


def test_workload_since_sums_only_the_periods_ending_after_it() -> None:
    def delta(end_min: int, *entries: StatementCounters) -> WorkloadDelta:
        end = T0 + timedelta(minutes=end_min)
        return WorkloadDelta("db", end - timedelta(minutes=10), end, False, entries)

    same_fp = {"fingerprint": "shared"}
    deltas = [
        delta(10, counters(1, 100, 5000.0, **same_fp)),
        delta(20, counters(1, 3, 30.0, **same_fp), counters(2, 1, 900.0, **same_fp)),
        delta(30, counters(1, 2, 20.0, **same_fp), counters(5, 4, 4.0)),
    ]

    groups = workload_since(deltas, T0 + timedelta(minutes=10))

    assert [(g.fingerprint, g.calls, g.total_ms, g.queryids) for g in groups] == [
        ("shared", 6, 950.0, (1, 2)),
        ("fp5", 4, 4.0, (5,)),
    ]
    assert groups[0].mean_ms == pytest.approx(950.0 / 6)


def test_totals_add_every_entry_of_a_delta() -> None:
    delta = snapshot_delta(
        snapshot(T0, counters(1, 10, 100.0)),
        snapshot(T0 + timedelta(minutes=1), counters(1, 14, 150.0), counters(2, 3, 9.0)),
    )

    totals = WorkloadTotals(calls=1, total_ms=1.0, shared_blks_hit=1, shared_blks_read=1).plus(
        delta
    )

    assert totals == WorkloadTotals(
        calls=1 + 4 + 3,
        total_ms=1.0 + 50.0 + 9.0,
        shared_blks_hit=1 + 12 + 9,
        shared_blks_read=1 + 4 + 3,
    )
