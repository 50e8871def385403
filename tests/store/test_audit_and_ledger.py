"""The audit trail and the tuner's index ledger on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from perfpilot.core.audit import AuditEntry, Outcome
from perfpilot.database.impact import IndexVerdict
from perfpilot.database.ledger import BuiltIndex
from perfpilot.store import Store, open_store
from perfpilot.store.audit import AuditRepository
from perfpilot.store.index_ledger import IndexLedgerRepository

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


def entry(minutes: int, component: str = "database", **changes: object) -> AuditEntry:
    base = AuditEntry(
        at=T0 + timedelta(minutes=minutes),
        component=component,
        action="create_index",
        target="public.reservations",
        statement='CREATE INDEX CONCURRENTLY "perfpilot_x_idx" ON "public"."reservations" (x)',
        reason="saves 120 s/day on 3 queries",
        trigger="forced",
        risk="medium",
        outcome=Outcome.APPLIED,
        detail="index built and valid",
        before={"mean_ms": 41.5, "note": None},
        after={"mean_ms": 0.8},
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_entries_round_trip_newest_first(store: Store) -> None:
    audit = AuditRepository(store.runner)
    audit.record(entry(0))
    audit.record(entry(5, component="cache", outcome=Outcome.SKIPPED))
    audit.record(entry(10, outcome=Outcome.FAILED, detail="lock timeout"))
    rows = audit.entries()
    assert [r.at for r in rows] == [T0 + timedelta(minutes=m) for m in (10, 5, 0)]
    assert rows[2] == entry(0)
    assert rows[0].outcome is Outcome.FAILED
    assert rows[0].at.tzinfo is not None


def test_filters_and_limit(store: Store) -> None:
    audit = AuditRepository(store.runner)
    for minutes in range(6):
        audit.record(entry(minutes, component="database" if minutes % 2 else "cache"))
    assert len(audit.entries(component="cache")) == 3
    assert [r.at for r in audit.entries(since=T0 + timedelta(minutes=4))] == [
        T0 + timedelta(minutes=5),
        T0 + timedelta(minutes=4),
    ]
    assert len(audit.entries(limit=2)) == 2
    with pytest.raises(ValueError, match="limit"):
        audit.entries(limit=-1)


def test_index_ledger_round_trip_and_verdict(store: Store) -> None:
    ledger = IndexLedgerRepository(store.runner)
    built = BuiltIndex(
        schema="public",
        name="perfpilot_reservations_guest_id_idx",
        table="reservations",
        definition='"guest_id"',
        created_at=T0,
        fingerprints=("a1b2", "c3d4"),
        before_mean_ms=41.5,
    )
    ledger.record_built(built)
    assert ledger.built() == [built]
    ledger.set_verdict(
        "public", built.name, IndexVerdict.UNUSED, T0 + timedelta(hours=2), "0 scans"
    )
    (judged,) = ledger.built()
    assert judged.verdict is IndexVerdict.UNUSED
    assert judged.judged_at == T0 + timedelta(hours=2)
    assert judged.detail == "0 scans"
    assert judged.fingerprints == ("a1b2", "c3d4")
