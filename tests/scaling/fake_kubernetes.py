"""A small local Kubernetes API server (the one fake: no cluster runs here): the scale
subresource of Deployments and StatefulSets, HPAs, pods listed by label selector and the
metrics API's pod entries (``metrics.k8s.io/v1beta1``)."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

_SCALE = re.compile(r"^/apis/apps/v1/namespaces/([^/]+)/(deployments|statefulsets)/([^/]+)/scale$")
_HPA = re.compile(r"^/apis/autoscaling/v1/namespaces/([^/]+)/horizontalpodautoscalers/([^/]+)$")
_PODS = re.compile(r"^/api/v1/namespaces/([^/]+)/pods$")
_POD_METRICS = re.compile(r"^/apis/metrics\.k8s\.io/v1beta1/namespaces/([^/]+)/pods$")
_NOT_FOUND = {"kind": "Status", "code": 404, "reason": "NotFound"}


class FakeCluster:
    """Workload replicas, HPAs, pods and pod metrics by namespace; every request is logged."""

    def __init__(self) -> None:
        self.replicas: dict[tuple[str, str], int] = {("hotel", "agente-api"): 2}
        self.hpas: dict[tuple[str, str], dict[str, int]] = {
            ("hotel", "agente-api"): {"minReplicas": 2, "maxReplicas": 6, "current": 3}
        }
        self.pods: dict[str, list[dict[str, Any]]] = {}
        self.pod_metrics: dict[str, list[dict[str, Any]]] = {}
        # Set to 404 to play a cluster without metrics-server, 403 one without the RBAC.
        self.metrics_status = 200
        self.requests: list[tuple[str, str, Any]] = []


def _selected(items: list[dict[str, Any]], query: str) -> list[dict[str, Any]]:
    """Items whose labels match an equality selector ``k=v,k2=v2``."""
    selector = parse_qs(query).get("labelSelector", [""])[0]
    wanted = dict(term.split("=", 1) for term in selector.split(",") if term)
    return [
        i
        for i in items
        if all(i["metadata"].get("labels", {}).get(k) == v for k, v in wanted.items())
    ]


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
            url = urlsplit(self.path)
            if (m := _SCALE.match(url.path)) is not None:
                key = (m.group(1), m.group(3))
                if key not in cluster.replicas:
                    self._send(404, _NOT_FOUND)
                    return
                if method == "PATCH":
                    cluster.replicas[key] = body["spec"]["replicas"]
                self._send(200, _scale(key, cluster.replicas[key]))
            elif (m := _HPA.match(url.path)) is not None:
                hpa = cluster.hpas[(m.group(1), m.group(2))]
                if method == "PATCH":
                    hpa.update(body["spec"])
                    hpa["current"] = max(hpa["current"], hpa["minReplicas"])
                self._send(200, _hpa(m.group(1), m.group(2), hpa))
            elif (m := _PODS.match(url.path)) is not None:
                pods = _selected(cluster.pods.get(m.group(1), []), url.query)
                self._send(200, {"kind": "PodList", "apiVersion": "v1", "items": pods})
            elif (m := _POD_METRICS.match(url.path)) is not None:
                if cluster.metrics_status != 200:
                    code = cluster.metrics_status
                    reason = "Forbidden" if code == 403 else "NotFound"
                    self._send(code, {"kind": "Status", "code": code, "reason": reason})
                    return
                items = _selected(cluster.pod_metrics.get(m.group(1), []), url.query)
                self._send(200, {"kind": "PodMetricsList", "items": items})
            else:
                self._send(404, _NOT_FOUND)

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


def _time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def pod(
    name: str,
    requests: list[dict[str, str]],
    *,
    ready_since: datetime | None,
    app: str = "agente-api",
    phase: str = "Running",
) -> dict[str, Any]:
    """A pod with one container per ``requests`` entry; Ready from ``ready_since`` (None: not
    Ready)."""
    ready = ready_since is not None
    condition = {
        "type": "Ready",
        "status": "True" if ready else "False",
        "lastTransitionTime": _time(ready_since or datetime(2026, 1, 1, tzinfo=UTC)),
    }
    containers = [
        {"name": f"c{i}", "image": "app", "resources": {"requests": r} if r else {}}
        for i, r in enumerate(requests)
    ]
    return {
        "metadata": {"name": name, "namespace": "hotel", "labels": {"app": app}},
        "spec": {"containers": containers},
        "status": {"phase": phase, "conditions": [condition]},
    }


def pod_metrics(
    name: str, usage: list[dict[str, str]], at: datetime, app: str = "agente-api"
) -> dict[str, Any]:
    """The metrics API's entry for pod ``name``: one container per ``usage`` entry."""
    return {
        "metadata": {"name": name, "namespace": "hotel", "labels": {"app": app}},
        "timestamp": _time(at),
        "window": "15s",
        "containers": [{"name": f"c{i}", "usage": u} for i, u in enumerate(usage)],
    }


@contextmanager
def serve(tmp_path: Path) -> Iterator[tuple[FakeCluster, Path]]:
    """The running fake and a kubeconfig pointing at it."""
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
    try:
        yield state, kubeconfig
    finally:
        server.shutdown()
        thread.join(timeout=5)
