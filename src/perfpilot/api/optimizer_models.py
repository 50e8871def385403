"""Models of the optimizer's endpoints: recommendations, report, execute and benchmark."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from perfpilot.api.out import Out as _Out
from perfpilot.core.settings import RiskLevel
from perfpilot.optimizer.benchmark import BenchmarkRun
from perfpilot.optimizer.model import Action, Category, Level, TypeAnalysis
from perfpilot.optimizer.records import ActionRecord

Value = float | int | str | None


class PriorityActionOut(_Out):
    id: str
    category: Category
    action: str
    impact: Level
    effort: Level
    risk: RiskLevel
    evidence: dict[str, Value]

    @classmethod
    def of(cls, a: Action) -> PriorityActionOut:
        return cls(id=a.id, category=a.category, action=a.title, impact=a.impact,
                   effort=a.effort, risk=a.risk, evidence=a.evidence)  # fmt: skip


class DatabaseOptimizationOut(_Out):
    indexes: list[str] = Field(description="CREATE INDEX statements")
    configuration: list[str] = Field(description="`setting = value` lines")


class RecommendationsOut(_Out):
    generated_at: datetime
    system_optimization: list[str]
    database_optimization: DatabaseOptimizationOut
    cache_optimization: list[str]
    priority_actions: list[PriorityActionOut]
    unavailable: dict[str, str] = Field(description="Parts that could not be read, and why")


class FindingOut(_Out):
    check: str
    subject: str
    message: str
    evidence: dict[str, Value]


class TypeAnalysisOut(_Out):
    type: str
    state: Literal["ok", "findings", "unavailable"]
    summary: str
    figures: dict[str, Value]
    reason: str | None
    findings: list[FindingOut]
    actions: list[PriorityActionOut]

    @classmethod
    def of(cls, t: TypeAnalysis) -> TypeAnalysisOut:
        return cls(
            type=t.type.value, state=t.state.value, summary=t.summary, figures=t.figures,
            reason=t.reason, findings=[FindingOut.model_validate(f) for f in t.findings],
            actions=[PriorityActionOut.of(a) for a in t.actions],
        )  # fmt: skip


class ActionRecordOut(_Out):
    id: str
    action_id: str
    type: str
    category: str
    title: str
    executor: str
    risk: str
    trigger: str
    status: str
    detail: str
    at: datetime
    statement: str
    evidence: dict[str, Value]
    before: dict[str, Value]
    after: dict[str, Value]
    settle_until: datetime | None
    verdict: str | None = Field(description="improved, no_change, regressed, insufficient_data")
    verdict_reason: str | None
    judged_at: datetime | None

    @classmethod
    def of(cls, r: ActionRecord) -> ActionRecordOut:
        return cls.model_validate(r)


class ExecuteOut(_Out):
    applied: bool = Field(description="false: force was false, the actions were only planned")
    optimization_types: list[str]
    analysis: list[TypeAnalysisOut]
    actions: list[ActionRecordOut]


class CurrentValueOut(_Out):
    name: str
    value: float | None
    threshold: float
    unit: str
    exceeded: bool | None


class ReportCountsOut(_Out):
    by_type: dict[str, int]
    by_status: dict[str, int]
    by_verdict: dict[str, int]


class OptimizationReportOut(_Out):
    since: datetime
    generated_at: datetime
    total: int
    counts: ReportCountsOut
    actions: list[ActionRecordOut]
    current: list[CurrentValueOut]


class ProbeOut(_Out):
    name: str
    operation: str
    samples: int
    p50_ms: float | None
    p99_ms: float | None
    ops_per_s: float | None
    error: str | None


class BenchmarkRunOut(_Out):
    at: datetime
    duration_s: float
    probes: list[ProbeOut]

    @classmethod
    def of(cls, run: BenchmarkRun) -> BenchmarkRunOut:
        return cls.model_validate(run)


class BenchmarkOut(_Out):
    units: dict[str, str]
    run: BenchmarkRunOut
    previous: BenchmarkRunOut | None
