"""`db_maintenance_daily` through the running app: the due table gets vacuumed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from tests.scheduler.runs import run_task_and_wait

from perfpilot.app import create_app
from perfpilot.core.clock import ManualClock
from perfpilot.core.settings import load_settings

BASE = "/api/v1/performance/scheduler"


@pytest.fixture
def due_table(pg_dsn: str) -> str:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE messages (id serial PRIMARY KEY, body text)")
        conn.execute("INSERT INTO messages (body) SELECT 'hi' FROM generate_series(1, 5000)")
        conn.execute(
            "ALTER TABLE messages SET (autovacuum_enabled = false,"
            " autovacuum_vacuum_threshold = 100, autovacuum_vacuum_scale_factor = 0)"
        )
        conn.execute("DELETE FROM messages WHERE id <= 1000")
        conn.execute("SELECT pg_stat_force_next_flush()")
    return pg_dsn


def start(tmp_path: Path, dsn: str, redis_url: str, auto_optimize: str) -> TestClient:
    config = tmp_path / "perfpilot.toml"
    config.write_text("[monitor]\ninterval_s = 3600\n", encoding="utf-8")
    settings = load_settings(
        {
            "PERFORMANCE_STORE_URL": f"sqlite:///{tmp_path / 'store.db'}",
            "PERFORMANCE_CONFIG_FILE": str(config),
            "PERFORMANCE_AUTO_OPTIMIZE": auto_optimize,
            "DATABASE_URL": dsn,
            "REDIS_URL": redis_url,
        }
    )
    clock = ManualClock(datetime(2026, 11, 25, 1, 0, tzinfo=UTC))
    return TestClient(create_app(settings, clock), client=("127.0.0.1", 5000))


def last_vacuum_set(dsn: str) -> bool:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT last_vacuum IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'messages'"
        ).fetchone()
    return bool(row and row[0])


@pytest.mark.parametrize(("auto_optimize", "vacuumed"), [("true", True), ("false", False)])
def test_db_maintenance_vacuums_due_tables_when_allowed(
    tmp_path: Path, due_table: str, redis_url: str, auto_optimize: str, vacuumed: bool
) -> None:
    with start(tmp_path, due_table, redis_url, auto_optimize) as client:
        tasks = {t["id"]: t for t in client.get(f"{BASE}/tasks").json()["tasks"]}
        assert tasks["db_maintenance_daily"]["enabled"] is True
        run = run_task_and_wait(client, "db_maintenance_daily")
    assert run["status"] == "succeeded", run
    assert "messages" in str(run["summary"])
    assert last_vacuum_set(due_table) is vacuumed
    if not vacuumed:
        assert "PERFORMANCE_AUTO_OPTIMIZE is false" in str(run["summary"])
