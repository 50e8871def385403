"""The audit trail on both backends: append-only, newest first, filters, JSON round-trip."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from perfpilot.core.audit import AuditEntry, Outcome
from perfpilot.store import Store, open_store
from perfpilot.store.audit import AuditRepository

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
