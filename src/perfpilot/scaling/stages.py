"""The later stages of ``decide``: stabilization windows, step policies and cooldowns."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from perfpilot.core.scaling_config import ServiceConfig
from perfpilot.scaling.model import DecisionSource, Recommendation, ScalingInputs


@dataclass(frozen=True, slots=True)
class Stage:
    """The count so far, what set it, the deciding ratio and the trail of steps."""

    value: int
    source: DecisionSource
    ratio: float | None
    steps: tuple[str, ...]

    def noted(self, step: str) -> Stage:
        return Stage(self.value, self.source, self.ratio, (*self.steps, step))

    def moved(self, value: int, step: str) -> Stage:
        return Stage(value, self.source, self.ratio, (*self.steps, step))


def stabilize(
    stage: Stage,
    history: Sequence[Recommendation],
    current: int,
    policy: ServiceConfig,
    now: datetime,
) -> Stage:
    """The HPA's stabilization: scale down no lower than the highest recommendation within the
    scale-down window, scale up no higher than the lowest within the scale-up window
    (https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#stabilization-window).
    """
    up_since = now - timedelta(seconds=policy.scale_up_stabilization_s)
    down_since = now - timedelta(seconds=policy.scale_down_stabilization_s)
    up_limit = min([stage.value, *(r.instances for r in history if r.at > up_since)])
    down_limit = max([stage.value, *(r.instances for r in history if r.at > down_since)])
    value = current
    if value < up_limit:
        value = up_limit
    if value > down_limit:
        value = down_limit
    if value == stage.value:
        return stage
    if value > stage.value:
        step = f"stabilization: highest of last {policy.scale_down_stabilization_s:g}s is {value}"
    else:
        step = f"stabilization: lowest of last {policy.scale_up_stabilization_s:g}s is {value}"
    return stage.moved(value, step)


def wait_for_full_scale_in(
    wanted: Stage,
    stabilized: Stage,
    history: Sequence[Recommendation],
    current: int,
    policy: ServiceConfig,
    now: datetime,
) -> Stage:
    """Hold rather than take a scale-in the stabilization window cut short, when waiting for
    the whole step costs fewer instance-seconds than the partial one.

    The HPA takes the partial step and the next one 15 s later as the window slides
    (https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#stabilization-window);
    with a ``scale_down_cooldown`` the partial step instead freezes the rest of the excess for
    the whole cooldown, and within the tolerance band the count may never come down further.
    The time the window allows ``wanted`` is known from the recorded recommendations.
    """
    cooldown = policy.scale_down_cooldown
    if cooldown <= 0 or not wanted.value < stabilized.value < current:
        return stabilized
    window = timedelta(seconds=policy.scale_down_stabilization_s)
    blocking = [r.at for r in history if r.instances > wanted.value and r.at > now - window]
    wait_s = (max(blocking) + window - now) / timedelta(seconds=1) if blocking else 0.0
    if wait_s >= cooldown:
        return stabilized
    waiting = current * wait_s + wanted.value * (cooldown - wait_s)
    partial = stabilized.value * cooldown
    if waiting >= partial:
        return stabilized
    step = (
        f"waiting {wait_s:.0f}s for the window to allow {wanted.value}: a step to"
        f" {stabilized.value} now would hold it through the {cooldown:g}s scale-down cooldown"
    )
    return stabilized.moved(current, step)


def step_limit(stage: Stage, current: int, policy: ServiceConfig, floor: int | None) -> Stage:
    """At most ``max(scale_up_max_step, scale_up_max_percent %)`` more instances per action (the
    HPA's default policies, larger one selected); scale-down removes at most
    ``scale_down_max_percent %`` and, when set, ``scale_down_max_step``. A schedule floor is a
    count the user asked for and is reached in one step."""
    value = stage.value
    if value > current:
        by_percent = math.ceil(current * (1 + policy.scale_up_max_percent / 100.0))
        limit = max(current + policy.scale_up_max_step, by_percent)
        if floor is not None:
            limit = max(limit, floor)
        if value > limit:
            return stage.moved(limit, f"step policy: at most {limit} in one action")
    elif value < current:
        removable = max(1, math.floor(current * policy.scale_down_max_percent / 100.0))
        if policy.scale_down_max_step is not None:
            removable = min(removable, policy.scale_down_max_step)
        limit = current - removable
        if value < limit:
            return stage.moved(limit, f"step policy: at least {limit} after one action")
    return stage


def cooldown_hold(
    stage: Stage, inputs: ScalingInputs, current: int, policy: ServiceConfig, now: datetime
) -> Stage:
    """Hold at ``current`` while the cooldown of the stage's direction runs.

    Flap guard: a scale-down also waits ``scale_down_cooldown`` after the last scale-up, so
    capacity just added is not removed by the next dip; a scale-up is never held by a recent
    scale-down (being short of capacity costs more than an extra instance)."""
    if stage.value > current:
        last, cooldown, word = inputs.last_scale_up_at, policy.scale_up_cooldown, "scale-up"
    elif stage.value < current:
        moves = [t for t in (inputs.last_scale_down_at, inputs.last_scale_up_at) if t]
        last, cooldown, word = max(moves, default=None), policy.scale_down_cooldown, "scale-down"
    else:
        return stage
    if last is None:
        return stage
    elapsed = (now - last) / timedelta(seconds=1)
    if elapsed >= cooldown:
        return stage
    step = (
        f"{word} cooldown: {cooldown - elapsed:.0f}s left, holding {current} (wanted {stage.value})"
    )
    return stage.moved(current, step)
