"""The monitoring assets in deploy/: Prometheus alerting rules and their promtool unit tests, the
Alertmanager example, the Grafana dashboards, and that every metric they read is one perfpilot
really exports (scraped from the running app, plus the families declared in the source that
only appear once their reading exists)."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from tests.ports import free_port
from tests.test_app import clock, service_factory, state_of, wait_until  # noqa: F401

import perfpilot
from perfpilot.core.clock import ManualClock
from perfpilot.monitor.model import Severity
from perfpilot.optimizer.model import OptimizationType
from perfpilot.optimizer.records import ActionStatus
from perfpilot.scheduler.catalog import BUILTIN_TASKS
from perfpilot.scheduler.run import FINAL_STATUSES

ROOT = Path(__file__).resolve().parent.parent
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
RULES = PROMETHEUS_DIR / "perfpilot-rules.yml"
RULE_TESTS = PROMETHEUS_DIR / "perfpilot-rules.test.yml"
ALERTMANAGER_CONFIG = ROOT / "deploy" / "alertmanager" / "alertmanager.example.yml"
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"
INSTALL_HINT = "run `make test` or `scripts/install-system-deps` (as root) to install it"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}

# The specification's six dashboards ("Monitoreo", "Dashboards de Grafana").
SPEC_DASHBOARDS = {
    "Performance Overview",
    "Resource Monitoring",
    "Optimization History",
    "Scaling Decisions",
    "Database Performance",
    "Cache Performance",
}
# Receivers of deploy/alertmanager/alertmanager.example.yml by severity; None: no severity.
RECEIVERS = {
    "critical": "critical-oncall",
    "warning": "warning-team",
    "info": "info-chat",
    None: "default-webhook",
}


def _tool(name: str) -> str:
    """Path of a Debian-packaged tool; fails (never skips) when it is missing."""
    path = shutil.which(name) or f"/usr/bin/{name}"
    if not Path(path).exists():
        pytest.fail(f"{name} not found; {INSTALL_HINT}")
    return path


def _run(cmd: list[str], cwd: Path | None = None) -> str:
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=60, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(cmd)} exited {result.returncode}:\n{output}"
    return output


def _rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"]]


# ---------------------------------------------------------------- PromQL helpers

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
# An identifier not preceded by a digit, dot or `$` (numbers, durations, Grafana variables) and
# not followed by `(` (a function or an aggregation).
_IDENTIFIER = re.compile(r"(?<![\w.:$])([a-zA-Z_:][\w:]*)\b(?!\s*\()")
_KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "group_left", "group_right", "inf", "nan"}
)
# Grafana's variables and the concrete values promtool checks in their place.
_VARIABLES = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")
_BUILTIN_VALUES = {"__rate_interval": "1m", "__interval": "1m", "__range": "1h"}
_LABEL_VALUES = re.compile(r"^label_values\((.+),\s*\w+\)$")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads."""
    text = _STRINGS.sub('""', expr)
    text = re.sub(r"\{[^}]*\}", "{}", text)
    text = re.sub(r"\[[^\]]*\]", "[]", text)
    text = _GROUPING.sub(" ", text)
    return {m for m in _IDENTIFIER.findall(text) if m.lower() not in _KEYWORDS}


def matchers(expr: str) -> Iterator[tuple[str, str, str, str]]:
    """(metric, label, operator, value) for each label matcher of each selector in ``expr``."""
    for selector in re.finditer(r"([a-zA-Z_:][\w:]*)\s*\{([^}]*)\}", expr):
        for label, op, value in re.findall(r'(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"', selector[2]):
            yield selector[1], label, op, value


def concrete(expr: str) -> str:
    """``expr`` with Grafana's variables replaced by values valid where this project uses them
    (durations for the built-ins, a match-all regex for the dashboard's own variables)."""
    return _VARIABLES.sub(lambda m: _BUILTIN_VALUES.get(m[1] or m[2], ".*"), expr)


def test_metric_names_reads_selectors_not_labels_or_functions() -> None:
    expr = (
        'sum by (le, instance) (rate(a_bucket{job="x", le!="+Inf"}[$__rate_interval])) '
        "/ on (instance) group_left b offset 5m and c > 1e3 or histogram_quantile(0.9, d[5m])"
    )
    assert metric_names(expr) == {"a_bucket", "b", "c", "d"}
    assert list(matchers('x{a="1", b=~"2|3"}')) == [("x", "a", "=", "1"), ("x", "b", "=~", "2|3")]
    assert concrete('x{i=~"$instance"}[$__range]') == 'x{i=~".*"}[1h]'


# ---------------------------------------------------------------- Prometheus rules


def test_rules_pass_promtool_check() -> None:
    output = _run([_tool("promtool"), "check", "rules", str(RULES)])
    assert f"SUCCESS: {len(_rules())} rules found" in output, output


def test_rule_unit_tests_pass() -> None:
    # rule_files in the test file are relative to it.
    output = _run([_tool("promtool"), "test", "rules", RULE_TESTS.name], cwd=PROMETHEUS_DIR)
    assert "SUCCESS" in output, output


def test_every_alert_is_proven_to_fire_and_to_stay_quiet() -> None:
    tests = yaml.safe_load(RULE_TESTS.read_text(encoding="utf-8"))["tests"]
    cases = [case for test in tests for case in test.get("alert_rule_test", [])]
    fired = {c["alertname"] for c in cases if c.get("exp_alerts")}
    quiet = {c["alertname"] for c in cases if not c.get("exp_alerts")}
    fired_severities = {
        (c["alertname"], a["exp_labels"]["severity"])
        for c in cases
        for a in c.get("exp_alerts", [])
    }
    rules = _rules()
    assert {r["alert"] for r in rules} <= fired
    assert {r["alert"] for r in rules} <= quiet
    assert {(r["alert"], r["labels"]["severity"]) for r in rules} <= fired_severities


def test_rules_carry_routing_labels_and_annotations() -> None:
    severities = {s.value for s in Severity}
    rules = _rules()
    for rule in rules:
        assert rule["labels"]["severity"] in severities, rule["alert"]
        assert {"summary", "description"} <= set(rule["annotations"]), rule["alert"]
    # Alertmanager's inhibit rule matches critical resource alerts by `resource`: each one needs
    # the label and a warning twin on the same resource that it can hide.
    critical = [r for r in rules if r["labels"]["severity"] == "critical"]
    assert critical
    warnings = {(r["alert"], r["labels"].get("resource")) for r in rules}
    for rule in critical:
        assert rule["labels"].get("resource"), rule["alert"]
        assert (rule["alert"], rule["labels"]["resource"]) in warnings


# ---------------------------------------------------------------- Alertmanager


def test_alertmanager_example_is_valid_and_routes_by_severity() -> None:
    amtool = _tool("amtool")
    output = _run([amtool, "check-config", str(ALERTMANAGER_CONFIG)])
    assert "SUCCESS" in output, output
    severities = {s.value for s in Severity} | {None}
    assert set(RECEIVERS) == severities
    for severity, receiver in RECEIVERS.items():
        labels = ["alertname=PerfpilotHighCpuUsage"]
        if severity is not None:
            labels.append(f"severity={severity}")
        cmd = [amtool, "config", "routes", "test", f"--config.file={ALERTMANAGER_CONFIG}", *labels]
        routed = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
        assert routed.stdout.strip() == receiver, (severity, routed.stdout, routed.stderr)


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    """A real Alertmanager with the example configuration; its notifications go nowhere (the
    example's receivers are placeholders), which this test does not need."""
    binary = _tool("prometheus-alertmanager")
    port = free_port()
    cmd = [binary, f"--config.file={ALERTMANAGER_CONFIG}", f"--storage.path={tmp_path}"]
    cmd += [
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
        "--log.level=error",
    ]
    log = tmp_path / "alertmanager.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"alertmanager did not start:\n{log.read_text(errors='replace')}")
            time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_critical_inhibits_the_warning_for_the_same_resource_only(alertmanager: str) -> None:
    def alert(name: str, severity: str, instance: str, **labels: str) -> dict[str, Any]:
        base = {"alertname": name, "severity": severity, "instance": instance}
        return {"labels": base | labels}

    cpu, disk = "PerfpilotHighCpuUsage", "PerfpilotHighDiskUsage"
    sent = [
        alert(cpu, "critical", "a", resource="cpu"),
        alert(cpu, "warning", "a", resource="cpu"),
        alert(cpu, "warning", "b", resource="cpu"),
        alert("PerfpilotHighMemoryUsage", "warning", "a", resource="memory"),
        alert(disk, "critical", "a", resource="disk", mount="/data"),
        alert(disk, "warning", "a", resource="disk", mount="/data"),
        alert(disk, "warning", "a", resource="disk", mount="/"),
        alert("PerfpilotMonitorErrors", "warning", "a"),
    ]
    assert httpx.post(f"{alertmanager}/api/v2/alerts", json=sent).status_code == 200
    received = httpx.get(f"{alertmanager}/api/v2/alerts").json()
    state = {
        tuple(sorted(a["labels"].items())): a["status"]["state"] == "suppressed" for a in received
    }
    assert len(state) == len(sent)
    inhibited = {key for key, suppressed in state.items() if suppressed}
    assert inhibited == {
        tuple(sorted(sent[1]["labels"].items())),  # cpu warning on a, under the cpu critical
        tuple(sorted(sent[5]["labels"].items())),  # /data warning on a, under the /data critical
    }


# ---------------------------------------------------------------- Grafana dashboards


def _dashboards() -> dict[str, dict[str, Any]]:
    paths = sorted(DASHBOARDS.glob("*.json"))
    assert paths, f"no dashboards in {DASHBOARDS}"
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in paths}


def _panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in board["panels"]:
        yield panel
        yield from panel.get("panels", [])


def _queries(board: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, PromQL) for every panel target, annotation and label_values variable."""
    for panel in _panels(board):
        for target in panel.get("targets", []):
            yield f"panel {panel['title']!r} {target['refId']}", target["expr"]
    for annotation in board["annotations"]["list"]:
        if "expr" in annotation:
            yield f"annotation {annotation['name']!r}", annotation["expr"]
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            selector = _LABEL_VALUES.match(variable["definition"])
            assert selector, f"variable {variable['name']}: expected label_values(...)"
            yield f"variable {variable['name']!r}", selector[1]


def _all_queries() -> list[tuple[str, str]]:
    return [
        (f"{name}: {where}", q) for name, b in _dashboards().items() for where, q in _queries(b)
    ]


def test_dashboards_are_well_formed() -> None:
    boards = _dashboards()
    uids = [b["uid"] for b in boards.values()]
    titles = [b["title"] for b in boards.values()]
    assert len(set(uids)) == len(uids) == len(boards)
    assert len(set(titles)) == len(titles)
    assert {t.split(" / ", 1)[-1] for t in titles} == SPEC_DASHBOARDS
    for name, board in boards.items():
        assert board["schemaVersion"] >= 36, name
        variables = {v["name"]: v for v in board["templating"]["list"]}
        assert (variables["datasource"]["type"], variables["datasource"]["query"]) == (
            "datasource",
            "prometheus",
        ), name
        ids = [p["id"] for p in _panels(board)]
        assert len(set(ids)) == len(ids), name
        for panel in _panels(board):
            where = f"{name}: {panel['title']}"
            assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24, where
            if panel["type"] in {"row", "text"}:
                continue
            assert panel["datasource"] == DATASOURCE, where
            assert panel["targets"], where
            assert all(t["datasource"] == DATASOURCE and t["expr"] for t in panel["targets"]), where
            assert panel["fieldConfig"]["defaults"]["unit"], where
        for variable in variables.values():
            if variable["type"] == "query":
                assert variable["datasource"] == DATASOURCE, name
        # Every variable a query uses is defined on the dashboard (or is Grafana's own).
        used = {m[0] or m[1] for _, q in _queries(board) for m in _VARIABLES.findall(q)}
        assert used - _BUILTIN_VALUES.keys() <= variables.keys(), name
    cache = next(b for b in boards.values() if b["title"].endswith("Cache Performance"))
    assert any('namespace=~"$namespace"' in q for _, q in _queries(cache))


def test_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    queries = _all_queries()
    for where, query in queries:
        assert "$" not in concrete(query), where
    rules = [
        {"record": f"perfpilot_dashboard_query_{i}", "expr": concrete(query)}
        for i, (_, query) in enumerate(queries)
    ]
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    cmd = [_tool("promtool"), "check", "rules", str(path)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    # promtool names the failing rule by its number: say which query that is.
    index = "\n".join(f"rule {i + 1}: {where}" for i, (where, _) in enumerate(queries))
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{output}\n{index}"
    assert f"SUCCESS: {len(rules)} rules found" in output, output


# ---------------------------------------------------------------- metric names and labels

_SERIES_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "gauge": ("",),
    "unknown": ("",),
}
# prometheus_client's constructors, by the type of the family they make.
_CONSTRUCTORS = {
    "Counter": "counter",
    "CounterMetricFamily": "counter",
    "Gauge": "gauge",
    "GaugeMetricFamily": "gauge",
    "Histogram": "histogram",
    "HistogramMetricFamily": "histogram",
    "Summary": "summary",
    "SummaryMetricFamily": "summary",
}


def _series(family: str, kind: str) -> set[str]:
    return {family + suffix for suffix in _SERIES_SUFFIXES[kind]}


def _declared_family(call: ast.Call, kind: str) -> str | None:
    """The family name of a constructor call with a literal name, as prometheus_client forms
    it (a counter's ``_total`` removed, the unit appended)."""
    if not call.args or not isinstance(call.args[0], ast.Constant):
        return None
    name = call.args[0].value
    if not isinstance(name, str):
        return None
    if kind == "counter":
        name = name.removesuffix("_total")
    for keyword in call.keywords:
        unit = keyword.value
        is_unit = keyword.arg == "unit" and isinstance(unit, ast.Constant) and unit.value
        if is_unit and not name.endswith(f"_{unit.value}"):
            name = f"{name}_{unit.value}"
    return name


def declared_series() -> set[str]:
    """Series names of every family perfpilot's source declares with a literal name: the
    families that stay absent until their reading exists (cgroup limits, the cache sweep's)."""
    names: set[str] = set()
    for path in Path(perfpilot.__file__).parent.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {
            alias.asname or alias.name: alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("prometheus_")
            for alias in node.names
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                kind = _CONSTRUCTORS.get(imported.get(node.func.id, ""))
                family = _declared_family(node, kind) if kind else None
                if kind and family:
                    names |= _series(family, kind)
    return names


def scraped_series(exposition: str) -> tuple[set[str], dict[tuple[str, str], set[str]]]:
    """Series names in an exposition (empty families included) and the label values seen."""
    names: set[str] = set()
    values: dict[tuple[str, str], set[str]] = {}
    for family in text_string_to_metric_families(exposition):
        names |= _series(family.name, family.type)
        for sample in family.samples:
            names.add(sample.name)
            for label, value in sample.labels.items():
                values.setdefault((sample.name, label), set()).add(value)
    return names, values


@pytest.fixture
def exposition(
    service_factory: Callable[..., TestClient],  # noqa: F811
    clock: ManualClock,  # noqa: F811
) -> str:
    """/metrics of the real app (the suite's PostgreSQL and Redis) after two host samples."""
    client = service_factory()
    state = state_of(client)
    wait_until(lambda: state.monitor.samples_taken >= 1)
    clock.advance(5)
    state.monitor.tick()
    response = client.get("/metrics")
    assert response.status_code == 200
    return response.text


def _asset_queries() -> list[tuple[str, str]]:
    rules = [(f"rule {r['alert']}", r["expr"]) for r in _rules()]
    return rules + _all_queries()


def test_every_metric_read_is_one_perfpilot_exports(exposition: str) -> None:
    scraped, _ = scraped_series(exposition)
    declared = declared_series()
    # The declarations are found: the specification's families and a conditional one.
    assert {"system_resource_usage", "scaling_operations_total"} <= declared
    assert "perfpilot_cgroup_memory_limit_bytes" in declared
    exported = scraped | declared
    unknown = {
        (where, name)
        for where, query in _asset_queries()
        for name in metric_names(query)
        if name not in exported
    }
    assert not unknown, f"metrics perfpilot does not export: {sorted(unknown)}"


def test_label_values_are_ones_perfpilot_produces(exposition: str) -> None:
    _, seen = scraped_series(exposition)
    tasks = {t.id for t in BUILTIN_TASKS}
    # Swap is reported only on hosts that have swap (metrics/monitor_collector.py).
    resource_types = seen.get(("system_resource_usage", "resource_type"), set()) | {"swap"}
    allowed = {
        ("system_resource_usage", "resource_type"): resource_types,
        ("perfpilot_alerts_firing", "severity"): {s.value for s in Severity},
        ("perfpilot_optimization_actions_total", "type"): {t.value for t in OptimizationType},
        ("perfpilot_optimization_actions_total", "status"): {s.value for s in ActionStatus},
        ("perfpilot_scheduler_runs_total", "status"): {s.value for s in FINAL_STATUSES},
        ("perfpilot_database_shared_blocks_total", "source"): {"hit", "read"},
    }
    for metric in (
        "perfpilot_scheduler_runs_total",
        "perfpilot_scheduler_missed_runs_total",
        "perfpilot_scheduler_skipped_runs_total",
        "perfpilot_scheduler_run_duration_seconds_sum",
        "perfpilot_scheduler_run_duration_seconds_count",
        "perfpilot_scheduler_start_lateness_seconds_bucket",
    ):
        allowed[(metric, "task")] = tasks
    checked = 0
    for where, query in _asset_queries():
        for metric, label, op, value in matchers(concrete(query)):
            values = allowed.get((metric, label))
            if values is None or op not in {"=", "=~"} or value == ".*":
                continue
            checked += 1
            wanted = set(value.split("|")) if op == "=~" else {value}
            assert wanted <= values, f"{where}: {metric}{{{label}{op}{value!r}}} not in {values}"
    assert checked >= 20
