"""The optimizer through the running app: the scheduled task end to end, execute (plan, force,
no Content-Type, bad types, 409), recommendations, report, status and the benchmark."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from tests.optimizer.test_impact import T0, make_optimizer, run_lookups
from tests.test_app import clock, service_factory, state_of, wait_until  # noqa: F401

from perfpilot.core.clock import ManualClock
from perfpilot.core.risk import Trigger
from perfpilot.optimizer.service import OptimizationBusy
from perfpilot.store import open_store

API = "/api/v1/performance"
HOTEL = (
    "CREATE TABLE reservations (id serial PRIMARY KEY, guest_id int NOT NULL,"
    " check_in date NOT NULL, notes text);"
    "INSERT INTO reservations (guest_id, check_in, notes)"
    " SELECT g % 20000, date '2026-01-01' + g % 365, repeat('x', 40)"
    " FROM generate_series(1, 200000) g; ANALYZE reservations"
)


def _hotel(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(HOTEL)
        run_lookups(conn, 150)


def test_scheduled_task_runs_the_optimizer_end_to_end(
    service_factory: Callable[..., TestClient],  # noqa: F811
    clock: ManualClock,  # noqa: F811
    pg_dsn: str,
) -> None:
    _hotel(pg_dsn)
    client = service_factory(
        {"PERFORMANCE_AUTO_OPTIMIZE": "true", "PERFORMANCE_AUTO_OPTIMIZE_MAX_RISK": "medium"}
    )
    started = client.post(f"{API}/scheduler/tasks/perf_optimization_regular/run")
    assert started.status_code == 202, started.text

    def succeeded() -> bool:
        runs = client.get(f"{API}/scheduler/tasks/perf_optimization_regular/runs").json()["runs"]
        return bool(runs) and runs[0]["status"] == "succeeded"

    wait_until(succeeded, timeout_s=60)
    report = client.get(f"{API}/optimization/report").json()
    applied = [a for a in report["actions"] if a["status"] == "applied"]
    # The medium-risk index and the low-risk VACUUM (ANALYZE) of the freshly loaded table.
    (index,) = [a for a in applied if a["title"].startswith("Create index:")]
    assert index["trigger"] == "scheduled"
    assert index["before"]["n"] == 150
    assert index["settle_until"] is not None
    assert report["counts"]["by_status"]["applied"] == len(applied)
    assert {c["name"] for c in report["current"]} >= {"cpu_usage", "cache_hit_rate"}
    status = client.get(f"{API}/status").json()
    assert status["optimization_actions_today"] == len(applied)
    assert status["performance_score"]["formula"].startswith("100 * (1 - sum(w*p)")
    alerts = client.get(f"{API}/alerts", params={"status": "firing"}).json()["alerts"]
    infos = [a for a in alerts if a["kind"] == "optimization"]
    assert len(infos) == len(applied)
    assert {a["severity"] for a in infos} == {"info"}
    assert all(a["message"].startswith("optimization executed") for a in infos)
    # Self-resolving: once the settle period is over, the verdict is in and the alert closes.
    clock.advance(16 * 60)
    optimizer = state_of(client).optimizer
    assert optimizer is not None
    judged = client.portal.call(optimizer.judge)  # type: ignore[union-attr]
    assert {r.verdict for r in judged} <= {"improved", "no_change", "insufficient_data"}
    firing = client.get(f"{API}/alerts", params={"status": "firing"}).json()["alerts"]
    assert [a for a in firing if a["kind"] == "optimization"] == []
    metrics = client.get("/metrics").text
    assert "performance_optimization_duration_seconds_count 1.0" in metrics
    applied_metric = (
        f'perfpilot_optimization_actions_total{{status="applied",type="database"}} {len(applied)}.0'
    )
    assert applied_metric in metrics


def test_execute_plans_and_validates(
    service_factory: Callable[..., TestClient],  # noqa: F811
) -> None:
    client = service_factory()
    # The specification's curl: -d without a Content-Type header (form-urlencoded).
    planned = client.post(
        f"{API}/optimization/execute",
        content=b'{"force": false, "optimization_types": ["cpu", "memory"]}',
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert planned.status_code == 200, planned.text
    body = planned.json()
    assert body["applied"] is False
    assert [t["type"] for t in body["analysis"]] == ["cpu", "memory"]
    for part in body["analysis"]:
        assert part["summary"], part
        assert part["state"] in ("ok", "findings", "unavailable")
    bad = client.post(f"{API}/optimization/execute", json={"optimization_types": ["gpu"]})
    assert bad.status_code == 422
    assert "'cpu'" in bad.text
    assert "'api'" in bad.text
    recs = client.get(f"{API}/recommendations").json()
    assert isinstance(recs["database_optimization"]["indexes"], list)
    assert isinstance(recs["database_optimization"]["configuration"], list)
    assert all(isinstance(s, str) for s in recs["cache_optimization"])
    for action in recs["priority_actions"]:
        assert action["category"] in {"cpu", "memory", "database", "cache", "api", "scaling"}
        assert action["impact"] in {"high", "medium", "low"}
        assert action["effort"] in {"high", "medium", "low"}
        assert {"id", "risk", "evidence", "action"} <= set(action)
    assert "api" in recs["unavailable"], "no app metrics URL configured: the api part says why"


def test_benchmark_bounds_and_rate_limit(
    service_factory: Callable[..., TestClient],  # noqa: F811
) -> None:
    client = service_factory()
    assert client.get(f"{API}/benchmark", params={"duration_s": 61}).status_code == 422
    first = client.get(f"{API}/benchmark", params={"duration_s": 1})
    assert first.status_code == 200, first.text
    probes = {p["name"]: p for p in first.json()["run"]["probes"]}
    assert set(probes) == {
        "postgres_round_trip", "postgres_reference_query", "redis_set_get_1kb",
        "store_fsync_4kb", "cpu_sha256_1kb_x100",
    }  # fmt: skip
    for probe in probes.values():
        assert probe["error"] is None, probe
        assert probe["samples"] > 0
        assert probe["p99_ms"] >= probe["p50_ms"] > 0
    assert first.json()["previous"] is None
    again = client.get(f"{API}/benchmark", params={"duration_s": 1})
    assert again.status_code == 429
    assert int(again.headers["Retry-After"]) > 0
    remote = TestClient(client.app, client=("203.0.113.9", 40000))
    assert remote.get(f"{API}/benchmark").status_code == 403


async def test_a_second_execute_while_one_runs_is_refused(pg_dsn: str, tmp_path: Path) -> None:
    _hotel(pg_dsn)
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    store.migrate()
    try:
        optimizer = make_optimizer(pg_dsn, store, ManualClock(T0))
        first = asyncio.create_task(optimizer.execute(Trigger.REQUEST))
        await asyncio.sleep(0.05)
        with pytest.raises(OptimizationBusy):
            await optimizer.execute(Trigger.REQUEST)
        await first
    finally:
        store.close()
