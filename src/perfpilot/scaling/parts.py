"""The Auto Scaler's collaborators, built and wired by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from perfpilot.core.audit import AuditLog
from perfpilot.core.clock import Clock
from perfpilot.scaling.forecast import SeasonalDemand
from perfpilot.scaling.ports import AppSignals, DecisionRecords, EventAlerts, RuleOverrides


@dataclass(frozen=True, slots=True)
class ScalerParts:
    """Everything but the clock is optional: a missing part disables what it serves."""

    clock: Clock
    signals: AppSignals | None = None
    demand: SeasonalDemand | None = None
    records: DecisionRecords | None = None
    overrides: RuleOverrides | None = None
    audit: AuditLog | None = None
    alerts: EventAlerts | None = None
