"""The daily system cleanup, run through the app, prunes old scaling decisions and demand."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from tests.test_app import T0, clock, service_factory, state_of  # noqa: F401

from perfpilot.scaling.model import DecisionSource, Direction, ScalingDecision
from perfpilot.scaling.records import decision_from_json, decision_json
from perfpilot.store import open_store
from perfpilot.store.scaling import ScalingRepository

TASKS = "/api/v1/performance/scheduler/tasks"
OLD, RECENT = T0 - timedelta(days=40), T0 - timedelta(days=1)
# Past the forecast's 14-day look-back but inside the 30-day rollup retention: kept.
KEPT_DEMAND = T0 - timedelta(days=20)


def _seed(store_path: Path) -> None:
    store = open_store(f"sqlite:///{store_path}")
    store.migrate()
    repository = ScalingRepository(store.runner)
    for name, at in (("old", OLD), ("recent", RECENT)):
        decision = ScalingDecision(
            name, "api", at, 2, 2, 2, Direction.HOLD, DecisionSource.NONE, 1.0, 0.5, False, "hold"
        )
        repository.save_decision(name, "api", at, False, decision_json(decision, False, None))
    repository.save_demand([("api:cpu", minute, 50.0, 4) for minute in (OLD, KEPT_DEMAND, RECENT)])
    store.close()


def _run_cleanup(client: TestClient) -> str:
    response = client.post(f"{TASKS}/system_cleanup_daily/run")
    assert response.status_code == 202, response.text
    scheduler = state_of(client).scheduler
    assert scheduler is not None
    client.portal.call(scheduler.wait_attempts)  # type: ignore[union-attr]
    deadline = time.monotonic() + 30
    while True:
        runs = client.get(f"{TASKS}/system_cleanup_daily/runs").json()["runs"]
        if runs and runs[0]["status"] not in ("running", "pending"):
            assert runs[0]["status"] == "succeeded", runs[0]
            return str(runs[0]["summary"])
        assert time.monotonic() < deadline, runs
        time.sleep(0.05)


def test_system_cleanup_prunes_scaling_decisions_and_demand(
    tmp_path: Path,
    service_factory: Callable[..., TestClient],  # noqa: F811
) -> None:
    _seed(tmp_path / "store.db")
    client = service_factory()
    summary = _run_cleanup(client)
    # Decisions follow the scheduler's 30-day history retention; demand minutes the 30-day
    # rollup retention (never less than the forecast's 14-day look-back).
    assert "1 scaling decisions older than 30 d" in summary
    assert "1 scaling demand minutes older than 30 d" in summary
    repository = ScalingRepository(state_of(client).store.runner)
    kept = [decision_from_json(body)[0] for body in repository.recent_decisions(10)]
    assert [(d.id, d.at) for d in kept] == [("recent", RECENT)]
    minutes = [m for m, _, _ in repository.load_demand("api:cpu", OLD - timedelta(days=1), T0)]
    assert minutes == [KEPT_DEMAND, RECENT]
