"""The specification is the contract: every endpoint of its tables, every curl example and the
jq paths of its troubleshooting section, against a running service with real PostgreSQL and
Redis. The rows and commands are parsed from the seed file, so a changed specification is
caught here."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.scaling.test_scaling_api import CONFIG
from tests.test_app import clock, service_factory, state_of  # noqa: F401

from perfpilot.monitor.model import AlertKind, Severity

SPEC = Path(__file__).resolve().parents[1] / "shared" / "seed" / "000_4ee1191f437f3ad3.txt"
if not SPEC.exists():
    SPEC = Path("/work/shared/seed/000_4ee1191f437f3ad3.txt")
TEXT = SPEC.read_text(encoding="utf-8")
ROW = re.compile(r"^\|\s*(GET|POST|PUT|DELETE|PATCH)\s*\|\s*`(/api/[^`]+)`", re.MULTILINE)
CURL = re.compile(r"curl (?:-X (\w+) )?http://localhost:8000(\S+)((?:\s*\\\n\s*-[Hd] '[^']*')*)")
JQ = re.compile(r"curl (?:-X \w+ )?http://localhost:8000(\S+) \| jq '(\.[a-z_]+)'")


def table_rows() -> list[tuple[str, str]]:
    return ROW.findall(TEXT)


def curl_examples() -> list[tuple[str, str, str | None, bool]]:
    """(method, path, body, has Content-Type header) of each curl command."""
    out = []
    for method, path, rest in CURL.findall(TEXT):
        body = re.search(r"-d '([^']*)'", rest)
        out.append((method or "GET", path, body.group(1) if body else None, "-H" in rest))
    return out


def test_the_specification_is_parsed() -> None:
    # Guards the parser: the seed lists 16 endpoints and a dozen curl commands.
    assert len(table_rows()) == 16
    assert len(curl_examples()) >= 10
    assert {p for _, p in JQ.findall(TEXT)} == {
        ".optimization_actions_today",
        ".thresholds",
        ".service_configs",
    }


@pytest.fixture
def service(service_factory: Callable[..., TestClient]) -> TestClient:  # noqa: F811
    client = service_factory({}, CONFIG)
    state = state_of(client)
    # A real alert for {id}: one the scaler's info alert kind would raise.
    state.alerts.raise_event(
        AlertKind.HEALTH, "contract", Severity.WARNING, "contract test alert", state.clock.now()
    )
    return client


def _shape(path: str) -> str:
    """The path with every parameter name blanked: ``{id}`` and ``{alert_id}`` match."""
    return re.sub(r"\{\w+\}", "{}", path)


def _fill(path: str, client: TestClient) -> str:
    alerts = client.get("/api/v1/performance/alerts", params={"status": "firing"}).json()
    values = {"id": alerts["alerts"][0]["id"], "service": "agente-api", "rule": "cpu"}
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


def _call(client: TestClient, method: str, path: str, body: bytes | None, json_header: bool):
    headers = {"Content-Type": "application/json" if json_header else
               "application/x-www-form-urlencoded"}  # fmt: skip
    if method == "PUT":
        return client.put(path, json={"target": 65})
    if method == "POST":
        return client.post(path, content=body or b"", headers=headers if body else {})
    return client.get(path)


def test_every_table_row_answers(service: TestClient) -> None:
    failures = []
    for method, raw in table_rows():
        path = _fill(raw, service)
        runs_actions = raw.endswith(("/optimize", "/execute"))
        body = b'{"force": false}' if runs_actions else None
        response = _call(service, method, path, body, json_header=True)
        if response.status_code >= 400:
            failures.append(f"{method} {raw}: {response.status_code} {response.text[:200]}")
    documented = {
        _shape(p): set(ops) for p, ops in service.get("/openapi.json").json()["paths"].items()
    }
    for method, raw in table_rows():
        if method.lower() not in documented.get(_shape(raw), set()):
            failures.append(f"{method} {raw}: missing from the OpenAPI document")
    assert not failures, "\n".join(failures)


def test_every_curl_example_works_as_written(service: TestClient) -> None:
    failures = []
    for method, path, body, header in curl_examples():
        response = _call(service, method, path, body.encode() if body else None, header)
        if response.status_code >= 400:
            failures.append(f"{method} {path} {body}: {response.status_code} {response.text[:300]}")
    assert not failures, "\n".join(failures)


def test_troubleshooting_jq_paths_exist(service: TestClient) -> None:
    for path, jq in JQ.findall(TEXT):
        body: dict[str, Any] = service.get(path).json()
        assert jq[1:] in body, f"{path} has no {jq}"
    assert isinstance(service.get("/api/v1/performance/status").json()[
        "optimization_actions_today"], int)  # fmt: skip
    configs = service.get("/api/v1/performance/scaling/status").json()["service_configs"]
    assert configs[0]["name"] == "agente-api"


def test_recommendations_keep_the_example_types(service: TestClient) -> None:
    example = json.loads(
        re.search(r"# Ejemplo de respuesta:\n(\{.*?\n\})", TEXT, re.DOTALL)
        .group(1).replace("[...]", "[]")  # type: ignore[union-attr]
    )  # fmt: skip
    body = service.get("/api/v1/performance/recommendations").json()
    for key, value in example.items():
        assert key in body, key
        assert type(body[key]) is type(value), key
    for key in example["database_optimization"]:
        assert all(isinstance(s, str) for s in body["database_optimization"][key])
    for action in body["priority_actions"]:
        assert set(example["priority_actions"][0]) <= set(action)
