"""Carrying a decision out: the backend order, the audit entry, the "scaling performed" alert."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from perfpilot.core.audit import AuditEntry, Outcome
from perfpilot.core.scaling_config import ServiceConfig
from perfpilot.monitor.model import AlertKind, Severity
from perfpilot.scaling.backends.base import BackendError, Observed
from perfpilot.scaling.model import Direction, ScalingDecision
from perfpilot.scaling.parts import ScalerParts
from perfpilot.scaling.service import ServiceRuntime

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Execution:
    """What happened to one decision: ``success`` (the count was reached), ``partial`` (the
    backend took the order but a different count is observed), ``failed`` or ``skipped``."""

    decision_id: str
    service: str
    previous: int
    desired: int
    observed: int | None
    status: str
    detail: str


class Executor:
    """Gives orders and writes their trail; called under the scaler's lock."""

    def __init__(self, parts: ScalerParts, notify: Callable[[str, str], None]) -> None:
        self._parts = parts
        self._notify = notify

    def skipped(self, decision: ScalingDecision, why: str) -> Execution:
        self._notify(_operation(decision), "skipped")
        return Execution(
            decision.id, decision.service, decision.current, decision.desired, None, "skipped", why
        )

    def execute(
        self, runtime: ServiceRuntime, decision: ScalingDecision, trigger: str, now: datetime
    ) -> Execution:
        if decision.direction is Direction.HOLD:
            return self.skipped(decision, "nothing to change")
        current, _ = runtime.current()
        if current != decision.current:
            return self.skipped(
                decision, f"stale: {current} instances now, decided from {decision.current}"
            )
        try:
            observed = runtime.backend.scale(decision.desired)
        except BackendError as exc:
            return self._finish(runtime, decision, trigger, now, None, "failed", str(exc))
        runtime.observed = observed
        runtime.ordered = decision.desired
        if decision.direction is Direction.UP:
            runtime.last_scale_up_at = now
        else:
            runtime.last_scale_down_at = now
        status = "success" if observed.instances == decision.desired else "partial"
        detail = observed.reason or observed.detail
        return self._finish(runtime, decision, trigger, now, observed, status, detail)

    def settle_alert(self, runtime: ServiceRuntime, now: datetime) -> None:
        """Resolve the open "scaling performed" alert once the ordered count is observed."""
        observed = runtime.observed
        alerts = self._parts.alerts
        if runtime.open_alert is None or alerts is None or observed is None:
            return
        if observed.instances is not None and observed.instances == runtime.ordered:
            alerts.clear_event(AlertKind.SCALING, runtime.open_alert, now)
            runtime.open_alert = None

    def persist_rule(
        self, before: ServiceConfig, after: ServiceConfig, rule: str, fields: dict[str, Any]
    ) -> None:
        parts, now = self._parts, self._parts.clock.now()
        if parts.overrides is not None:
            merged = _stored_fields(parts.overrides.rule_overrides(), before.name, rule) | fields
            parts.overrides.save_rule_override(before.name, rule, json.dumps(merged), now)
        if parts.audit is not None:
            parts.audit.record(
                AuditEntry(
                    at=now,
                    component="scaling",
                    action="update_rule",
                    target=f"{before.name}/{rule}",
                    statement=json.dumps(fields, sort_keys=True),
                    reason="PUT /scaling/rule",
                    trigger="request",
                    risk="low",
                    outcome=Outcome.APPLIED,
                    before=_rule_view(before, rule),
                    after=_rule_view(after, rule),
                )
            )
        logger.info("scaling rule %s/%s updated: %s", before.name, rule, fields)

    def _finish(
        self,
        runtime: ServiceRuntime,
        decision: ScalingDecision,
        trigger: str,
        now: datetime,
        observed: Observed | None,
        status: str,
        detail: str,
    ) -> Execution:
        count = observed.instances if observed is not None else None
        self._audit(runtime, decision, trigger, now, count, status, detail)
        self._notify(_operation(decision), status)
        if status != "failed":
            self._alert(runtime, decision, now, count)
        log = logger.info if status == "success" else logger.warning
        log(
            "scaling %s %d -> %d (%s): %s, observed %s",
            decision.service,
            decision.current,
            decision.desired,
            trigger,
            status,
            count,
        )
        return Execution(
            decision.id, decision.service, decision.current, decision.desired, count, status, detail
        )

    def _audit(
        self,
        runtime: ServiceRuntime,
        decision: ScalingDecision,
        trigger: str,
        now: datetime,
        count: int | None,
        status: str,
        detail: str,
    ) -> None:
        if self._parts.audit is None:
            return
        outcome = Outcome.FAILED if status == "failed" else Outcome.APPLIED
        self._parts.audit.record(
            AuditEntry(
                at=now,
                component="scaling",
                action=_operation(decision),
                target=decision.service,
                statement=f"{runtime.backend.kind}: {decision.current} -> {decision.desired}",
                reason=decision.reason,
                trigger=trigger,
                risk="low",
                outcome=outcome,
                detail=f"{status}: {detail}; decision {decision.id}",
                before={"instances": decision.current},
                after={"instances": count, "desired": decision.desired},
            )
        )

    def _alert(
        self, runtime: ServiceRuntime, decision: ScalingDecision, now: datetime, count: int | None
    ) -> None:
        alerts = self._parts.alerts
        if alerts is None:
            return
        if runtime.open_alert is not None:
            alerts.clear_event(AlertKind.SCALING, runtime.open_alert, now)
        resource = f"{decision.service}#{decision.id}"
        message = (
            f"scaling performed: {decision.service} {decision.current} -> {decision.desired}"
            f" ({decision.source.value}, confidence {decision.confidence:.2f}); observed {count}"
        )
        alerts.raise_event(AlertKind.SCALING, resource, Severity.INFO, message, now)
        runtime.open_alert = resource


def _operation(decision: ScalingDecision) -> str:
    """The ``operation`` label: a hold ordered by its id is counted as a hold, not a scale-down."""
    return {Direction.UP: "scale_up", Direction.DOWN: "scale_down"}.get(decision.direction, "hold")


def _stored_fields(rows: list[tuple[str, str, str]], service: str, rule: str) -> dict[str, Any]:
    for stored_service, stored_rule, text in reversed(rows):
        if (stored_service, stored_rule) == (service, rule):
            loaded: dict[str, Any] = json.loads(text)
            return loaded
    return {}


def _rule_view(config: ServiceConfig, rule: str) -> dict[str, float | str | None]:
    if rule == "cpu":
        return {"target": config.target_cpu_percent}
    if rule == "memory":
        return {"target": config.target_memory_percent}
    found = next((r for r in config.rules if r.name == rule), None)
    if found is None:
        return {}
    return {k: v for k, v in found.model_dump(mode="json").items() if k != "name"}
