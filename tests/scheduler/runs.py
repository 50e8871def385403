"""Running one scheduler task through a test app and waiting for its record."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient

from perfpilot.api.state import ServiceState

BASE = "/api/v1/performance/scheduler"


def run_task_and_wait(client: TestClient, task_id: str, timeout_s: float = 30.0) -> dict[str, Any]:
    """POST a run-now of ``task_id`` and return its finished run record."""
    response = client.post(f"{BASE}/tasks/{task_id}/run")
    assert response.status_code == 202, response.text
    state: ServiceState = client.app.state.perfpilot  # type: ignore[attr-defined]
    assert state.scheduler is not None
    client.portal.call(state.scheduler.wait_attempts)  # type: ignore[union-attr]
    # The attempt ended; its record is written right after, on the app's own loop.
    deadline = time.monotonic() + timeout_s
    while True:
        runs = client.get(f"{BASE}/tasks/{task_id}/runs").json()["runs"]
        if runs and runs[0]["status"] not in ("running", "pending"):
            return dict(runs[0])
        assert time.monotonic() < deadline, runs
        time.sleep(0.05)
