"""The risk gate: recommend-only by default, force up to medium, high only when opted in."""

from __future__ import annotations

import pytest

from perfpilot.core.risk import RiskPolicy, Trigger, permits
from perfpilot.core.settings import RiskLevel

LOW, MEDIUM, HIGH = RiskLevel.LOW, RiskLevel.MEDIUM, RiskLevel.HIGH


@pytest.mark.parametrize(
    ("policy", "risk", "trigger", "allowed"),
    [
        # Default settings: nothing scheduled is applied.
        (RiskPolicy(False, LOW), LOW, Trigger.SCHEDULED, False),
        (RiskPolicy(True, LOW), LOW, Trigger.SCHEDULED, True),
        (RiskPolicy(True, LOW), MEDIUM, Trigger.SCHEDULED, False),
        (RiskPolicy(True, MEDIUM), MEDIUM, Trigger.SCHEDULED, True),
        (RiskPolicy(True, HIGH), HIGH, Trigger.SCHEDULED, False),
        (RiskPolicy(True, HIGH, allow_high=True), HIGH, Trigger.SCHEDULED, True),
        # A plain request only plans.
        (RiskPolicy(True, HIGH, allow_high=True), LOW, Trigger.REQUEST, False),
        # force: up to medium, even when auto-optimize is off.
        (RiskPolicy(False, LOW), MEDIUM, Trigger.FORCED, True),
        (RiskPolicy(False, LOW), HIGH, Trigger.FORCED, False),
        (RiskPolicy(False, LOW, allow_high=True), HIGH, Trigger.FORCED, True),
    ],
)
def test_permits(policy: RiskPolicy, risk: RiskLevel, trigger: Trigger, allowed: bool) -> None:
    permission = permits(policy, risk, trigger)
    assert permission.allowed is allowed
    assert permission.reason
