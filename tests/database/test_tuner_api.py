"""The tuner through the service's API and the CLI, on the real PostgreSQL."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from perfpilot.app import create_app
from perfpilot.core.clock import ManualClock
from perfpilot.core.settings import load_settings

LOOKUP = "SELECT id, check_in FROM reservations WHERE guest_id = %s"


@pytest.fixture
def hotel_dsn(pg_dsn: str) -> str:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE reservations (id serial PRIMARY KEY, guest_id int NOT NULL,"
            " check_in date NOT NULL)"
        )
        conn.execute(
            "INSERT INTO reservations (guest_id, check_in)"
            " SELECT g % 8000, date '2026-01-01' + g % 365 FROM generate_series(1, 80000) g"
        )
        conn.execute("ANALYZE reservations")
        for guest in range(150):
            conn.execute(LOOKUP, (guest,)).fetchall()
    return pg_dsn


def _env(tmp_path: Path, dsn: str, redis_url: str) -> dict[str, str]:
    config = tmp_path / "perfpilot.toml"
    config.write_text("[monitor]\ninterval_s = 3600\n", encoding="utf-8")
    return {
        "PERFORMANCE_STORE_URL": f"sqlite:///{tmp_path / 'store.db'}",
        "PERFORMANCE_CONFIG_FILE": str(config),
        "DATABASE_URL": dsn,
        "REDIS_URL": redis_url,
    }


@pytest.fixture
def client(tmp_path: Path, hotel_dsn: str, redis_url: str) -> Iterator[TestClient]:
    settings = load_settings(_env(tmp_path, hotel_dsn, redis_url))
    clock = ManualClock(datetime(2026, 11, 25, 3, 0, tzinfo=UTC))
    with TestClient(create_app(settings, clock), client=("127.0.0.1", 5000)) as test_client:
        yield test_client


def _index_count(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_indexes WHERE indexname LIKE 'perfpilot_%'"
        ).fetchone()
    return int(row[0]) if row else -1


def test_report_and_plan_then_apply(client: TestClient, hotel_dsn: str) -> None:
    report = client.get("/api/v1/performance/database/report")
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["workload"]["status"] == "available"
    assert body["indexes"]["verified"] is True
    creates = [a for a in body["actions"] if a["kind"] == "create_index"]
    assert len(creates) == 1
    assert any(
        s["query"].startswith("SELECT id, check_in FROM reservations") for s in body["statements"]
    )
    assert {c["check"] for c in body["checks"]} >= {"slow_queries", "unused_indexes"}

    planned = client.post("/api/v1/performance/database/optimize", json={"force": False})
    assert planned.status_code == 200
    assert planned.json()["applied"] is False
    assert {o["outcome"] for o in planned.json()["outcomes"]} <= {"planned"}
    assert _index_count(hotel_dsn) == 0

    applied = client.post(
        "/api/v1/performance/database/optimize",
        json={"force": True, "actions": [creates[0]["id"]]},
    )
    assert applied.status_code == 200, applied.text
    (outcome,) = applied.json()["outcomes"]
    assert outcome["outcome"] == "applied", outcome
    assert outcome["statement"].startswith("CREATE INDEX CONCURRENTLY")
    assert _index_count(hotel_dsn) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"force": True, "actions": ["nope"]}, "actions"),
        ({"force": "perhaps"}, "force"),
        ({"forse": True}, "forse"),
    ],
)
def test_optimize_rejects_bad_bodies(
    client: TestClient, hotel_dsn: str, body: object, field: str
) -> None:
    response = client.post("/api/v1/performance/database/optimize", json=body)
    assert response.status_code == 422
    assert field in response.text
    assert _index_count(hotel_dsn) == 0


def test_unreachable_database_is_a_clear_503(tmp_path: Path, redis_url: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = load_settings(_env(tmp_path, f"postgresql://postgres@127.0.0.1:{port}/x", redis_url))
    with TestClient(create_app(settings), client=("127.0.0.1", 5000)) as test_client:
        response = test_client.get("/api/v1/performance/database/report")
        assert response.status_code == 503
        assert "target database unavailable" in response.json()["detail"]
        assert test_client.get("/healthz").status_code == 200


def test_cli_db_report_and_optimize(tmp_path: Path, hotel_dsn: str, redis_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERFORMANCE_")}
    env |= _env(tmp_path, "postgresql://postgres@127.0.0.1:1/unused", redis_url)
    cli = [sys.executable, "-m", "perfpilot", "db"]
    report = subprocess.run(
        [*cli, "report", "--dsn", hotel_dsn, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert report.returncode == 1, report.stderr  # findings: an index to build
    action = next(a for a in json.loads(report.stdout)["actions"] if a["kind"] == "create_index")
    applied = subprocess.run(
        [*cli, "optimize", "--dsn", hotel_dsn, "--force", "--action", action["id"], "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert applied.returncode == 0, applied.stderr
    assert json.loads(applied.stdout)[0]["outcome"] == "applied"
    assert _index_count(hotel_dsn) == 1
    bad = subprocess.run(
        [*cli, "optimize", "--dsn", hotel_dsn, "--action", "nope"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 2
    assert "nope" in bad.stderr
