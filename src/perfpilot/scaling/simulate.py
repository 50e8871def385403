"""Replaying a load trace through a service's rules, side by side with the plain HPA algorithm.

Capacity model: one instance serves ``rps_per_instance`` requests per second at its target CPU
(utilization is linear in load), and a new instance serves ``startup_s`` after it is ordered.
Both policies see the same signal: requests per second per serving instance against that
capacity (equivalent to CPU against its target under the model, but not capped at 100 %).
A minute is "over target" when the serving instances carry more than ``(1 + tolerance)`` times
their capacity. Instance-hours count starting instances too (they are paid for).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from perfpilot.core.scaling_config import RuleConfig, ServiceConfig, Tier
from perfpilot.scaling.decide import decide
from perfpilot.scaling.forecast import SeasonalDemand, hold_window_s
from perfpilot.scaling.model import Direction, MetricReading, Recommendation, ScalingInputs
from perfpilot.scaling.trace import TracePoint

_METRIC = "rps_per_instance"


@dataclass(frozen=True, slots=True)
class CapacityModel:
    rps_per_instance: float
    startup_s: float


@dataclass(frozen=True, slots=True)
class SimulationResult:
    policy: str
    instance_hours: float
    minutes_over_target: float
    reversals: int
    scale_actions: int
    peak_instances: int
    recommended_only: int


def perfpilot_policy(service: ServiceConfig, model: CapacityModel) -> ServiceConfig:
    """The service's own policy driven by the modelled signal (schedules kept)."""
    schedules = tuple(r for r in service.rules if r.is_schedule)
    rule = RuleConfig(name=_METRIC, target=model.rps_per_instance)
    return service.model_copy(
        update={
            "target_cpu_percent": None,
            "target_memory_percent": None,
            "rules": (rule, *schedules),
            "startup_s": model.startup_s,
        }
    )


def hpa_policy(service: ServiceConfig, model: CapacityModel) -> ServiceConfig:
    """The plain HPA: same bounds and target, its default behaviour (scale-down stabilization
    300 s, +100 %/+4 per step), no cooldowns, schedules, forecasts or confidence gate."""
    rule = RuleConfig(name=_METRIC, target=model.rps_per_instance)
    return ServiceConfig(
        name=service.name,
        tier=Tier.CRITICAL,
        min_instances=service.min_instances,
        max_instances=service.max_instances,
        target_cpu_percent=None,
        target_memory_percent=None,
        scale_up_cooldown=0,
        scale_down_cooldown=0,
        tolerance=0.1,
        predictive=False,
        rules=(rule,),
    )


def simulate(
    trace: Sequence[TracePoint],
    policy: ServiceConfig,
    model: CapacityModel,
    name: str,
    step_s: float = 15.0,
    gate_confidence: bool = True,
) -> SimulationResult:
    """Run ``policy`` over the trace every ``step_s``; see the module docstring for the model."""
    times = np.array([p.at.timestamp() for p in trace])
    loads = np.array([p.requests_per_second for p in trace])
    start = trace[0].at
    ready_at = [start] * max(
        policy.min_instances,
        min(policy.max_instances, math.ceil(loads[0] / model.rps_per_instance)),
    )
    demand = SeasonalDemand() if policy.predictive else None
    state = _State(ready_at)
    steps = int((times[-1] - times[0]) // step_s)
    for i in range(steps + 1):
        now = start + timedelta(seconds=i * step_s)
        rps = float(np.interp(now.timestamp(), times, loads))
        state.step(now, rps, policy, model, step_s, demand, gate_confidence)
    return SimulationResult(
        policy=name,
        instance_hours=round(state.instance_s / 3600.0, 2),
        minutes_over_target=round(state.over_s / 60.0, 2),
        reversals=state.reversals,
        scale_actions=state.actions,
        peak_instances=state.peak,
        recommended_only=state.recommended_only,
    )


class _State:
    def __init__(self, ready_at: list[datetime]) -> None:
        self.ready_at = ready_at
        self.history: deque[Recommendation] = deque()
        self.last_up: datetime | None = None
        self.last_down: datetime | None = None
        self.last_direction: Direction | None = None
        self.instance_s = self.over_s = 0.0
        self.reversals = self.actions = self.recommended_only = 0
        self.peak = len(ready_at)

    def step(
        self,
        now: datetime,
        rps: float,
        policy: ServiceConfig,
        model: CapacityModel,
        step_s: float,
        demand: SeasonalDemand | None,
        gate: bool,
    ) -> None:
        current = len(self.ready_at)
        ready = sum(1 for t in self.ready_at if t <= now)
        per_instance = rps / ready if ready else math.inf
        self.instance_s += current * step_s
        if per_instance > model.rps_per_instance * (1 + policy.tolerance):
            self.over_s += step_s
        reading = MetricReading(_METRIC, per_instance if ready else None, now if ready else None)
        forecast, why = None, None
        if demand is not None:
            demand.record(f"sim:{_METRIC}", now, rps)
            forecast, why = demand.forecast(
                f"sim:{_METRIC}", now, policy.startup_s + step_s, hold_window_s(policy)
            )
        inputs = ScalingInputs(
            policy.name, current, (reading,), ready, forecast, why, tuple(self.history),
            self.last_up, self.last_down,
        )  # fmt: skip
        decision = decide(inputs, policy, now)
        self.history.append(Recommendation(now, decision.recommended))
        while self.history[0].at <= now - timedelta(hours=1):
            self.history.popleft()
        if decision.direction is Direction.HOLD:
            return
        if gate and not decision.actionable:
            self.recommended_only += 1
            return
        self._apply(decision.desired, decision.direction, now, model)

    def _apply(
        self, desired: int, direction: Direction, now: datetime, model: CapacityModel
    ) -> None:
        current = len(self.ready_at)
        if direction is Direction.UP:
            self.ready_at += [now + timedelta(seconds=model.startup_s)] * (desired - current)
            self.last_up = now
        else:
            # Starting instances go first, then the newest serving ones.
            self.ready_at = sorted(self.ready_at)[:desired]
            self.last_down = now
        if self.last_direction is not None and direction is not self.last_direction:
            self.reversals += 1
        self.last_direction = direction
        self.actions += 1
        self.peak = max(self.peak, desired)
