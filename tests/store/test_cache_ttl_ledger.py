"""The cache TTL ledger on both backends: record, unjudged, judge, recent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from perfpilot.cache.ports import TtlChange
from perfpilot.store import open_store
from perfpilot.store.cache_ttl_ledger import TtlLedgerRepository

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 's.db'}"
    dsn: str = request.getfixturevalue("pg_dsn")
    return dsn


def test_changes_are_recorded_and_judged(url: str) -> None:
    store = open_store(url)
    store.migrate()
    try:
        ledger = TtlLedgerRepository(store.runner)
        for n, ns in enumerate(("rates:", "avail:\\xff")):
            ledger.record_change(
                TtlChange(f"id{n}", ns, T0 + timedelta(minutes=n), None, 600_000, 0.5, 400, "up")
            )
        assert [c.id for c in ledger.unjudged()] == ["id0", "id1"]
        ledger.set_after("id0", 0.8, 380, T0 + timedelta(minutes=15))
        assert [c.id for c in ledger.unjudged()] == ["id1"]
        recent = ledger.recent(10)
        assert [c.namespace for c in recent] == ["avail:\\xff", "rates:"]
        judged = recent[1]
        assert (judged.hit_ratio_before, judged.hit_ratio_after, judged.lookups_after) == (
            0.5,
            0.8,
            380,
        )
        assert judged.judged_at == T0 + timedelta(minutes=15)
    finally:
        store.close()
