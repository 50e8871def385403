"""The Kubernetes backend through the official client against a small local API server that
implements the scale subresource and HPAs (``fake_kubernetes``: no cluster runs here)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.scaling.fake_kubernetes import FakeCluster, serve

from perfpilot.core.scaling_config import BackendConfig
from perfpilot.scaling.backends.base import BackendError
from perfpilot.scaling.backends.kubernetes import KubernetesBackend


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[FakeCluster, Path]]:
    with serve(tmp_path) as running:
        yield running


def _backend(kubeconfig: Path, **fields: Any) -> KubernetesBackend:
    cfg = BackendConfig.model_validate(
        {
            "kind": "kubernetes",
            "namespace": "hotel",
            "target_name": "agente-api",
            "kubeconfig": str(kubeconfig),
        }
        | fields
    )
    return KubernetesBackend(cfg)


def test_deployment_scale_subresource(cluster: tuple[FakeCluster, Path]) -> None:
    state, kubeconfig = cluster
    backend = _backend(kubeconfig)
    assert backend.observe().instances == 2
    observed = backend.scale(5)
    assert observed.instances == 5
    assert state.replicas[("hotel", "agente-api")] == 5
    patch = [r for r in state.requests if r[0] == "PATCH"]
    assert patch == [
        (
            "PATCH",
            "/apis/apps/v1/namespaces/hotel/deployments/agente-api/scale",
            {"spec": {"replicas": 5}},
        )
    ]


def test_hpa_floor_for_scheduled_peaks(cluster: tuple[FakeCluster, Path]) -> None:
    state, kubeconfig = cluster
    backend = _backend(kubeconfig, target_kind="hpa")
    assert backend.observe().instances == 3
    backend.scale(4)
    assert state.hpas[("hotel", "agente-api")]["minReplicas"] == 4
    assert state.hpas[("hotel", "agente-api")]["maxReplicas"] == 6
    backend.scale(8)
    assert state.hpas[("hotel", "agente-api")]["maxReplicas"] == 8


def test_missing_workload_and_unreachable_server_are_reasons(
    cluster: tuple[FakeCluster, Path], tmp_path: Path
) -> None:
    _, kubeconfig = cluster
    missing = _backend(kubeconfig, target_name="ghost").observe()
    assert missing.instances is None
    assert missing.reason == "deployment/hotel/ghost: API error 404 Not Found"
    with pytest.raises(BackendError, match="ghost: API error 404"):
        _backend(kubeconfig, target_name="ghost").scale(3)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = sock.getsockname()[1]
    text = kubeconfig.read_text().replace(
        json.loads(kubeconfig.read_text())["clusters"][0]["cluster"]["server"],
        f"http://127.0.0.1:{dead}",
    )
    down_config = tmp_path / "down"
    down_config.write_text(text)
    down = _backend(down_config).observe()
    assert down.instances is None
    assert "unreachable" in (down.reason or "")
    no_config = _backend(tmp_path / "absent").observe()
    assert no_config.reason is not None
    assert no_config.reason.startswith("kubernetes configuration not loaded")
