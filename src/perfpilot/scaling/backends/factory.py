"""The backend a service's configuration names."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import psutil

from perfpilot.core.scaling_config import ServiceConfig
from perfpilot.scaling.backends.base import ScalingBackend
from perfpilot.scaling.backends.command import CommandBackend
from perfpilot.scaling.backends.dryrun import DryRunBackend
from perfpilot.scaling.backends.gunicorn import GunicornBackend, workers
from perfpilot.scaling.backends.kubernetes import KubernetesBackend
from perfpilot.scaling.backends.pod_metrics import PodMetricsUsage
from perfpilot.scaling.backends.usage import ProcessTreeUsage
from perfpilot.scaling.service import UsageReader


def backend_for(service: ServiceConfig) -> ScalingBackend:
    """Build (without connecting) the backend of ``service``."""
    cfg = service.backend
    if cfg.kind == "gunicorn" and cfg.pidfile is not None:
        return GunicornBackend(Path(cfg.pidfile), cfg.timeout_s)
    if cfg.kind == "kubernetes":
        return KubernetesBackend(cfg)
    if cfg.kind == "command" and cfg.command is not None:
        return CommandBackend(service.name, cfg.command, cfg.observe_command, cfg.timeout_s)
    return DryRunBackend(service.min_instances)


def usage_for(
    service: ServiceConfig,
    backend: ScalingBackend,
    monotonic: Callable[[], float] = time.monotonic,
) -> UsageReader | None:
    """Per-instance CPU and memory of the service's own instances, where the backend has them.

    gunicorn: the master's workers. Kubernetes: the Deployment's or StatefulSet's pods in the
    metrics API, against their requests; none for an ``hpa`` target, whose HPA reads them.
    """
    cfg = service.backend
    if isinstance(backend, KubernetesBackend):
        return PodMetricsUsage(cfg) if cfg.target_kind != "hpa" else None
    if not isinstance(backend, GunicornBackend):
        return None
    budget = cfg.memory_limit_bytes or (psutil.virtual_memory().total // service.max_instances)
    # The interval CPU is averaged over comes from the caller's clock, like every other
    # time in a decision.
    return ProcessTreeUsage(lambda: workers(backend.master()), budget, monotonic)
