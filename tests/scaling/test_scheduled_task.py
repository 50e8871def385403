"""`scaling_evaluation_peak` through the running app: a full evaluation, recorded as a run."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from tests.scaling.test_scaling_api import CONFIG
from tests.scheduler.runs import run_task_and_wait
from tests.test_app import clock, service_factory, state_of  # noqa: F401

BASE = "/api/v1/performance/scheduler"
TASK = "scaling_evaluation_peak"


def test_peak_evaluation_task_evaluates_every_service_and_records_it(
    service_factory: Callable[..., TestClient],  # noqa: F811
) -> None:
    client = service_factory({"AUTO_SCALING_ENABLED": "false"}, CONFIG)
    task = {t["id"]: t for t in client.get(f"{BASE}/tasks").json()["tasks"]}[TASK]
    assert task["cron_expression"] == "*/30 8-22 * * *"
    assert task["unavailable_reason"] is None
    before = len(client.get("/api/v1/performance/scaling/status").json()["recent_decisions"])
    run = run_task_and_wait(client, TASK)
    assert run["status"] == "succeeded", run
    # The peak schedule's floor of 4 is above the dry-run service's 2 instances.
    assert run["summary"] == "1 services evaluated; proposed: agente-api 2->4"
    after = client.get("/api/v1/performance/scaling/status").json()["recent_decisions"]
    assert len(after) > before
