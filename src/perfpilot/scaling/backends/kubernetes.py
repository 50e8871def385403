"""``kubernetes``: the scale subresource of a Deployment or StatefulSet, or an HPA's min/max,
through the official client (in-cluster service account or a kubeconfig).

Scale subresource: https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/scale/
The RBAC the service account needs is in ``deploy/rbac.yaml``. With ``target_kind = "hpa"`` an
existing HPA keeps scaling the workload and perfpilot moves its floor (``minReplicas``) for
scheduled peaks, raising ``maxReplicas`` only when the floor would pass it.
"""

from __future__ import annotations

from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from urllib3.exceptions import HTTPError

from perfpilot.core.scaling_config import BackendConfig
from perfpilot.scaling.backends.base import BackendError, Observed

_ERRORS = (ApiException, HTTPError, OSError)


def api_client(cfg: BackendConfig) -> Any:
    """A client for the configured cluster; BackendError when no configuration loads."""
    try:
        if cfg.in_cluster:
            configuration = client.Configuration()
            config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
            return client.ApiClient(configuration)
        return config.new_client_from_config(config_file=cfg.kubeconfig)  # type: ignore[no-untyped-call]
    except (ConfigException, OSError) as exc:
        raise BackendError(f"kubernetes configuration not loaded: {exc}") from exc


class KubernetesBackend:
    """One Deployment, StatefulSet or HPA in one namespace."""

    kind = "kubernetes"

    def __init__(self, cfg: BackendConfig, api: Any | None = None) -> None:
        if cfg.target_name is None:
            raise BackendError("kubernetes backend needs target_name")
        self._cfg = cfg
        self._name = cfg.target_name
        self._api = api

    @property
    def target(self) -> str:
        return f"{self._cfg.target_kind}/{self._cfg.namespace}/{self._name}"

    def observe(self) -> Observed:
        try:
            return self._observe()
        except BackendError as exc:
            return Observed(None, reason=str(exc))
        except _ERRORS as exc:
            return Observed(None, reason=f"{self.target}: {_describe(exc)}")

    def scale(self, desired: int) -> Observed:
        try:
            if self._cfg.target_kind == "hpa":
                self._set_hpa_floor(desired)
            else:
                body = {"spec": {"replicas": desired}}
                self._scale_call("patch")(self._name, self._cfg.namespace, body)
        except _ERRORS as exc:
            raise BackendError(f"{self.target}: {_describe(exc)}") from exc
        return self.observe()

    def _client(self) -> Any:
        if self._api is None:
            self._api = api_client(self._cfg)
        return self._api

    def _scale_call(self, verb: str) -> Any:
        apps = client.AppsV1Api(self._client())
        kind = "deployment" if self._cfg.target_kind == "deployment" else "stateful_set"
        return getattr(apps, f"{verb}_namespaced_{kind}_scale")

    def _observe(self) -> Observed:
        if self._cfg.target_kind == "hpa":
            hpa = self._hpa_api().read_namespaced_horizontal_pod_autoscaler(
                self._name, self._cfg.namespace
            )
            current = hpa.status.current_replicas if hpa.status else None
            detail = f"{self.target}: min {hpa.spec.min_replicas}, max {hpa.spec.max_replicas}"
            return Observed(current, None if current is not None else "no status", detail=detail)
        scale = self._scale_call("read")(self._name, self._cfg.namespace)
        # spec.replicas is the order, status.replicas what exists; reconcile with the latter.
        observed = scale.status.replicas if scale.status else None
        detail = f"{self.target}: spec {scale.spec.replicas if scale.spec else None}"
        reason = None if observed is not None else "scale status has no replicas yet"
        return Observed(observed, reason, detail=detail)

    def _hpa_api(self) -> Any:
        return client.AutoscalingV1Api(self._client())

    def _set_hpa_floor(self, desired: int) -> None:
        api = self._hpa_api()
        hpa = api.read_namespaced_horizontal_pod_autoscaler(self._name, self._cfg.namespace)
        spec: dict[str, int] = {"minReplicas": desired}
        if hpa.spec.max_replicas < desired:
            spec["maxReplicas"] = desired
        api.patch_namespaced_horizontal_pod_autoscaler(
            self._name, self._cfg.namespace, {"spec": spec}
        )


def _describe(exc: Exception) -> str:
    if isinstance(exc, ApiException):
        return f"API error {exc.status} {exc.reason}".strip()
    return f"unreachable: {exc}"
