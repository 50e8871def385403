"""`cache_optimization_regular` through the running app: listed as runnable, and its run sweeps
and applies what auto-optimize allows (TTLs on TTL-less managed keys), nothing outside."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from tests.scheduler.runs import run_task_and_wait

from perfpilot.app import create_app
from perfpilot.core.clock import ManualClock
from perfpilot.core.settings import load_settings

BASE = "/api/v1/performance/scheduler"
TASK = "cache_optimization_regular"


def start(tmp_path: Path, dsn: str, redis_url: str, auto_optimize: str) -> TestClient:
    config = tmp_path / "perfpilot.toml"
    config.write_text("[monitor]\ninterval_s = 3600\n", encoding="utf-8")
    settings = load_settings(
        {
            "PERFORMANCE_STORE_URL": f"sqlite:///{tmp_path / 'store.db'}",
            "PERFORMANCE_CONFIG_FILE": str(config),
            "PERFORMANCE_AUTO_OPTIMIZE": auto_optimize,
            "PERFORMANCE_CACHE_MANAGED_PREFIXES": "rates:",
            "DATABASE_URL": dsn,
            "REDIS_URL": redis_url,
        }
    )
    clock = ManualClock(datetime(2026, 11, 25, 1, 0, tzinfo=UTC))
    return TestClient(create_app(settings, clock), client=("127.0.0.1", 5000))


@pytest.mark.parametrize(("auto_optimize", "expires"), [("true", True), ("false", False)])
def test_the_scheduled_run_sweeps_and_sets_ttls_when_allowed(
    tmp_path: Path, pg_dsn: str, redis_url: str, auto_optimize: str, expires: bool
) -> None:
    r = redis.Redis.from_url(redis_url)
    for i in range(10):
        r.set(f"rates:{i}".encode(), b"99.50")
    r.set(b"session:abc", b"guest-7")
    try:
        with start(tmp_path, pg_dsn, redis_url, auto_optimize) as client:
            tasks = {t["id"]: t for t in client.get(f"{BASE}/tasks").json()["tasks"]}
            assert tasks[TASK]["enabled"] is True
            assert tasks[TASK]["unavailable_reason"] is None
            run = run_task_and_wait(client, TASK)
        assert run["status"] == "succeeded", run
        summary = str(run["summary"])
        assert "swept 11 keys" in summary
        ttls = [r.pttl(f"rates:{i}".encode()) for i in range(10)]
        if expires:
            assert "'applied': 1" in summary
            assert all(0 < ttl <= 3_600_000 for ttl in ttls), ttls
        else:
            assert "'skipped': 1" in summary
            assert ttls == [-1] * 10
        assert r.pttl(b"session:abc") == -1
        assert r.get(b"session:abc") == b"guest-7"
    finally:
        r.close()
