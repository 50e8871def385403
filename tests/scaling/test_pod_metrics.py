"""Pod CPU and memory from the metrics API, as the HPA computes them, through the official client
against the local fake API server (``fake_kubernetes``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.scaling.fake_kubernetes import FakeCluster, pod, pod_metrics, serve

from perfpilot.core.clock import ManualClock
from perfpilot.core.scaling_config import BackendConfig, ScalingConfig, ServiceConfig
from perfpilot.scaling.backends.factory import backend_for, usage_for
from perfpilot.scaling.backends.pod_metrics import PodMetricsUsage, quantity
from perfpilot.scaling.parts import ScalerParts
from perfpilot.scaling.scaler import AutoScaler
from perfpilot.scaling.service import ServiceRuntime

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
READY = T0 - timedelta(hours=1)
MI = 1024 * 1024


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[FakeCluster, Path]]:
    with serve(tmp_path) as running:
        yield running


def _backend_config(kubeconfig: Path, **fields: Any) -> dict[str, Any]:
    return {
        "kind": "kubernetes",
        "namespace": "hotel",
        "target_name": "agente-api",
        "kubeconfig": str(kubeconfig),
    } | fields


def _usage(kubeconfig: Path) -> PodMetricsUsage:
    return PodMetricsUsage(BackendConfig.model_validate(_backend_config(kubeconfig)))


def _read(kubeconfig: Path) -> dict[str, tuple[float | None, datetime | None, str | None]]:
    return {r.name: (r.value, r.at, r.reason) for r in _usage(kubeconfig).read(T0)}


def _two_pods(state: FakeCluster) -> None:
    """Pod a: two containers (200m + 50m CPU, 128Mi + 64Mi requested) using 300m + 100m and
    96Mi + 32Mi; pod b: 500m and 256Mi requested, 0.25 core (in nanocores) and 128Mi used."""
    state.pods["hotel"] = [
        pod(
            "a",
            [{"cpu": "200m", "memory": "128Mi"}, {"cpu": "50m", "memory": "64Mi"}],
            ready_since=READY,
        ),
        pod("b", [{"cpu": "500m", "memory": "256Mi"}], ready_since=READY),
        # Another workload's pod in the namespace: not selected.
        pod("other", [{"cpu": "100m", "memory": "64Mi"}], ready_since=READY, app="other"),
    ]
    state.pod_metrics["hotel"] = [
        pod_metrics(
            "a",
            [{"cpu": "300m", "memory": "96Mi"}, {"cpu": "100m", "memory": "32Mi"}],
            T0 - timedelta(seconds=20),
        ),
        pod_metrics("b", [{"cpu": "250000000n", "memory": "131072Ki"}], T0 - timedelta(seconds=5)),
        pod_metrics("other", [{"cpu": "4", "memory": "1Gi"}], T0, app="other"),
    ]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("250m", 0.25),
        ("1", 1.0),
        ("1.5", 1.5),
        ("128Mi", 128 * MI),
        ("1Gi", 1024 * MI),
        ("500000n", 0.0005),
        ("64Ki", 65536.0),
        ("2k", 2000.0),
        ("1e3", 1000.0),
    ],
)
def test_quantity(text: str, value: float) -> None:
    assert quantity(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["abc", "12x", "-1", "NaN", "1ki", ""])
def test_quantity_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=r"Invalid number format|not a usable quantity|suffix"):
        quantity(text)


def test_utilization_is_usage_over_requests_of_selected_pods(
    cluster: tuple[FakeCluster, Path],
) -> None:
    state, kubeconfig = cluster
    _two_pods(state)
    readings = _read(kubeconfig)
    # HPA: sum of usage over sum of requests, over pods, not a mean of per-pod ratios.
    cpu, cpu_at, _ = readings["cpu"]
    assert cpu == pytest.approx(100 * (0.3 + 0.1 + 0.25) / (0.2 + 0.05 + 0.5))
    memory, memory_at, _ = readings["memory"]
    assert memory == pytest.approx(100 * (96 + 32 + 128) / (128 + 64 + 256))
    # Dated by the oldest metric point used, for the scaler's staleness check.
    assert cpu_at == memory_at == T0 - timedelta(seconds=20)
    paths = [path for _, path, _ in state.requests]
    assert "/api/v1/namespaces/hotel/pods?labelSelector=app%3Dagente-api" in paths
    assert (
        "/apis/metrics.k8s.io/v1beta1/namespaces/hotel/pods?labelSelector=app%3Dagente-api" in paths
    )


def test_unready_pods_are_set_aside_for_cpu(cluster: tuple[FakeCluster, Path]) -> None:
    state, kubeconfig = cluster
    _two_pods(state)
    state.pods["hotel"] += [
        # Starting up: not Ready, burning CPU.
        pod("starting", [{"cpu": "500m", "memory": "256Mi"}], ready_since=None),
        # Ready only after its latest metric point was taken.
        pod("late", [{"cpu": "500m", "memory": "256Mi"}], ready_since=T0),
        pod("pending", [{"cpu": "500m", "memory": "256Mi"}], ready_since=None, phase="Pending"),
        # No metrics yet: set aside as well.
        pod("new", [{"cpu": "500m", "memory": "256Mi"}], ready_since=READY),
    ]
    state.pod_metrics["hotel"] += [
        pod_metrics("starting", [{"cpu": "2", "memory": "256Mi"}], T0 - timedelta(seconds=10)),
        pod_metrics("late", [{"cpu": "2", "memory": "256Mi"}], T0 - timedelta(seconds=10)),
        pod_metrics("pending", [{"cpu": "2", "memory": "256Mi"}], T0 - timedelta(seconds=10)),
    ]
    readings = _read(kubeconfig)
    assert readings["cpu"][0] == pytest.approx(100 * 0.65 / 0.75)
    # Readiness matters for CPU only (HPA docs); memory counts the Running pods with metrics.
    assert readings["memory"][0] == pytest.approx(100 * (256 + 512) / (448 + 512))


def test_missing_request_makes_the_reading_none(cluster: tuple[FakeCluster, Path]) -> None:
    state, kubeconfig = cluster
    _two_pods(state)
    state.pods["hotel"].append(
        pod("sidecar", [{"cpu": "100m", "memory": "10Mi"}, {}], ready_since=READY)
    )
    state.pod_metrics["hotel"].append(
        pod_metrics(
            "sidecar", [{"cpu": "50m", "memory": "10Mi"}, {"cpu": "1m", "memory": "1Mi"}], T0
        )
    )
    readings = _read(kubeconfig)
    for name in ("cpu", "memory"):
        value, at, reason = readings[name]
        assert (value, at) == (None, None)
        assert reason == (
            f"container c1 of pod sidecar has no {name} request (the HPA refuses too)"
        )


@pytest.mark.parametrize(("status", "text"), [(404, "404 Not Found"), (403, "403 Forbidden")])
def test_metrics_api_unavailable_is_a_reason(
    cluster: tuple[FakeCluster, Path], status: int, text: str
) -> None:
    state, kubeconfig = cluster
    _two_pods(state)
    state.metrics_status = status
    readings = _read(kubeconfig)
    for name in ("cpu", "memory"):
        value, _, reason = readings[name]
        assert value is None
        assert reason is not None
        assert reason.startswith(
            f"metrics API metrics.k8s.io/v1beta1 unavailable (API error {text})"
        )


def test_unknown_workload_and_no_pods_are_reasons(cluster: tuple[FakeCluster, Path]) -> None:
    _, kubeconfig = cluster
    assert _read(kubeconfig)["cpu"] == (
        None,
        None,
        "no pod matches the workload's selector",
    )
    ghost = PodMetricsUsage(
        BackendConfig.model_validate(_backend_config(kubeconfig, target_name="ghost"))
    )
    [cpu, _] = ghost.read(T0)
    assert cpu.reason == "cannot read deployment/hotel/ghost: API error 404 Not Found"


def test_usage_for_kubernetes_targets(cluster: tuple[FakeCluster, Path]) -> None:
    _, kubeconfig = cluster
    for kind, expected in (("deployment", True), ("statefulset", True), ("hpa", False)):
        service = ServiceConfig.model_validate(
            {"name": "agente-api", "backend": _backend_config(kubeconfig, target_kind=kind)}
        )
        usage = usage_for(service, backend_for(service))
        assert isinstance(usage, PodMetricsUsage) is expected


def test_scaler_scales_a_deployment_on_its_pods_cpu(cluster: tuple[FakeCluster, Path]) -> None:
    """Two pods at 140 % of their CPU request against a 70 % target: the HPA formula asks for
    ceil(2 x 140 / 70) = 4, and the scaler orders it through the scale subresource."""
    state, kubeconfig = cluster
    state.pods["hotel"] = [
        pod(name, [{"cpu": "500m", "memory": "100Mi"}], ready_since=READY) for name in "ab"
    ]
    state.pod_metrics["hotel"] = [
        pod_metrics(name, [{"cpu": "700m", "memory": "80Mi"}], T0 - timedelta(seconds=15))
        for name in "ab"
    ]
    service = ServiceConfig.model_validate(
        {
            "name": "agente-api",
            "min_instances": 2,
            "max_instances": 10,
            "target_cpu_percent": 70,
            "target_memory_percent": 80,
            "backend": _backend_config(kubeconfig),
        }
    )
    backend = backend_for(service)
    clock = ManualClock(T0)
    usage = usage_for(service, backend, clock.monotonic)
    assert usage is not None
    scaler = AutoScaler(
        ScalingConfig(services=(service,)),
        [ServiceRuntime(service, backend, usage)],
        ScalerParts(clock=clock),
        enabled=True,
    )
    [execution] = scaler.cycle()
    assert (execution.previous, execution.desired, execution.observed) == (2, 4, 4)
    assert execution.status == "success"
    assert state.replicas[("hotel", "agente-api")] == 4
    decision = scaler.runtimes()[0].decision
    assert decision is not None
    proposals = {p.metric: p for p in decision.proposals}
    assert proposals["cpu"].value == pytest.approx(140.0)
    assert proposals["cpu"].proposal == 4
    assert proposals["memory"].value == pytest.approx(80.0)
