"""Which changes may be applied, by risk class and by who asked (DESIGN.md, Safety)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from perfpilot.core.settings import RiskLevel

_ORDER = {RiskLevel.LOW: 0, RiskLevel.MEDIUM: 1, RiskLevel.HIGH: 2}


class Trigger(StrEnum):
    SCHEDULED = "scheduled"
    REQUEST = "request"
    FORCED = "forced"


@dataclass(frozen=True, slots=True)
class RiskPolicy:
    """The switches that open risk classes; built from Settings by the composition root."""

    auto_optimize: bool
    auto_max_risk: RiskLevel
    # High-risk changes (ALTER SYSTEM, dropping an index perfpilot did not just judge) need
    # their own explicit opt-in; `force` never reaches them.
    allow_high: bool = False


@dataclass(frozen=True, slots=True)
class Permission:
    allowed: bool
    reason: str


def permits(policy: RiskPolicy, risk: RiskLevel, trigger: Trigger) -> Permission:
    """Whether a change of ``risk`` may run for ``trigger``, with the reason either way."""
    if risk is RiskLevel.HIGH and not policy.allow_high:
        return Permission(False, "high-risk changes need their own explicit setting")
    if trigger is Trigger.SCHEDULED:
        if not policy.auto_optimize:
            return Permission(False, "PERFORMANCE_AUTO_OPTIMIZE is false: recommend only")
        if _ORDER[risk] > _ORDER[policy.auto_max_risk]:
            return Permission(
                False,
                f"risk {risk} above PERFORMANCE_AUTO_OPTIMIZE_MAX_RISK={policy.auto_max_risk}",
            )
        return Permission(True, f"scheduled run allows up to {policy.auto_max_risk}")
    if trigger is Trigger.FORCED:
        if _ORDER[risk] > _ORDER[RiskLevel.MEDIUM] and not policy.allow_high:
            return Permission(False, "force applies up to medium risk")
        return Permission(True, "forced request allows up to medium (high when enabled)")
    return Permission(False, "plan only: send force=true to apply")
