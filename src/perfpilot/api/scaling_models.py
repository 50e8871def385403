"""Models of /api/v1/performance/scaling/* (status, evaluate, execute, rule updates)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from perfpilot.api.out import Out as _Out
from perfpilot.core.scaling_config import ServiceConfig
from perfpilot.scaling.model import DecisionSource, Direction


class ProposalOut(_Out):
    metric: str
    value: float | None
    target: float
    ratio: float | None
    proposal: int | None = Field(description="null when the metric is missing or stale")
    note: str


class ForecastOut(_Out):
    metric: str
    peak_demand: float
    horizon_s: float
    confidence: float
    model: str


class DecisionOut(_Out):
    id: str
    service: str
    at: datetime
    current: int
    desired: int = Field(description="Always within [min_instances, max_instances]")
    recommended: int = Field(description="Before stabilization, steps and cooldowns")
    direction: Direction
    source: DecisionSource
    confidence: float
    required_confidence: float
    actionable: bool = Field(description="false: recommendation only (below the tier's need)")
    reason: str
    proposals: list[ProposalOut]
    schedules: list[str]
    forecast: ForecastOut | None
    steps: list[str]


class RecordedDecisionOut(_Out):
    decision: DecisionOut
    executed: bool
    outcome: str | None


class ServiceStatusOut(_Out):
    name: str
    tier: str
    backend: str
    current: int | None = Field(description="Observed from the backend; null when unknown")
    current_reason: str | None
    desired: int | None
    min_instances: int
    max_instances: int
    scale_up_cooldown_remaining_s: float
    scale_down_cooldown_remaining_s: float
    last_decision: DecisionOut | None


class ScalingStatusOut(_Out):
    auto_scaling_enabled: bool
    evaluation_interval_s: float
    service_configs: list[ServiceConfig]
    services: list[ServiceStatusOut]
    recent_decisions: list[RecordedDecisionOut]


class EvaluateOut(_Out):
    decisions: list[DecisionOut]


class ExecuteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision_ids: list[str] | None = Field(
        default=None, description="Recent decisions to carry out; default a fresh evaluation"
    )
    force: bool = Field(default=False, description="Also act on recommend-only decisions")


class ExecutionOut(_Out):
    decision_id: str
    service: str
    previous: int
    desired: int
    observed: int | None
    status: str = Field(description="success, partial, failed or skipped")
    detail: str


class ExecuteOut(_Out):
    executions: list[ExecutionOut]


class RuleUpdateIn(BaseModel):
    """Fields to change on one rule; unset fields keep their value."""

    model_config = ConfigDict(extra="forbid")

    target: float | None = Field(default=None, gt=0)
    enabled: bool | None = None
    start: str | None = None
    end: str | None = None
    timezone: str | None = None
    min_instances: int | None = Field(default=None, ge=0)
    max_instances: int | None = Field(default=None, ge=1)
