"""A Deployment's or StatefulSet's own CPU and memory, from its pods' entries in the metrics API
(``metrics.k8s.io/v1beta1``, served by metrics-server), computed as the HPA computes resource
utilization: https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#algorithm-details

    utilization = 100 x sum(container usage) / sum(container requests)

over the pods the workload's selector matches (the selector the scale subresource reports, as
the HPA reads it). Like the HPA: deleted and Failed pods are ignored, Pending pods and pods
without metrics are set aside, and for CPU a pod that is not Ready, or whose latest metric
point predates its readiness, is set aside too. A pod container without a request for the
resource makes the reading None: the HPA refuses that metric too. The RBAC this needs is in
``deploy/rbac.yaml``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from kubernetes.utils import parse_quantity
from urllib3.exceptions import HTTPError

from perfpilot.core.scaling_config import BackendConfig
from perfpilot.scaling.backends.base import BackendError
from perfpilot.scaling.backends.kubernetes import api_client
from perfpilot.scaling.model import MetricReading

RESOURCES = ("cpu", "memory")


def quantity(text: str) -> float:
    """The value of a Kubernetes quantity in base units ("250m" -> 0.25 cores, "128Mi" ->
    134217728 bytes); ValueError when ``text`` is not a finite, non-negative quantity."""
    value: Decimal = parse_quantity(text)  # type: ignore[no-untyped-call]
    if not value.is_finite() or value < 0:
        raise ValueError(f"not a usable quantity: {text!r}")
    return float(value)


@dataclass(frozen=True, slots=True)
class PodState:
    """What the HPA reads from a pod: its phase, readiness and containers' requests."""

    name: str
    phase: str
    deleting: bool
    # When the Ready condition last turned True; None when the pod is not Ready.
    ready_since: datetime | None
    # Per container (name, requests in base units); a resource absent has no request.
    requests: tuple[tuple[str, Mapping[str, float]], ...]


@dataclass(frozen=True, slots=True)
class PodUsage:
    """A pod's metrics-API entry: usage summed over its containers, in base units; a resource
    is absent when a container did not report it."""

    name: str
    at: datetime
    usage: Mapping[str, float]


def utilization(
    resource: str, pods: Sequence[PodState], usage: Mapping[str, PodUsage]
) -> MetricReading:
    """The HPA's utilization of ``resource`` in percent of the requests; None with the reason
    when the HPA would have no value either. ``at`` is the oldest metric point used."""
    if not pods:
        return MetricReading(resource, None, None, "no pod matches the workload's selector")
    for pod in pods:
        for container, requests in pod.requests:
            if resource not in requests:
                reason = f"container {container} of pod {pod.name} has no {resource} request"
                return MetricReading(resource, None, None, f"{reason} (the HPA refuses too)")
    counted = [p for p in pods if _counted(resource, p, usage.get(p.name))]
    if not counted:
        return MetricReading(resource, None, None, f"no ready pod has {resource} metrics")
    requested = sum(sum(r[resource] for _, r in p.requests) for p in counted)
    if requested <= 0:
        return MetricReading(resource, None, None, f"{resource} requests sum to zero")
    used = sum(usage[p.name].usage[resource] for p in counted)
    oldest = min(usage[p.name].at for p in counted)
    return MetricReading(resource, 100.0 * used / requested, oldest)


def _counted(resource: str, pod: PodState, usage: PodUsage | None) -> bool:
    if pod.deleting or pod.phase in ("Failed", "Pending"):
        return False
    if usage is None or resource not in usage.usage:
        return False
    if resource != "cpu":
        return True
    # The HPA sets CPU samples aside while a pod is not Ready or its sample predates readiness
    # (start-up CPU would otherwise look like load).
    return pod.ready_since is not None and usage.at >= pod.ready_since


class PodMetricsUsage:
    """``cpu`` and ``memory`` of the configured Deployment or StatefulSet's pods."""

    def __init__(self, cfg: BackendConfig, api: Any | None = None) -> None:
        if cfg.target_name is None or cfg.target_kind == "hpa":
            raise BackendError("pod metrics need a deployment or statefulset target_name")
        self._cfg = cfg
        self._name = cfg.target_name
        self._api = api

    def read(self, now: datetime) -> list[MetricReading]:
        """One reading per resource; None values carry the reason (API down, no metrics-server,
        no requests). ``now`` is unused: each reading is dated by its metric points."""
        try:
            selector = self._selector()
            pods = self._pods(selector)
            usage = self._usage(selector)
        except BackendError as exc:
            return [MetricReading(name, None, None, str(exc)) for name in RESOURCES]
        return [utilization(name, pods, usage) for name in RESOURCES]

    def _client(self) -> Any:
        if self._api is None:
            self._api = api_client(self._cfg)
        return self._api

    def _selector(self) -> str:
        apps = client.AppsV1Api(self._client())
        kind = "deployment" if self._cfg.target_kind == "deployment" else "stateful_set"
        read = getattr(apps, f"read_namespaced_{kind}_scale")
        target = f"{self._cfg.target_kind}/{self._cfg.namespace}/{self._name}"
        try:
            scale = read(self._name, self._cfg.namespace)
        except (ApiException, HTTPError, OSError) as exc:
            raise BackendError(f"cannot read {target}: {_describe(exc)}") from exc
        # The HPA selects pods with the scale subresource's selector (the workload's
        # spec.selector, serialized).
        selector = scale.status.selector if scale.status else None
        if not selector:
            raise BackendError(f"{target} reports no pod selector")
        return str(selector)

    def _pods(self, selector: str) -> list[PodState]:
        core = client.CoreV1Api(self._client())
        try:
            listed = core.list_namespaced_pod(self._cfg.namespace, label_selector=selector)
        except (ApiException, HTTPError, OSError) as exc:
            raise BackendError(f"cannot list pods {selector}: {_describe(exc)}") from exc
        try:
            return [_pod_state(pod) for pod in listed.items]
        except ValueError as exc:
            raise BackendError(f"a pod of {selector} is unreadable: {exc}") from exc

    def _usage(self, selector: str) -> dict[str, PodUsage]:
        custom = client.CustomObjectsApi(self._client())
        try:
            listed = custom.list_namespaced_custom_object(
                group="metrics.k8s.io",
                version="v1beta1",
                namespace=self._cfg.namespace,
                plural="pods",
                label_selector=selector,
            )
        except ApiException as exc:
            if exc.status in (403, 404):
                raise BackendError(
                    f"metrics API metrics.k8s.io/v1beta1 unavailable ({_describe(exc)}): "
                    "is metrics-server installed and pods.metrics.k8s.io listable?"
                ) from exc
            raise BackendError(f"metrics API: {_describe(exc)}") from exc
        except (HTTPError, OSError) as exc:
            raise BackendError(f"metrics API: {_describe(exc)}") from exc
        items = listed.get("items") if isinstance(listed, dict) else None
        if not isinstance(items, list):
            raise BackendError("metrics API returned no list of pod metrics")
        try:
            usages = [_pod_usage(item) for item in items]
        except (KeyError, TypeError, ValueError) as exc:
            raise BackendError(f"metrics API returned an unreadable entry: {exc!r}") from exc
        return {u.name: u for u in usages}


def _pod_state(pod: client.V1Pod) -> PodState:
    meta, spec, status = pod.metadata, pod.spec, pod.status
    if meta is None or meta.name is None or spec is None:
        raise ValueError("a pod without metadata.name or spec")
    ready_since = None
    for condition in (status.conditions if status else None) or []:
        if condition.type == "Ready" and condition.status == "True":
            ready_since = condition.last_transition_time
    # Sidecars (init containers that keep running) count towards the pod's requests.
    sidecars = [c for c in spec.init_containers or [] if c.restart_policy == "Always"]
    return PodState(
        name=meta.name,
        phase=(status.phase if status else None) or "Unknown",
        deleting=meta.deletion_timestamp is not None,
        ready_since=ready_since,
        requests=tuple((c.name, _requests(c)) for c in [*spec.containers, *sidecars]),
    )


def _requests(container: client.V1Container) -> dict[str, float]:
    requests = (container.resources.requests if container.resources else None) or {}
    return {name: quantity(requests[name]) for name in RESOURCES if name in requests}


def _pod_usage(item: Mapping[str, Any]) -> PodUsage:
    totals: dict[str, float] = {}
    containers = item["containers"]
    for name in RESOURCES:
        values = [c["usage"].get(name) for c in containers]
        if containers and all(v is not None for v in values):
            totals[name] = sum(quantity(v) for v in values)
    at = datetime.fromisoformat(item["timestamp"])
    return PodUsage(item["metadata"]["name"], at, totals)


def _describe(exc: Exception) -> str:
    if isinstance(exc, ApiException):
        return f"API error {exc.status} {exc.reason}".strip()
    return f"unreachable: {exc}"
