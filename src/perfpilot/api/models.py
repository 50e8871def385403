"""Response and request models of the performance API (pydantic at the edge)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from perfpilot.api.out import Out as _Out
from perfpilot.core.health import HealthState
from perfpilot.monitor.model import AlertKind, AlertStatus, Severity
from perfpilot.monitor.sample import HostSample
from perfpilot.optimizer.model import OptimizationType


class ComponentOut(_Out):
    name: str
    state: HealthState
    reason: str | None
    checked_at: datetime | None
    details: dict[str, str | int | float | bool | None]


class ReadinessOut(_Out):
    status: HealthState
    components: list[ComponentOut]


class CpuOut(_Out):
    percent: float | None = Field(description="Total CPU use, 0-100; null on the first sample")
    per_core_percent: list[float]
    load_average: list[float] | None = Field(description="1, 5 and 15 minute load averages")


class MemoryOut(_Out):
    percent: float
    total_bytes: int
    used_bytes: int
    available_bytes: int
    swap_percent: float
    swap_total_bytes: int
    swap_used_bytes: int


class DiskOut(_Out):
    mount: str
    percent: float
    total_bytes: int
    used_bytes: int


class IoOut(_Out):
    disk_read_bytes_per_s: float | None
    disk_write_bytes_per_s: float | None
    disk_read_ops_per_s: float | None
    disk_write_ops_per_s: float | None
    net_recv_bytes_per_s: float | None
    net_sent_bytes_per_s: float | None
    net_errors_per_s: float | None
    net_drops_per_s: float | None


class ContainerOut(_Out):
    cpu_quota_cores: float | None
    memory_limit_bytes: int | None
    memory_used_bytes: int | None


class SelfOut(_Out):
    rss_bytes: int
    event_loop_lag_s: float | None


class CurrentOut(_Out):
    timestamp: datetime
    cpu: CpuOut
    memory: MemoryOut
    disks: list[DiskOut]
    io: IoOut
    process_count: int
    container: ContainerOut | None
    perfpilot: SelfOut
    sample_duration_s: float

    @classmethod
    def of(cls, s: HostSample) -> CurrentOut:
        return cls(
            timestamp=s.ts,
            cpu=CpuOut(
                percent=s.cpu_percent,
                per_core_percent=list(s.cpu_per_core_percent),
                load_average=list(s.load_avg) if s.load_avg else None,
            ),
            memory=MemoryOut(
                percent=s.memory_percent,
                total_bytes=s.memory_total_bytes,
                used_bytes=s.memory_used_bytes,
                available_bytes=s.memory_available_bytes,
                swap_percent=s.swap_percent,
                swap_total_bytes=s.swap_total_bytes,
                swap_used_bytes=s.swap_used_bytes,
            ),
            disks=[
                DiskOut(
                    mount=d.mount,
                    percent=d.percent,
                    total_bytes=d.total_bytes,
                    used_bytes=d.used_bytes,
                )
                for d in s.disks
            ],
            io=IoOut(
                disk_read_bytes_per_s=s.disk_read_bytes_per_s,
                disk_write_bytes_per_s=s.disk_write_bytes_per_s,
                disk_read_ops_per_s=s.disk_read_ops_per_s,
                disk_write_ops_per_s=s.disk_write_ops_per_s,
                net_recv_bytes_per_s=s.net_recv_bytes_per_s,
                net_sent_bytes_per_s=s.net_sent_bytes_per_s,
                net_errors_per_s=s.net_errors_per_s,
                net_drops_per_s=s.net_drops_per_s,
            ),
            process_count=s.process_count,
            container=ContainerOut(
                cpu_quota_cores=s.cgroup.cpu_quota_cores,
                memory_limit_bytes=s.cgroup.memory_limit_bytes,
                memory_used_bytes=s.cgroup.memory_used_bytes,
            )
            if s.cgroup
            else None,
            perfpilot=SelfOut(rss_bytes=s.self_rss_bytes, event_loop_lag_s=s.event_loop_lag_s),
            sample_duration_s=s.sample_duration_s,
        )


class OptimizationThresholdsOut(_Out):
    """The Performance Optimizer's thresholds, with the specification's keys."""

    cpu_usage: float
    memory_usage: float
    disk_usage: float
    db_connections: int
    cache_hit_rate: float
    api_response_time: float = Field(description="Milliseconds, compared with each endpoint's p95")


class AlertLevelOut(_Out):
    warning: float
    critical: float
    for_s: float


class AlertThresholdsOut(_Out):
    cpu: AlertLevelOut
    memory: AlertLevelOut
    disk: AlertLevelOut
    swap: AlertLevelOut
    alert_cooldown_s: float
    hysteresis_percent: float


class ThresholdsOut(_Out):
    optimization: OptimizationThresholdsOut
    alerts: AlertThresholdsOut


class HistoryOut(_Out):
    since: datetime
    until: datetime
    points: int
    max_points: int
    timestamps: list[datetime]
    series: dict[str, list[float | None]]


class ForecastOut(_Out):
    resource: str
    model: str
    current: float | None
    threshold: float
    slope_per_hour: float | None
    r2: float | None
    confidence: float
    minutes_to_threshold: float | None
    points: int
    reason: str | None


class MetricsOut(_Out):
    timestamp: datetime
    monitoring: HealthState
    current: CurrentOut | None
    current_reason: str | None = Field(description="Why `current` is null, when it is")
    thresholds: ThresholdsOut
    history: HistoryOut
    forecasts: list[ForecastOut]


class AlertOut(_Out):
    id: str
    fingerprint: str
    kind: AlertKind
    resource: str
    severity: Severity
    status: AlertStatus
    message: str
    value: float | None
    threshold: float | None
    started_at: datetime
    last_seen_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    comment: str | None


class AlertsOut(_Out):
    count: int
    alerts: list[AlertOut]


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str | None = Field(default=None, max_length=1000)


class AlertSummaryOut(_Out):
    firing: int
    by_severity: dict[Severity, int]


class ScheduledTaskOut(_Out):
    """One scheduler task as /status lists it."""

    id: str
    name: str
    cron_expression: str
    enabled: bool
    next_run_at: datetime | None
    unavailable_reason: str | None
    active: str | None


class ScoreOut(_Out):
    value: float | None = Field(description="0-100; null when no component could be scored")
    formula: str
    components: dict[str, float | None] = Field(
        description="Each part's penalty, 0 (none) to 1 (full); null when not measured"
    )


class StatusOut(_Out):
    status: HealthState
    timestamp: datetime
    version: str
    uptime_s: float
    components: list[ComponentOut]
    active_alerts: AlertSummaryOut
    optimization_actions_today: int | None = Field(
        description="Actions the optimizer applied since midnight UTC; null when it is not built"
    )
    performance_score: ScoreOut | None = Field(
        default=None, description="0-100 from headroom and firing alerts; see `formula`"
    )
    notes: list[str]
    scheduled_tasks: list[ScheduledTaskOut] = Field(
        default_factory=list, description="The scheduler's tasks (empty when it is not built)"
    )


class OptimizeIn(BaseModel):
    """The one request body every optimize endpoint shares."""

    model_config = ConfigDict(extra="forbid")

    force: bool = Field(
        default=False, description="false plans without applying; true applies up to medium risk"
    )
    actions: list[str] | None = Field(
        default=None, description="Action ids from the plan to apply; null means all of them"
    )
    optimization_types: list[OptimizationType] | None = Field(
        default=None,
        description="Types to analyse and act on (cpu, memory, database, cache, api); null: all",
    )
