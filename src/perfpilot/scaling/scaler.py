"""The Auto Scaler: evaluates every service, records each decision, executes when allowed.

Blocking methods (backends, the store, HTTP reads): the loop and the API call them through
``asyncio.to_thread``. One lock serializes cycles, so the loop and a manual execute never
give two orders for the same service at once.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from perfpilot.core.errors import NotFoundError
from perfpilot.core.scaling_config import ScalingConfig, ServiceConfig
from perfpilot.scaling.capacity import allocate
from perfpilot.scaling.decide import decide, decision_id
from perfpilot.scaling.execution import Execution, Executor
from perfpilot.scaling.forecast import demand_metric, hold_window_s
from perfpilot.scaling.model import (
    DecisionSource,
    DemandForecast,
    Direction,
    MetricReading,
    Recommendation,
    ScalingDecision,
    ScalingInputs,
)
from perfpilot.scaling.parts import ScalerParts
from perfpilot.scaling.records import decision_from_json, decision_json
from perfpilot.scaling.rules import apply_rule_update
from perfpilot.scaling.service import ServiceRuntime
from perfpilot.scaling.tiers import required_confidence

logger = logging.getLogger(__name__)

OperationObserver = Callable[[str, str], None]


@dataclass(frozen=True, slots=True)
class RecordedDecision:
    decision: ScalingDecision
    executed: bool
    outcome: str | None


class AutoScaler:
    """Decisions for every configured service; execution through each service's backend."""

    def __init__(
        self,
        config: ScalingConfig,
        runtimes: Sequence[ServiceRuntime],
        parts: ScalerParts,
        *,
        enabled: bool,
    ) -> None:
        self.config = config
        self.enabled = enabled
        self._parts = parts
        self._clock = parts.clock
        self._services = {r.config.name: r for r in runtimes}
        self._recent: deque[RecordedDecision] = deque(maxlen=config.recent_decisions)
        self._lock = threading.RLock()
        self._observers: list[OperationObserver] = []
        self._executor = Executor(parts, self._notify)
        self.cycles = 0
        self.last_error: str | None = None

    def add_observer(self, observer: OperationObserver) -> None:
        """Call ``observer(operation, status)`` for every evaluation and execution."""
        self._observers.append(observer)

    def runtimes(self) -> list[ServiceRuntime]:
        with self._lock:
            return list(self._services.values())

    def recent(self, limit: int | None = None) -> list[RecordedDecision]:
        """Newest first."""
        with self._lock:
            items = list(reversed(self._recent))
        return items[:limit] if limit is not None else items

    def restore(self) -> None:
        """Apply stored rule overrides and reload recent decisions and demand history."""
        parts, now = self._parts, self._clock.now()
        if parts.overrides is not None:
            for service, rule, fields_json in parts.overrides.rule_overrides():
                self._restore_override(service, rule, fields_json)
        if parts.records is not None:
            for text in reversed(parts.records.recent_decisions(self.config.recent_decisions)):
                self._recent.append(RecordedDecision(*decision_from_json(text)))
        if parts.demand is not None:
            for runtime in self._services.values():
                metric = demand_metric(runtime.config)
                if metric is not None:
                    parts.demand.load(f"{runtime.config.name}:{metric}", now)

    def evaluate(self) -> list[ScalingDecision]:
        """Decide for every service and record the decisions; nothing is executed."""
        with self._lock:
            now = self._clock.now()
            decisions = [(self._decide(r, now), r.config.tier) for r in self._services.values()]
            total = sum(d.current for d, _ in decisions)
            allocated = allocate(decisions, self.config.capacity_instances, total)
            for decision in allocated:
                self._services[decision.service].decision = decision
                self._record(decision, executed=False, outcome=None)
                self._notify(
                    "evaluate", "hold" if decision.direction is Direction.HOLD else "proposed"
                )
            self.cycles += 1
            return allocated

    def cycle(self) -> list[Execution]:
        """The loop's round: evaluate; with AUTO_SCALING_ENABLED, execute what may act."""
        with self._lock:
            decisions = self.evaluate()
            if not self.enabled:
                return []
            return [self._execute(d, "auto") for d in decisions if d.actionable]

    def execute(self, decision_ids: Sequence[str] | None, force: bool) -> list[Execution]:
        """Execute a fresh evaluation (or the named recent decisions). Without ``force`` only
        decisions that reached their tier's confidence act; bounds and cooldowns always hold
        because they are part of every decision."""
        with self._lock:
            if decision_ids:
                chosen = self._find(decision_ids)
            else:
                chosen = [d for d in self.evaluate() if d.direction is not Direction.HOLD]
            results = []
            for decision in chosen:
                if not (decision.actionable or force):
                    results.append(self._executor.skipped(decision, "below the tier's confidence"))
                    continue
                results.append(self._execute(decision, "forced" if force else "request"))
            return results

    def update_rule(self, service: str, rule: str, fields: Mapping[str, Any]) -> ServiceConfig:
        """Change one rule (validated), persist and audit it; returns the service's config."""
        with self._lock:
            runtime = self._runtime(service)
            before = runtime.config
            updated = apply_rule_update(before, rule, fields)
            runtime.config = updated
            self._executor.persist_rule(before, updated, rule, dict(fields))
            return updated

    def _runtime(self, service: str) -> ServiceRuntime:
        runtime = self._services.get(service)
        if runtime is None:
            raise NotFoundError(f"no scaled service named {service!r}")
        return runtime

    def _decide(self, runtime: ServiceRuntime, now: datetime) -> ScalingDecision:
        cfg = runtime.config
        runtime.observed = runtime.backend.observe()
        current, unknown = runtime.current()
        if current is None:
            return _unobservable(cfg, now, unknown or "count unknown")
        self._executor.settle_alert(runtime, now)
        readings = self._readings(runtime, current, now)
        forecast, forecast_reason = self._forecast(cfg, readings, current, now)
        inputs = ScalingInputs(
            service=cfg.name,
            current=current,
            readings=tuple(readings),
            ready=runtime.observed.ready if runtime.observed else None,
            forecast=forecast,
            forecast_reason=forecast_reason,
            recommendations=tuple(runtime.recommendations),
            last_scale_up_at=runtime.last_scale_up_at,
            last_scale_down_at=runtime.last_scale_down_at,
        )
        decision = decide(inputs, cfg, now)
        runtime.remember(Recommendation(now, decision.recommended))
        if unknown is not None:
            decision = replace(decision, reason=f"{decision.reason} ({unknown})")
        return decision

    def _readings(
        self, runtime: ServiceRuntime, current: int, now: datetime
    ) -> list[MetricReading]:
        readings: list[MetricReading] = []
        if runtime.usage is not None:
            readings += runtime.usage.read(now)
        if self._parts.signals is not None:
            readings += self._parts.signals.readings(runtime.config.name, current, now)
        return readings

    def _forecast(
        self, cfg: ServiceConfig, readings: list[MetricReading], current: int, now: datetime
    ) -> tuple[DemandForecast | None, str | None]:
        demand, metric = self._parts.demand, demand_metric(cfg)
        if demand is None or metric is None or not cfg.predictive:
            return None, "predictive layer off or no load-proportional metric"
        series = f"{cfg.name}:{metric}"
        reading = next((r for r in readings if r.name == metric and r.value is not None), None)
        if reading is not None and reading.value is not None:
            demand.record(series, now, reading.value * current)
        horizon_s = cfg.startup_s + self.config.evaluation_interval_s
        return demand.forecast(series, now, horizon_s, hold_window_s(cfg))

    def _execute(self, decision: ScalingDecision, trigger: str) -> Execution:
        runtime = self._runtime(decision.service)
        result = self._executor.execute(runtime, decision, trigger, self._clock.now())
        self._record(decision, executed=result.status != "skipped", outcome=result.status)
        return result

    def _find(self, ids: Sequence[str]) -> list[ScalingDecision]:
        known = {r.decision.id: r.decision for r in self._recent}
        missing = [i for i in ids if i not in known]
        if missing:
            raise NotFoundError(f"unknown decision ids: {missing}")
        return [known[i] for i in ids]

    def _record(self, decision: ScalingDecision, executed: bool, outcome: str | None) -> None:
        self._recent.append(RecordedDecision(decision, executed, outcome))
        if self._parts.records is not None:
            body = decision_json(decision, executed, outcome)
            self._parts.records.save_decision(
                decision.id, decision.service, decision.at, executed, body
            )

    def _restore_override(self, service: str, rule: str, fields_json: str) -> None:
        runtime = self._services.get(service)
        if runtime is None:
            logger.warning("stored rule override for unknown service %s ignored", service)
            return
        try:
            runtime.config = apply_rule_update(runtime.config, rule, json.loads(fields_json))
        except (NotFoundError, ValueError) as exc:
            logger.warning("stored override %s/%s no longer applies: %s", service, rule, exc)

    def _notify(self, operation: str, status: str) -> None:
        for observer in self._observers:
            observer(operation, status)


def _unobservable(cfg: ServiceConfig, now: datetime, why: str) -> ScalingDecision:
    """A hold: without a count, no ratio can be applied and no order is safe."""
    return ScalingDecision(
        id=decision_id(cfg.name, now),
        service=cfg.name,
        at=now,
        current=0,
        desired=0,
        recommended=0,
        direction=Direction.HOLD,
        source=DecisionSource.NONE,
        confidence=0.0,
        required_confidence=required_confidence(cfg.tier),
        actionable=False,
        reason=f"not evaluated: instance count unknown: {why}",
    )


def cooldown_left_s(runtime: ServiceRuntime, now: datetime) -> tuple[float, float]:
    """Seconds left of the scale-up and scale-down cooldowns (the flap guard included)."""
    cfg = runtime.config

    def left(last: datetime | None, cooldown_s: float) -> float:
        return 0.0 if last is None else max(0.0, cooldown_s - (now - last) / timedelta(seconds=1))

    downs = [t for t in (runtime.last_scale_down_at, runtime.last_scale_up_at) if t]
    return (
        left(runtime.last_scale_up_at, cfg.scale_up_cooldown),
        left(max(downs, default=None), cfg.scale_down_cooldown),
    )
