"""Models of /api/v1/performance/database/* (the tuner's report and optimize answer)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from perfpilot.api.out import Out as _Out
from perfpilot.core.audit import Outcome
from perfpilot.core.settings import RiskLevel
from perfpilot.database.checks import HealthReport
from perfpilot.database.checks_model import Finding
from perfpilot.database.ledger import BuiltIndex
from perfpilot.database.plan import ActionKind, PlannedAction
from perfpilot.database.recommendation import AdvisorReport
from perfpilot.database.tuner import ActionOutcome, TunerReport
from perfpilot.database.workload import StatementGroup
from perfpilot.database.workload_availability import WorkloadStatus


class WorkloadOut(_Out):
    status: WorkloadStatus
    available: bool
    message: str
    remedies: list[str] = Field(description="Exact changes that make the workload readable")
    window: str = Field(description="The period the statement figures cover")


class StatementOut(_Out):
    fingerprint: str
    query: str
    calls: int
    total_ms: float
    mean_ms: float | None
    rows: int
    hit_ratio: float | None

    @classmethod
    def of(cls, group: StatementGroup) -> StatementOut:
        return cls(
            fingerprint=group.fingerprint,
            query=group.query,
            calls=group.calls,
            total_ms=group.total_ms,
            mean_ms=group.mean_ms,
            rows=group.rows,
            hit_ratio=group.hit_ratio,
        )


class CheckOut(_Out):
    check: str
    duration_s: float
    error: str | None
    findings: list[Finding]


class SettingOut(_Out):
    name: str
    current: str
    recommended: str
    apply_by: str
    line: str = Field(description="As postgresql.conf takes it, e.g. `shared_buffers = 256MB`")


class ActionOut(_Out):
    id: str
    kind: ActionKind
    risk: RiskLevel
    target: str
    statement: str
    reason: str

    @classmethod
    def of(cls, action: PlannedAction) -> ActionOut:
        return cls.model_validate(action)


class DatabaseReportOut(_Out):
    generated_at: datetime
    database: str
    server_version: str
    workload: WorkloadOut
    statements: list[StatementOut] = Field(description="Top statements by total time")
    checks: list[CheckOut]
    indexes: AdvisorReport | None
    indexes_reason: str | None
    configuration: list[SettingOut]
    configuration_warnings: list[str]
    built_indexes: list[BuiltIndex]
    actions: list[ActionOut]

    @classmethod
    def of(cls, report: TunerReport) -> DatabaseReportOut:
        availability = report.workload.availability
        return cls(
            generated_at=report.generated_at,
            database=report.database,
            server_version=report.server_version,
            workload=WorkloadOut(
                status=availability.status,
                available=availability.available,
                message=availability.message,
                remedies=list(availability.remedies),
                window=report.window,
            ),
            statements=[StatementOut.of(g) for g in report.statements],
            checks=_checks(report.health),
            indexes=report.indexes,
            indexes_reason=report.indexes_reason,
            configuration=[
                SettingOut(
                    name=c.name,
                    current=c.current,
                    recommended=c.recommended,
                    apply_by=c.apply_by.value,
                    line=c.line,
                )
                for c in report.configuration
            ],
            configuration_warnings=list(report.configuration_warnings),
            built_indexes=list(report.built_indexes),
            actions=[ActionOut.of(a) for a in report.actions],
        )


def _checks(health: HealthReport) -> list[CheckOut]:
    return [
        CheckOut(check=r.check, duration_s=r.duration_s, error=r.error, findings=list(r.findings))
        for r in health.results
    ]


class OutcomeOut(_Out):
    id: str
    kind: ActionKind
    risk: RiskLevel
    target: str
    statement: str
    outcome: Outcome
    detail: str

    @classmethod
    def of(cls, outcome: ActionOutcome) -> OutcomeOut:
        a = outcome.action
        return cls(
            id=a.id,
            kind=a.kind,
            risk=a.risk,
            target=a.target,
            statement=outcome.statement,
            outcome=outcome.outcome,
            detail=outcome.detail,
        )


class DatabaseOptimizeOut(_Out):
    applied: bool = Field(description="False when the request only planned (force=false)")
    outcomes: list[OutcomeOut]
    report: DatabaseReportOut
