"""The Database Tuner end to end on the real PostgreSQL: plan, apply, audit, judge, maintain."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from perfpilot.core.audit import Outcome
from perfpilot.core.clock import ManualClock
from perfpilot.core.risk import RiskPolicy, Trigger
from perfpilot.core.settings import DatabaseConfig, RiskLevel
from perfpilot.database.impact import IndexVerdict
from perfpilot.database.ledger import BuiltIndex
from perfpilot.database.plan import ActionKind
from perfpilot.database.tuner import DatabaseTuner, UnknownActions
from perfpilot.store import Store, open_store
from perfpilot.store.audit import AuditRepository
from perfpilot.store.index_ledger import IndexLedgerRepository
from perfpilot.store.workload_deltas import WorkloadDeltaRepository

T0 = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
LOOKUP = "SELECT id, check_in FROM reservations WHERE guest_id = %s"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    opened.migrate()
    yield opened
    opened.close()


@pytest.fixture
def hotel(pg_dsn: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE reservations (id serial PRIMARY KEY, guest_id int NOT NULL,"
            " check_in date NOT NULL, notes text)"
        )
        conn.execute(
            "INSERT INTO reservations (guest_id, check_in, notes)"
            " SELECT g % 8000, date '2026-01-01' + g % 365, repeat('x', 40)"
            " FROM generate_series(1, 80000) g"
        )
        conn.execute("ANALYZE reservations")
        yield conn


def run_lookups(conn: psycopg.Connection[tuple[object, ...]], times: int) -> None:
    for guest in range(times):
        conn.execute(LOOKUP, (guest,)).fetchall()
    # Backends flush their table and index counters about once a second; the tests read them
    # right away, so this session flushes as soon as it is idle.
    conn.execute("SELECT pg_stat_force_next_flush()")


def make_tuner(pg_dsn: str, store: Store, clock: ManualClock, **config: object) -> DatabaseTuner:
    return DatabaseTuner(
        pg_dsn,
        DatabaseConfig.model_validate({"settle_minutes": 60, **config}),
        clock,
        WorkloadDeltaRepository(store.runner),
        IndexLedgerRepository(store.runner),
        AuditRepository(store.runner),
        RiskPolicy(auto_optimize=False, auto_max_risk=RiskLevel.LOW),
    )


def test_report_plans_the_index_and_only_force_builds_it(
    pg_dsn: str, store: Store, hotel: psycopg.Connection[tuple[object, ...]]
) -> None:
    run_lookups(hotel, 150)
    clock = ManualClock(T0)
    tuner = make_tuner(pg_dsn, store, clock)
    report = tuner.report()
    assert report.workload.availability.available
    assert report.indexes is not None
    assert report.indexes.verified
    creates = [a for a in report.actions if a.kind is ActionKind.CREATE_INDEX]
    assert [a.target for a in creates] == ["public.reservations(guest_id)"]
    action = creates[0]
    assert action.risk is RiskLevel.MEDIUM
    assert action.statement.startswith("CREATE INDEX CONCURRENTLY")
    assert action.before_mean_ms is not None
    assert action.before_mean_ms > 0

    _, planned = tuner.optimize(Trigger.REQUEST, [action.id])
    assert [o.outcome for o in planned] == [Outcome.PLANNED]
    assert _index_exists(hotel, action.name) is False

    with pytest.raises(UnknownActions, match="nope"):
        tuner.optimize(Trigger.FORCED, ["nope"])

    _, applied = tuner.optimize(Trigger.FORCED, [action.id])
    assert [o.outcome for o in applied] == [Outcome.APPLIED], applied[0].detail
    assert _index_exists(hotel, action.name) is True
    (built,) = IndexLedgerRepository(store.runner).built()
    assert built.name == action.name
    assert built.fingerprints == action.fingerprints
    (entry,) = AuditRepository(store.runner).entries()
    assert entry.action == "create_index"
    assert entry.trigger == "forced"
    assert entry.outcome is Outcome.APPLIED
    assert entry.statement.startswith("CREATE INDEX CONCURRENTLY")


def test_scheduled_run_applies_nothing_without_auto_optimize(
    pg_dsn: str, store: Store, hotel: psycopg.Connection[tuple[object, ...]]
) -> None:
    run_lookups(hotel, 150)
    tuner = make_tuner(pg_dsn, store, ManualClock(T0))
    _, outcomes = tuner.optimize(Trigger.SCHEDULED)
    creates = [o for o in outcomes if o.action.kind is ActionKind.CREATE_INDEX]
    assert creates
    assert all(o.outcome is Outcome.SKIPPED for o in creates)
    assert "PERFORMANCE_AUTO_OPTIMIZE" in creates[0].detail
    assert AuditRepository(store.runner).entries() == []


def test_index_that_helps_is_kept_and_useless_one_dropped_and_not_proposed_again(
    pg_dsn: str, store: Store, hotel: psycopg.Connection[tuple[object, ...]]
) -> None:
    run_lookups(hotel, 150)
    clock = ManualClock(T0)
    tuner = make_tuner(pg_dsn, store, clock)
    report = tuner.report()
    action = next(a for a in report.actions if a.kind is ActionKind.CREATE_INDEX)
    tuner.optimize(Trigger.FORCED, [action.id])

    # The index is used by the workload it was built for: its queries get faster.
    assert tuner.record_workload() is False  # baseline after the build
    clock.advance(30 * 60)
    run_lookups(hotel, 150)
    assert tuner.record_workload() is True
    clock.advance(45 * 60)
    (judged,) = tuner.judge_indexes()
    assert judged[1] == IndexVerdict.HELPED
    assert _index_exists(hotel, action.name) is True

    # Mark a second, unused index as built by perfpilot: no scans, so it is dropped.
    hotel.execute("CREATE INDEX perfpilot_reservations_check_in_idx ON reservations (check_in)")
    ledger = IndexLedgerRepository(store.runner)
    ledger.record_built(
        BuiltIndex(
            "public",
            "perfpilot_reservations_check_in_idx",
            "reservations",
            '"check_in"',
            clock.now(),
            ("f",),
            12.0,
        )
    )
    clock.advance(2 * 3600)
    (judged,) = tuner.judge_indexes()
    assert judged[1] == IndexVerdict.UNUSED
    assert _index_exists(hotel, "perfpilot_reservations_check_in_idx") is False
    assert AuditRepository(store.runner).entries()[0].outcome is Outcome.REVERTED


def test_rejected_index_is_not_proposed_again(
    pg_dsn: str, store: Store, hotel: psycopg.Connection[tuple[object, ...]]
) -> None:
    run_lookups(hotel, 150)
    clock = ManualClock(T0)
    tuner = make_tuner(pg_dsn, store, clock)
    action = next(a for a in tuner.report().actions if a.kind is ActionKind.CREATE_INDEX)
    tuner.optimize(Trigger.FORCED, [action.id])
    clock.advance(2 * 3600)  # settled, and no call used the index since: unused
    (judged,) = tuner.judge_indexes()
    assert judged[1] == IndexVerdict.UNUSED
    assert _index_exists(hotel, action.name) is False
    again = tuner.report()
    assert not [a for a in again.actions if a.kind is ActionKind.CREATE_INDEX]


def test_maintenance_vacuums_the_table_made_due(
    pg_dsn: str, store: Store, hotel: psycopg.Connection[tuple[object, ...]]
) -> None:
    hotel.execute(
        "ALTER TABLE reservations SET (autovacuum_enabled = false,"
        " autovacuum_vacuum_threshold = 100, autovacuum_vacuum_scale_factor = 0)"
    )
    hotel.execute("DELETE FROM reservations WHERE id <= 1000")
    hotel.execute("SELECT pg_stat_force_next_flush()")
    tuner = make_tuner(pg_dsn, store, ManualClock(T0))
    outcomes = tuner.maintenance(Trigger.FORCED)
    assert [(o.action.target, o.outcome) for o in outcomes] == [
        ("public.reservations", Outcome.APPLIED)
    ]
    row = hotel.execute(
        "SELECT last_vacuum IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'reservations'"
    ).fetchone()
    assert row == (True,)


def _index_exists(conn: psycopg.Connection[tuple[object, ...]], name: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"public.{name}",)).fetchone()
    return bool(row and row[0])
