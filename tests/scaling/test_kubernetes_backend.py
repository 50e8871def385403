"""The Kubernetes backend through the official client against a small local API server that
implements the scale subresource and HPAs (the one fake: no cluster runs here)."""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from perfpilot.core.scaling_config import BackendConfig
from perfpilot.scaling.backends.base import BackendError
from perfpilot.scaling.backends.kubernetes import KubernetesBackend

_SCALE = re.compile(r"^/apis/apps/v1/namespaces/([^/]+)/(deployments|statefulsets)/([^/]+)/scale$")
_HPA = re.compile(r"^/apis/autoscaling/v1/namespaces/([^/]+)/horizontalpodautoscalers/([^/]+)$")


class FakeCluster:
    """Workload replicas and HPAs by (namespace, name); every request is logged."""

    def __init__(self) -> None:
        self.replicas: dict[tuple[str, str], int] = {("hotel", "agente-api"): 2}
        self.hpas: dict[tuple[str, str], dict[str, int]] = {
            ("hotel", "agente-api"): {"minReplicas": 2, "maxReplicas": 6, "current": 3}
        }
        self.requests: list[tuple[str, str, Any]] = []


def _handler(cluster: FakeCluster) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _send(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> Any:
            length = int(self.headers.get("Content-Length", "0"))
            return json.loads(self.rfile.read(length)) if length else None

        def _handle(self, method: str) -> None:
            body = self._body() if method == "PATCH" else None
            cluster.requests.append((method, self.path, body))
            if (m := _SCALE.match(self.path)) is not None:
                key = (m.group(1), m.group(3))
                if key not in cluster.replicas:
                    self._send(404, {"kind": "Status", "code": 404, "reason": "NotFound"})
                    return
                if method == "PATCH":
                    cluster.replicas[key] = body["spec"]["replicas"]
                n = cluster.replicas[key]
                self._send(200, _scale(key, n))
            elif (m := _HPA.match(self.path)) is not None:
                hpa = cluster.hpas[(m.group(1), m.group(2))]
                if method == "PATCH":
                    hpa.update(body["spec"])
                    hpa["current"] = max(hpa["current"], hpa["minReplicas"])
                self._send(200, _hpa(m.group(1), m.group(2), hpa))
            else:
                self._send(404, {"kind": "Status", "code": 404, "reason": "NotFound"})

        def do_GET(self) -> None:
            self._handle("GET")

        def do_PATCH(self) -> None:
            self._handle("PATCH")

    return Handler


def _scale(key: tuple[str, str], n: int) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": {"namespace": key[0], "name": key[1]},
        "spec": {"replicas": n},
        "status": {"replicas": n, "selector": f"app={key[1]}"},
    }


def _hpa(ns: str, name: str, hpa: dict[str, int]) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v1",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"namespace": ns, "name": name},
        "spec": {
            "minReplicas": hpa["minReplicas"],
            "maxReplicas": hpa["maxReplicas"],
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
        },
        "status": {"currentReplicas": hpa["current"], "desiredReplicas": hpa["current"]},
    }


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[FakeCluster, Path]]:
    state = FakeCluster()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "local",
                        "cluster": {"server": f"http://127.0.0.1:{server.server_port}"},
                    }
                ],
                "users": [{"name": "perfpilot", "user": {"token": "test-token"}}],
                "contexts": [
                    {"name": "local", "context": {"cluster": "local", "user": "perfpilot"}}
                ],
                "current-context": "local",
            }
        )
    )
    yield state, kubeconfig
    server.shutdown()
    thread.join(timeout=5)


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
