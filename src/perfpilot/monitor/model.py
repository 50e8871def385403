"""Alerts, rollups and forecasts: the monitor's records that are stored and served."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Severity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class AlertKind(StrEnum):
    THRESHOLD = "threshold"
    PREDICTED = "predicted"
    # A component reported unhealthy by the scheduled health check.
    HEALTH = "health"
    # An instance count the Auto Scaler changed (info; resolves once the count is reached).
    SCALING = "scaling"
    # An action the Performance Optimizer applied (info; resolves once its verdict is in).
    OPTIMIZATION = "optimization"


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert occurrence. ``id`` is stable: derived from the fingerprint and start time."""

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
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class Rollup:
    """Aggregate of one series over the minute starting at ``minute`` (UTC)."""

    series: str
    minute: datetime
    avg: float
    min: float
    max: float
    count: int


@dataclass(frozen=True, slots=True)
class Forecast:
    """When a resource is expected to reach its critical level.

    ``minutes_to_threshold`` is None when the model sees no crossing (flat or falling, or beyond
    the model's range); ``reason`` says why a forecast is missing or not trusted.
    """

    resource: str
    model: str
    current: float | None
    threshold: float
    slope_per_hour: float | None
    r2: float | None
    confidence: float
    minutes_to_threshold: float | None
    points: int
    reason: str | None = None
