"""The Auto Scaler through the running app: AUTO_SCALING_ENABLED on and off, the endpoints,
rule updates (validated, persisted, audited), metrics and the "scaling performed" alert."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from tests.test_app import clock, service_factory, state_of, stop, wait_until  # noqa: F401

from perfpilot.core.audit import Outcome
from perfpilot.store.audit import AuditRepository

# T0 in tests/test_app.py is 12:00 UTC: the peak window below is open, so its floor of 4
# asks the dry-run service (at min_instances 2) to scale up with confidence 1.
CONFIG = """
[scaling]
evaluation_interval_s = 3600

[[scaling.services]]
name = "agente-api"
tier = "critical"
min_instances = 2
max_instances = 10
target_cpu_percent = 70
target_memory_percent = 80
scale_up_cooldown = 300
scale_down_cooldown = 600

[scaling.services.backend]
kind = "dry-run"

[[scaling.services.rules]]
name = "schedule:peak"
start = "0 8 * * *"
end = "0 20 * * *"
min_instances = 4

[[scaling.services.rules]]
name = "latency_p95"
target = 0.5
"""


def _first_cycle(client: TestClient) -> None:
    scaler = state_of(client).scaler
    assert scaler is not None
    wait_until(lambda: scaler.cycles >= 1)


def test_disabled_records_the_decision_and_changes_nothing(
    service_factory: Callable[..., TestClient],  # noqa: F811
) -> None:
    client = service_factory({"AUTO_SCALING_ENABLED": "false"}, CONFIG)
    _first_cycle(client)
    body = client.get("/api/v1/performance/scaling/status").json()
    assert body["auto_scaling_enabled"] is False
    assert body["service_configs"][0]["name"] == "agente-api"
    assert body["service_configs"][0]["scale_down_cooldown"] == 600
    service = body["services"][0]
    assert (service["current"], service["desired"]) == (2, 4)
    decision = body["recent_decisions"][0]
    assert decision["executed"] is False
    assert decision["decision"]["source"] == "schedule"
    assert "schedule floor 4" in decision["decision"]["reason"]
    alerts = client.get("/api/v1/performance/alerts").json()
    assert not [a for a in alerts["alerts"] if a["kind"] == "scaling"]  # none, firing or not
    # Only the evaluation was counted: no scale_up operation happened.
    text = client.get("/metrics").text
    assert 'scaling_operations_total{operation="scale_up"' not in text
    assert 'perfpilot_scaling_instances{service="agente-api",state="observed"} 2.0' in text


def test_enabled_executes_alerts_and_audits(
    service_factory: Callable[..., TestClient],  # noqa: F811
) -> None:
    client = service_factory({"AUTO_SCALING_ENABLED": "true"}, CONFIG)
    _first_cycle(client)
    state = state_of(client)
    body = client.get("/api/v1/performance/scaling/status").json()
    service = body["services"][0]
    assert service["current"] == 4
    assert service["scale_up_cooldown_remaining_s"] == 300
    assert body["recent_decisions"][0]["outcome"] == "success"
    alerts = client.get("/api/v1/performance/alerts").json()["alerts"]
    scaling = [a for a in alerts if a["kind"] == "scaling"]
    assert [a["status"] for a in scaling] == ["firing"]
    assert scaling[0]["severity"] == "info"
    assert "scaling performed: agente-api 2 -> 4" in scaling[0]["message"]
    entries = AuditRepository(state.store.runner).entries(component="scaling")
    assert [(e.action, e.outcome, e.before, e.after["instances"]) for e in entries] == [
        ("scale_up", Outcome.APPLIED, {"instances": 2}, 4)
    ]
    text = client.get("/metrics").text
    assert 'scaling_operations_total{operation="scale_up",status="success"} 1.0' in text
    assert 'perfpilot_scaling_decision_confidence{service="agente-api"} 1.0' in text
    # The next evaluation sees 4 instances reached: the info alert resolves itself.
    evaluated = client.post("/api/v1/performance/scaling/evaluate").json()["decisions"]
    assert evaluated[0]["direction"] == "hold"
    # Ordering the hold by its id changes nothing and is counted as a hold, not a scale-down.
    held = client.post(
        "/api/v1/performance/scaling/execute", json={"decision_ids": [evaluated[0]["id"]]}
    ).json()["executions"]
    assert [e["status"] for e in held] == ["skipped"]
    text = client.get("/metrics").text
    assert 'scaling_operations_total{operation="hold",status="skipped"} 1.0' in text
    assert 'operation="scale_down"' not in text
    alerts = client.get("/api/v1/performance/alerts").json()["alerts"]
    [resolved] = [a for a in alerts if a["kind"] == "scaling"]
    assert (resolved["status"], resolved["resolved_by"]) == ("resolved", "auto")


def test_execute_acts_on_a_fresh_evaluation_or_named_decisions(
    service_factory: Callable[..., TestClient],  # noqa: F811
) -> None:
    client = service_factory({"AUTO_SCALING_ENABLED": "false"}, CONFIG)
    _first_cycle(client)
    decision_id = client.get("/api/v1/performance/scaling/status").json()["recent_decisions"][0][
        "decision"
    ]["id"]
    unknown = client.post("/api/v1/performance/scaling/execute", json={"decision_ids": ["nope"]})
    assert unknown.status_code == 404
    done = client.post("/api/v1/performance/scaling/execute", json={"decision_ids": [decision_id]})
    assert done.status_code == 200, done.text
    [execution] = done.json()["executions"]
    assert (execution["previous"], execution["observed"], execution["status"]) == (2, 4, "success")
    # A repeated order of the same decision is stale: the count it was made from is gone.
    again = client.post("/api/v1/performance/scaling/execute", json={"decision_ids": [decision_id]})
    assert again.json()["executions"][0]["status"] == "skipped"
    fresh = client.post("/api/v1/performance/scaling/execute").json()["executions"]
    assert fresh == []


def test_rule_update_is_validated_persisted_and_audited(
    service_factory: Callable[..., TestClient],  # noqa: F811
) -> None:
    client = service_factory({}, CONFIG)
    url = "/api/v1/performance/scaling/rule"
    assert client.put(f"{url}/nope/cpu", json={"target": 60}).status_code == 404
    assert client.put(f"{url}/agente-api/disk", json={"target": 60}).status_code == 404
    assert client.put(f"{url}/agente-api/cpu", json={"target": -1}).status_code == 422
    assert client.put(f"{url}/agente-api/cpu", json={"target": 160}).status_code == 422
    bad_zone = client.put(f"{url}/agente-api/schedule:peak", json={"timezone": "Mars/Base"})
    assert bad_zone.status_code == 422
    assert "unknown time zone" in bad_zone.text
    bad_field = client.put(f"{url}/agente-api/cpu", json={"min_instances": 3})
    assert bad_field.status_code == 422
    ok = client.put(f"{url}/agente-api/cpu", json={"target": 60})
    assert ok.status_code == 200, ok.text
    assert ok.json()["target_cpu_percent"] == 60
    peak = client.put(f"{url}/agente-api/schedule:peak", json={"min_instances": 5})
    assert peak.json()["rules"][0]["min_instances"] == 5
    assert peak.json()["rules"][0]["start"] == "0 8 * * *"
    state = state_of(client)
    entries = AuditRepository(state.store.runner).entries(component="scaling")
    assert {e.target for e in entries} == {"agente-api/cpu", "agente-api/schedule:peak"}
    stop(client)
    # A restart applies the stored overrides on top of the config file.
    restarted = service_factory({}, CONFIG)
    status = restarted.get("/api/v1/performance/scaling/status").json()
    config = status["service_configs"][0]
    assert config["target_cpu_percent"] == 60
    assert config["rules"][0]["min_instances"] == 5


def test_mutating_endpoints_need_the_token(
    service_factory: Callable[..., TestClient],  # noqa: F811
) -> None:
    client = service_factory({"PERFORMANCE_API_TOKEN": "s3cret"}, CONFIG)
    assert client.post("/api/v1/performance/scaling/evaluate").status_code == 401
    assert (
        client.put(
            "/api/v1/performance/scaling/rule/agente-api/cpu", json={"target": 60}
        ).status_code
        == 401
    )
    ok = client.post(
        "/api/v1/performance/scaling/evaluate", headers={"Authorization": "Bearer s3cret"}
    )
    assert ok.status_code == 200
