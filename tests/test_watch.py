"""Dependency watches: unavailable with the reason, backoff while down, recovery when back."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

from perfpilot.cache.connection import check_redis
from perfpilot.core.backoff import Backoff
from perfpilot.core.clock import ManualClock
from perfpilot.core.health import HealthState
from perfpilot.core.watch import ConnectionWatch
from perfpilot.database.connection import check_postgres


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_backoff_ceiling_doubles_up_to_the_cap() -> None:
    backoff = Backoff(base_s=1.0, cap_s=60.0)
    assert [backoff.ceiling(n) for n in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert all(0 <= backoff.delay(n) <= backoff.ceiling(n) for n in range(20))
    assert Backoff(base_s=2, cap_s=10, jitter=False).delay(3) == 10


async def test_database_watch_reports_reason_backs_off_and_recovers(pg_dsn: str) -> None:
    target = {"dsn": f"postgresql://postgres@127.0.0.1:{_closed_port()}/postgres"}
    clock = ManualClock(datetime(2026, 11, 25, tzinfo=UTC))
    watch = ConnectionWatch(
        "database",
        "test",
        lambda: check_postgres(target["dsn"]),
        clock,
        backoff=Backoff(base_s=1.0, cap_s=8.0, jitter=False),
        ok_interval_s=30.0,
    )
    assert watch.health().state is HealthState.UNAVAILABLE
    delays = []
    for _ in range(5):
        health = await watch.check_once()
        assert health.state is HealthState.UNAVAILABLE
        assert "refused" in (health.reason or "").lower()
        delays.append(watch.next_delay_s())
    assert delays == [1.0, 2.0, 4.0, 8.0, 8.0]
    assert watch.health().details["consecutive_failures"] == 5

    target["dsn"] = pg_dsn
    health = await watch.check_once()
    assert health.state is HealthState.OK
    assert str(health.details["server"]).startswith("PostgreSQL")
    assert watch.next_delay_s() == 30.0


async def test_cache_watch_against_real_redis(redis_url: str) -> None:
    clock = ManualClock(datetime(2026, 11, 25, tzinfo=UTC))
    watch = ConnectionWatch("cache", "test", lambda: check_redis(redis_url), clock)
    health = await watch.check_once()
    assert health.state is HealthState.OK
    assert str(health.details["server"]).startswith("Redis 7")
