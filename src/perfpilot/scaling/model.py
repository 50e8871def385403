"""What a scaling decision is made from and what it carries (inputs, reason, confidence)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Direction(StrEnum):
    UP = "up"
    DOWN = "down"
    HOLD = "hold"


class DecisionSource(StrEnum):
    """What made the final count differ from the current one (the strongest cause)."""

    METRICS = "metrics"
    FORECAST = "forecast"
    SCHEDULE = "schedule"
    BOUNDS = "bounds"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class MetricReading:
    """One metric averaged over the service's instances; ``value`` None when unreadable
    (``reason`` says why). ``at`` is when it was measured, for staleness."""

    name: str
    value: float | None
    at: datetime | None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class DemandForecast:
    """Highest total demand (metric x instances) expected within ``horizon_s`` from now, and
    within ``hold_horizon_s`` (the scale-down window) as ``hold_demand``; ``hold_demand`` None
    when that window was not forecast."""

    metric: str
    peak_demand: float
    horizon_s: float
    confidence: float
    model: str
    hold_demand: float | None = None
    hold_horizon_s: float = 0.0
    # Added to the seasonal model's line to meet the recently measured level (evidence).
    level_offset: float = 0.0
    # The forecast for now: with ``hold_demand`` no higher, the forecast is past its peak.
    demand_now: float | None = None


@dataclass(frozen=True, slots=True)
class Recommendation:
    """A past raw recommendation, kept for the stabilization windows."""

    at: datetime
    instances: int


@dataclass(frozen=True, slots=True)
class ScalingInputs:
    """Everything ``decide`` reads. ``current`` is the observed instance count."""

    service: str
    current: int
    readings: tuple[MetricReading, ...]
    # Instances serving (the rest are starting); per-instance metrics average over these.
    ready: int | None = None
    forecast: DemandForecast | None = None
    forecast_reason: str | None = None
    recommendations: tuple[Recommendation, ...] = ()
    last_scale_up_at: datetime | None = None
    last_scale_down_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class MetricProposal:
    """HPA's per-metric answer: ceil(current x value / target), or ``current`` within the
    tolerance; ``proposal`` None when the metric is missing or stale."""

    metric: str
    value: float | None
    target: float
    ratio: float | None
    proposal: int | None
    note: str


@dataclass(frozen=True, slots=True)
class ScalingDecision:
    """One evaluation's outcome for one service, with its evidence.

    ``desired`` is within [min_instances, max_instances] always. ``actionable`` is whether the
    confidence reached the tier's threshold; below it the decision is only a recommendation.
    """

    id: str
    service: str
    at: datetime
    current: int
    desired: int
    recommended: int
    direction: Direction
    source: DecisionSource
    confidence: float
    required_confidence: float
    actionable: bool
    reason: str
    proposals: tuple[MetricProposal, ...] = ()
    schedules: tuple[str, ...] = ()
    forecast: DemandForecast | None = None
    steps: tuple[str, ...] = field(default_factory=tuple)
