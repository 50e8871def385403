"""The optimizer on real situations: a missing index on a big table is found, built through the
optimizer, measured and judged improved; the same action made to regress is reverted."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from tests.ports import free_port

from perfpilot.app import build_optimizer, build_tuner
from perfpilot.core.audit import Outcome
from perfpilot.core.clock import ManualClock
from perfpilot.core.health import HealthState
from perfpilot.core.risk import Trigger
from perfpilot.core.settings import load_settings
from perfpilot.optimizer.model import Executor, OptimizationType, TypeState
from perfpilot.optimizer.records import ActionStatus
from perfpilot.optimizer.service import PerformanceOptimizer, judge_round
from perfpilot.store import Store, open_store
from perfpilot.store.audit import AuditRepository

T0 = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
LOOKUP = "SELECT id, check_in FROM reservations WHERE guest_id = %s"
Conn = psycopg.Connection[tuple[object, ...]]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    opened.migrate()
    yield opened
    opened.close()


@pytest.fixture
def hotel(pg_dsn: str) -> Iterator[Conn]:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE reservations (id serial PRIMARY KEY, guest_id int NOT NULL,"
            " check_in date NOT NULL, notes text)"
        )
        conn.execute(
            "INSERT INTO reservations (guest_id, check_in, notes)"
            " SELECT g % 20000, date '2026-01-01' + g % 365, repeat('x', 40)"
            " FROM generate_series(1, 200000) g"
        )
        conn.execute("ANALYZE reservations")
        yield conn


def run_lookups(conn: Conn, times: int) -> None:
    for guest in range(times):
        conn.execute(LOOKUP, (guest,)).fetchall()


def make_optimizer(pg_dsn: str, store: Store, clock: ManualClock) -> PerformanceOptimizer:
    settings = load_settings({"DATABASE_URL": pg_dsn, "PERFORMANCE_STORE_URL": "sqlite://"})
    tuner = build_tuner(settings, store, clock)
    return build_optimizer(settings, store, clock, None, tuner, None, None)


async def _build_index(optimizer: PerformanceOptimizer, hotel: Conn) -> str:
    run_lookups(hotel, 150)
    analysis = await optimizer.analyze([OptimizationType.DATABASE])
    db = analysis.of(OptimizationType.DATABASE)
    assert db is not None
    assert db.state is TypeState.FINDINGS, db
    (index,) = [a for a in db.actions if a.title.startswith("Create index")]
    assert index.executor is Executor.DATABASE
    assert index.reversible
    assert index.queryids, "the statement behind the index must be measurable"
    assert db.figures["client_backends"] is not None
    # Plan first: a request without force applies nothing.
    planned = await optimizer.execute(Trigger.REQUEST, [OptimizationType.DATABASE], [index.id])
    assert [r.status for r in planned.records] == [ActionStatus.PLANNED]
    run = await optimizer.execute(Trigger.FORCED, [OptimizationType.DATABASE], [index.id])
    (record,) = run.records
    assert record.status is ActionStatus.APPLIED, record.detail
    assert record.before["n"] == 150
    assert record.settle_until is not None
    return index.ref


async def test_missing_index_is_built_and_judged_improved(
    pg_dsn: str, store: Store, hotel: Conn
) -> None:
    clock = ManualClock(T0)
    optimizer = make_optimizer(pg_dsn, store, clock)
    await _build_index(optimizer, hotel)
    run_lookups(hotel, 150)
    assert await optimizer.judge() == [], "judged before the settle period"
    clock.advance(16 * 60)
    (judged,) = await optimizer.judge()
    assert judged.verdict == "improved", judged.verdict_reason
    assert judged.status is ActionStatus.APPLIED
    assert judged.after["n"] == 150
    assert float(judged.after["mean"] or 0) < float(judged.before["mean"] or 0)
    (stored,) = await optimizer.history(T0)
    assert stored.verdict == "improved"
    assert optimizer.actions_today(clock.now()) == 1


async def test_regressed_index_is_reverted(pg_dsn: str, store: Store, hotel: Conn) -> None:
    clock = ManualClock(T0)
    optimizer = make_optimizer(pg_dsn, store, clock)
    await _build_index(optimizer, hotel)
    # Make the same statement slower after the change: four times the rows, and this session
    # may not use the new index, so each lookup scans more.
    hotel.execute(
        "INSERT INTO reservations (guest_id, check_in, notes)"
        " SELECT g % 20000, date '2026-01-01' + g % 365, repeat('x', 40)"
        " FROM generate_series(1, 600000) g"
    )
    hotel.execute("SET enable_indexscan = off")
    hotel.execute("SET enable_bitmapscan = off")
    run_lookups(hotel, 60)
    clock.advance(16 * 60)
    (judged,) = await optimizer.judge()
    assert judged.verdict == "regressed", judged.verdict_reason
    assert judged.status is ActionStatus.REVERTED, judged.detail
    row = hotel.execute(
        "SELECT count(*) FROM pg_indexes WHERE tablename = 'reservations'"
        " AND indexname LIKE 'perfpilot%%'"
    ).fetchone()
    assert row == (0,)
    reverted = [e for e in AuditRepository(store.runner).entries() if e.action == "drop_index"]
    assert [e.outcome for e in reverted] == [Outcome.REVERTED]


async def test_a_failed_judging_round_degrades_health_and_loses_nothing(
    pg_dsn: str, store: Store, hotel: Conn
) -> None:
    clock = ManualClock(T0)
    optimizer = make_optimizer(pg_dsn, store, clock)
    await _build_index(optimizer, hotel)
    run_lookups(hotel, 150)
    clock.advance(16 * 60)
    # The same history judged by an optimizer whose database is gone.
    dead = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres?connect_timeout=2"
    cut_off = make_optimizer(dead, store, clock)
    assert await judge_round(cut_off) == []
    health = cut_off.health()
    assert health.state is HealthState.DEGRADED
    assert health.reason is not None
    assert "judging failed" in health.reason
    (pending,) = await cut_off.history(T0)
    assert pending.verdict is None  # still waiting for its verdict, not dropped
    # The database is back: the next round judges it and the optimizer is healthy again.
    cut_off.sources = optimizer.sources
    (judged,) = await judge_round(cut_off)
    assert judged.verdict == "improved", judged.verdict_reason
    assert cut_off.health().state is HealthState.OK
