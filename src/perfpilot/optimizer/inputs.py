"""Everything the analysis reads, gathered once per run; each part None with its reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from perfpilot.appmetrics.model import AppSnapshot
from perfpilot.cache.report import CacheReport
from perfpilot.database.tuner import TunerReport
from perfpilot.database.workload_delta import WorkloadDelta
from perfpilot.scaling.model import ScalingDecision


class ProcessReading(Protocol):
    """One process's use (the maintenance package's ``ProcessUsage`` has this shape)."""

    @property
    def pid(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def cpu_percent(self) -> float | None: ...
    @property
    def rss_bytes(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The specification's optimizer thresholds (``api_response_time_ms`` against each p95)."""

    cpu_usage: float = 75.0
    memory_usage: float = 80.0
    db_connections: int = 100
    cache_hit_rate: float = 0.7
    api_response_time_ms: float = 1000.0
    slow_query_mean_ms: float = 20.0


@dataclass(frozen=True, slots=True)
class HostInputs:
    cpu_percent: float | None
    memory_percent: float | None
    memory_total_bytes: int | None
    processes: tuple[ProcessReading, ...] = ()


@dataclass(frozen=True, slots=True)
class DatabaseInputs:
    """``client_backends`` counts the target database's client backends (pg_stat_activity)."""

    report: TunerReport
    client_backends: int
    max_connections: int
    work_mem_bytes: int
    deltas: tuple[WorkloadDelta, ...] = ()


@dataclass(frozen=True, slots=True)
class DeferredTask:
    """A deferrable scheduled task due soon; the scheduler holds it while the host is busy."""

    id: str
    next_run_at: datetime | None


@dataclass(frozen=True, slots=True)
class Inputs:
    at: datetime
    host: HostInputs | None
    host_reason: str | None = None
    database: DatabaseInputs | None = None
    database_reason: str | None = None
    cache: CacheReport | None = None
    cache_reason: str | None = None
    app: AppSnapshot | None = None
    app_reason: str | None = None
    app_history: tuple[AppSnapshot, ...] = ()
    scaling: tuple[ScalingDecision, ...] | None = None
    scaling_reason: str | None = None
    deferrable: tuple[DeferredTask, ...] = field(default=())
    busy_cpu_percent: float = 75.0
