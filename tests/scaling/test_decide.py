"""The HPA semantics of ``decide``: tolerance, several metrics, missing metrics, stabilization,
step policies, cooldowns, clamp, schedules across midnight and zones, tiers and confidence."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from perfpilot.core.scaling_config import RuleConfig, ServiceConfig, Tier
from perfpilot.scaling.capacity import allocate
from perfpilot.scaling.decide import decide
from perfpilot.scaling.model import (
    DecisionSource,
    DemandForecast,
    Direction,
    MetricReading,
    Recommendation,
    ScalingInputs,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def policy(**overrides: Any) -> ServiceConfig:
    base: dict[str, Any] = {
        "name": "api",
        "tier": "critical",
        "min_instances": 1,
        "max_instances": 20,
        "target_cpu_percent": 50,
        "target_memory_percent": None,
    }
    return ServiceConfig.model_validate(base | overrides)


def inputs(current: int, **values: float | None) -> ScalingInputs:
    readings = tuple(
        MetricReading(name, value, NOW if value is not None else None, None if value else "down")
        for name, value in values.items()
    )
    return ScalingInputs(service="api", current=current, readings=readings)


@pytest.mark.parametrize(
    ("current", "values", "expected"),
    [
        # Within the 0.1 tolerance: no change either way.
        (4, {"cpu": 54.0}, 4),
        (4, {"cpu": 46.0}, 4),
        # Outside it: ceil(current * value / target).
        (4, {"cpu": 56.0}, 5),
        (4, {"cpu": 100.0}, 8),
        (10, {"cpu": 20.0}, 4),
        # The HPA's documented example: 50 replicas at 90 % of a 75 % target -> 60.
        (50, {"cpu": 90.0}, 60),
    ],
)
def test_ratio_with_tolerance(current: int, values: dict[str, float], expected: int) -> None:
    p = policy(target_cpu_percent=75 if current == 50 else 50, max_instances=100)
    decision = decide(inputs(current, **values), p, NOW)
    assert decision.recommended == expected
    assert decision.desired == expected


def test_highest_metric_wins() -> None:
    p = policy(rules=[{"name": "rps_per_instance", "target": 100}], scale_up_max_percent=500)
    decision = decide(inputs(4, cpu=60.0, rps_per_instance=300.0), p, NOW)
    assert decision.desired == 12
    assert "rps_per_instance" in decision.steps[0]


@pytest.mark.parametrize(
    ("values", "expected", "why"),
    [
        ({"cpu": 10.0, "rps_per_instance": None}, 6, "missing"),
        ({"cpu": 100.0, "rps_per_instance": None}, 12, "metrics"),
        ({"cpu": None, "rps_per_instance": None}, 6, "no metric readable"),
    ],
)
def test_missing_metrics_never_scale_down(
    values: dict[str, float | None], expected: int, why: str
) -> None:
    p = policy(rules=[{"name": "rps_per_instance", "target": 100}])
    decision = decide(inputs(6, **values), p, NOW)
    assert decision.desired == expected
    assert any(why in step for step in decision.steps), decision.steps


def test_stale_reading_counts_as_missing() -> None:
    p = policy()
    old = ScalingInputs("api", 6, (MetricReading("cpu", 5.0, NOW - timedelta(minutes=5)),))
    decision = decide(old, p, NOW)
    assert decision.desired == 6
    assert decision.proposals[0].note.startswith("stale")


def test_latency_only_scales_up() -> None:
    p = policy(target_cpu_percent=None, rules=[{"name": "latency_p95", "target": 0.5}])
    assert decide(inputs(4, latency_p95=0.1), p, NOW).desired == 4
    assert decide(inputs(4, latency_p95=1.0), p, NOW).desired == 8


def test_scale_down_stabilization_keeps_the_window_maximum() -> None:
    # No cooldown: the HPA's own semantics, a partial step as the window slides.
    p = policy(scale_down_cooldown=0)
    history = (
        Recommendation(NOW - timedelta(seconds=400), 10),  # outside the 300 s window
        Recommendation(NOW - timedelta(seconds=200), 7),
        Recommendation(NOW - timedelta(seconds=60), 5),
    )
    low_load = replace(inputs(8, cpu=10.0), recommendations=history)
    decision = decide(low_load, p, NOW)
    assert decision.recommended == 2
    assert decision.desired == 7
    later_at = NOW + timedelta(seconds=230)
    fresh = ScalingInputs(
        "api", 8, (MetricReading("cpu", 10.0, later_at),), recommendations=history
    )
    assert decide(fresh, p, later_at).desired == 5


def test_scale_up_stabilization_window_takes_the_minimum() -> None:
    p = policy(scale_up_stabilization_s=60)
    history = (Recommendation(NOW - timedelta(seconds=30), 5),)
    decision = decide(replace(inputs(4, cpu=100.0), recommendations=history), p, NOW)
    assert decision.desired == 5


@pytest.mark.parametrize(
    ("current", "cpu", "overrides", "expected"),
    [
        # Default scale-up policy: +4 or +100 %, the larger.
        (2, 500.0, {}, 6),
        (10, 500.0, {"max_instances": 100}, 20),
        (10, 500.0, {"max_instances": 100, "scale_up_max_percent": 10}, 14),
        # Scale-down: percent and, when set, a step.
        (10, 5.0, {"scale_down_stabilization_s": 0, "scale_down_max_percent": 50}, 5),
        (10, 5.0, {"scale_down_stabilization_s": 0, "scale_down_max_step": 2}, 8),
    ],
)
def test_step_policies(current: int, cpu: float, overrides: dict[str, Any], expected: int) -> None:
    decision = decide(inputs(current, cpu=cpu), policy(**overrides), NOW)
    assert decision.desired == expected


def test_cooldown_per_direction() -> None:
    p = policy(scale_up_cooldown=300, scale_down_cooldown=600, scale_down_stabilization_s=0)
    recent_up = replace(inputs(4, cpu=100.0), last_scale_up_at=NOW - timedelta(seconds=100))
    held = decide(recent_up, p, NOW)
    assert held.desired == 4
    assert "cooldown: 200s left" in held.reason
    # Flap guard: capacity added 100 s ago is kept for the scale-down cooldown...
    down = replace(inputs(4, cpu=10.0), last_scale_up_at=NOW - timedelta(seconds=100))
    assert decide(down, p, NOW).desired == 4
    # ...while a recent scale-down never holds a scale-up.
    up = replace(inputs(4, cpu=100.0), last_scale_down_at=NOW - timedelta(seconds=10))
    assert decide(up, p, NOW).desired == 8
    recent_down = replace(inputs(4, cpu=10.0), last_scale_down_at=NOW - timedelta(seconds=599))
    assert decide(recent_down, p, NOW).desired == 4
    assert decide(recent_down, p, NOW + timedelta(seconds=2)).desired == 1


def test_clamp_holds_for_every_source() -> None:
    p = policy(min_instances=2, max_instances=5)
    assert decide(inputs(4, cpu=400.0), p, NOW).desired == 5
    assert decide(inputs(4, cpu=1.0), p, NOW).desired <= 4
    below = decide(inputs(1, cpu=50.0), p, NOW)
    assert (below.desired, below.source, below.confidence) == (2, DecisionSource.BOUNDS, 1.0)
    # Even inside a cooldown a count below min goes up to min.
    cooling = replace(inputs(1, cpu=50.0), last_scale_up_at=NOW)
    assert decide(cooling, p, NOW).desired == 2
    forecast = DemandForecast("cpu", 10_000.0, 120, 0.9, "holt_winters")
    assert decide(replace(inputs(4, cpu=50.0), forecast=forecast), p, NOW).desired == 5


PEAK = {
    "name": "schedule:night-batch",
    "start": "0 22 * * *",
    "end": "0 6 * * *",
    "timezone": "Europe/Madrid",
    "min_instances": 6,
}


@pytest.mark.parametrize(
    ("moment", "open_"),
    [
        (datetime(2026, 3, 2, 20, 59, tzinfo=UTC), False),  # 21:59 Madrid (UTC+1)
        (datetime(2026, 3, 2, 21, 0, tzinfo=UTC), True),  # 22:00 Madrid
        (datetime(2026, 3, 2, 23, 30, tzinfo=UTC), True),  # 00:30 Madrid, across midnight
        (datetime(2026, 3, 3, 4, 59, tzinfo=UTC), True),  # 05:59 Madrid
        (datetime(2026, 3, 3, 5, 0, tzinfo=UTC), False),  # 06:00 Madrid
        # Summer time (UTC+2): the window follows the local clock.
        (datetime(2026, 7, 1, 20, 0, tzinfo=UTC), True),  # 22:00 Madrid
        (datetime(2026, 7, 1, 4, 30, tzinfo=UTC), False),  # 06:30 Madrid
    ],
)
def test_schedule_floor_across_midnight_and_zones(moment: datetime, open_: bool) -> None:
    p = policy(rules=[PEAK])
    decision = decide(inputs(2, cpu=50.0), p, moment)
    assert (decision.desired == 6) is open_
    if open_:
        assert decision.source is DecisionSource.SCHEDULE
        assert decision.schedules == ("schedule:night-batch",)


def test_off_peak_ceiling_lowers_but_never_below_min() -> None:
    quiet = {"name": "schedule:quiet", "start": "0 1 * * *", "end": "0 5 * * *", "max_instances": 3}
    p = policy(min_instances=4, rules=[quiet], scale_down_stabilization_s=0)
    decision = decide(inputs(8, cpu=50.0), p, datetime(2026, 3, 2, 2, 0, tzinfo=UTC))
    assert decision.desired == 4


def test_below_the_tier_confidence_only_recommends() -> None:
    # CPU 80 % of a 70 % target (ratio 1.14) with memory low: confidence
    # 1 x (1 + 0.5) / 2 x (0.5 + 0.5 x 0.43) = 0.54: enough for critical (0.5), not for high.
    values = {"cpu": 80.0, "memory": 40.0}
    for tier, acts in ((Tier.CRITICAL, True), (Tier.HIGH, False), (Tier.LOW, False)):
        p = policy(tier=tier, target_cpu_percent=70, target_memory_percent=80)
        decision = decide(inputs(4, **values), p, NOW)
        assert decision.direction is Direction.UP
        assert decision.confidence == pytest.approx(0.5357, abs=1e-3)
        assert decision.actionable is acts
        assert ("recommend only" in decision.reason) is not acts


def test_confidence_grows_with_agreement_and_margin() -> None:
    p = policy(target_cpu_percent=70, target_memory_percent=80)
    weak = decide(inputs(4, cpu=80.0, memory=40.0), p, NOW).confidence
    strong = decide(inputs(4, cpu=100.0, memory=100.0), p, NOW).confidence
    half_data = policy(target_cpu_percent=70, target_memory_percent=80)
    missing = decide(inputs(4, cpu=100.0, memory=None), half_data, NOW).confidence
    assert weak < strong == 1.0
    # Half the metrics unreadable halves the confidence of an otherwise certain scale-up.
    assert missing == 0.5


def test_forecast_raises_never_lowers() -> None:
    p = policy(scale_up_max_percent=500)
    rise = DemandForecast("cpu", 600.0, 120, 0.9, "holt_winters")
    up = decide(replace(inputs(4, cpu=50.0), forecast=rise), p, NOW)
    assert (up.desired, up.source) == (12, DecisionSource.FORECAST)
    assert up.confidence == pytest.approx(0.9)
    fall = DemandForecast("cpu", 10.0, 120, 0.9, "holt_winters")
    assert decide(replace(inputs(4, cpu=50.0), forecast=fall), p, NOW).desired == 4
    unsure = DemandForecast("cpu", 600.0, 120, 0.3, "holt_winters")
    assert decide(replace(inputs(4, cpu=50.0), forecast=unsure), p, NOW).desired == 4


def test_flapping_load_flaps_at_most_once_per_ten_minutes() -> None:
    p = policy(scale_up_cooldown=300, scale_down_cooldown=600)
    current, history = 4, []
    last_up: datetime | None = None
    last_down: datetime | None = None
    moves: list[tuple[datetime, Direction]] = []
    hours = 4
    for i in range(hours * 240):  # 15 s evaluations
        now = NOW + timedelta(seconds=15 * i)
        # High for 7 minutes, low for 7 minutes: long enough to pass the 5-minute
        # stabilization window, so only the cooldowns and the flap guard stand in the way.
        cpu = 90.0 if (i // 28) % 2 == 0 else 15.0
        state = ScalingInputs(
            "api",
            current,
            (MetricReading("cpu", cpu, now),),
            recommendations=tuple(history),
            last_scale_up_at=last_up,
            last_scale_down_at=last_down,
        )
        decision = decide(state, p, now)
        history = [*history, Recommendation(now, decision.recommended)][-100:]
        if decision.desired != current:
            moves.append((now, decision.direction))
            if decision.direction is Direction.UP:
                last_up = now
            else:
                last_down = now
            current = decision.desired
    assert any(d is Direction.DOWN for _, d in moves), "the load must really flap"
    flaps = [
        (up_at, down_at)
        for (up_at, prev), (down_at, d) in itertools.pairwise(moves)
        if prev is Direction.UP and d is Direction.DOWN
    ]
    # Capacity added is kept at least 10 minutes, so flaps are at least 10 minutes apart.
    assert all(down_at - up_at >= timedelta(minutes=10) for up_at, down_at in flaps)
    for (_, first), (_, second) in itertools.pairwise(flaps):
        assert second - first >= timedelta(minutes=10)
    assert len(flaps) <= hours * 6


def test_tier_priority_when_capacity_is_short() -> None:
    low = decide(inputs(2, cpu=100.0), policy(name="worker", tier="low"), NOW)
    critical = decide(inputs(2, cpu=100.0), policy(name="api", tier="critical"), NOW)
    low = replace(low, service="worker")
    granted = allocate([(low, Tier.LOW), (critical, Tier.CRITICAL)], capacity=6, current_total=4)
    by_service = {d.service: d for d in granted}
    assert by_service["api"].desired == 4
    assert by_service["worker"].desired == 2
    assert "capacity" in by_service["worker"].reason


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="min_instances"):
        policy(min_instances=5, max_instances=2)
    with pytest.raises(ValueError, match="greater than 0"):
        policy(target_cpu_percent=-5)
    with pytest.raises(ValueError, match="unknown time zone"):
        RuleConfig(name="schedule:x", start="0 8 * * *", end="0 9 * * *", timezone="Mars/Base")
    with pytest.raises(ValueError, match="never fires"):
        RuleConfig(name="schedule:x", start="0 0 30 2 *", end="0 9 * * *", min_instances=2)
    with pytest.raises(ValueError, match="unknown rule"):
        RuleConfig(name="cpux", target=3)


def _forecast(now: float, hold: float, peak: float | None = None) -> DemandForecast:
    """A cpu demand forecast (total percent): ``now`` at present, ``hold`` the highest within
    the 300 s scale-down window, ``peak`` the highest within the start-up time."""
    return DemandForecast(
        "cpu", peak if peak is not None else now, 75, 0.9, "holt_winters", hold, 300, 0.0, now
    )


@pytest.mark.parametrize(
    ("cpu", "forecast", "desired", "step"),
    [
        # Metrics want 8 -> 4; the forecast needs ceil(440 / 55) = 8 within the window: held.
        (25.0, _forecast(200, 440), 8, "forecast holds scale-in at 8"),
        # It needs ceil(300 / 55) = 6: scale-in goes that far and no further.
        (25.0, _forecast(200, 300), 6, "forecast holds scale-in at 6"),
        # 220 fits 4 instances within the tolerance band (4 x 50 x 1.1): no hold.
        (25.0, _forecast(200, 220), 4, "forecast: peak 200 needs no more instances"),
        # A forecast below its minimum confidence never holds.
        (25.0, replace(_forecast(200, 440), confidence=0.3), 4, "forecast ignored"),
        # The forecast never lowers: a falling forecast leaves a scale-up alone.
        (80.0, _forecast(100, 100), 13, "metrics: highest proposal 13"),
    ],
)
def test_forecast_holds_scale_in_below_what_it_needs(
    cpu: float, forecast: DemandForecast, desired: int, step: str
) -> None:
    p = policy(scale_down_cooldown=0, scale_up_max_percent=500)
    decision = decide(replace(inputs(8, cpu=cpu), forecast=forecast), p, NOW)
    assert decision.desired == desired
    assert any(step in s for s in decision.steps), decision.steps
    # The forecast is the decision's evidence exactly when it held the count.
    assert (decision.forecast is not None) == ("holds" in step)


@pytest.mark.parametrize(
    ("forecast", "desired", "why"),
    [
        # No forecast: the 300 s window keeps the 7 recommended 60 s ago.
        (None, 7, "stabilization: highest of last 300s is 7"),
        # Past a forecast peak (the window's highest is now's) that the smaller count carries:
        # scale-in follows the forecast decline at once.
        (_forecast(200, 200), 4, "fits 4: no stabilization wait"),
        # A rising forecast: the window stays, even though 4 would carry it.
        (_forecast(180, 210), 7, "stabilization: highest of last 300s is 7"),
    ],
)
def test_scale_in_past_a_forecast_peak_skips_the_window(
    forecast: DemandForecast | None, desired: int, why: str
) -> None:
    p = policy(scale_down_cooldown=0)
    history = (Recommendation(NOW - timedelta(seconds=60), 7),)
    state = replace(inputs(8, cpu=25.0), forecast=forecast, recommendations=history)
    decision = decide(state, p, NOW)
    assert decision.desired == desired
    assert any(why in s for s in decision.steps), decision.steps


@pytest.mark.parametrize(
    ("blocking_age_s", "cooldown", "desired", "why"),
    [
        # The 7 leaves the window in 60 s; stepping to 7 now would keep 7 for 600 s.
        # Waiting: 8 x 60 + 2 x 540 = 1560 instance-seconds against 7 x 600 = 4200.
        (240, 600, 8, "waiting 60s for the window to allow 2"),
        # It leaves in 290 s of a 300 s cooldown: 8 x 290 + 2 x 10 > 7 x 300, so step now.
        (10, 300, 7, "stabilization: highest of last 300s is 7"),
        # No cooldown: nothing is frozen by a partial step, the HPA's semantics hold.
        (240, 0, 7, "stabilization: highest of last 300s is 7"),
    ],
)
def test_a_scale_in_cut_by_the_window_waits_when_a_cooldown_would_freeze_it(
    blocking_age_s: float, cooldown: float, desired: int, why: str
) -> None:
    p = policy(scale_down_cooldown=cooldown)
    history = (Recommendation(NOW - timedelta(seconds=blocking_age_s), 7),)
    decision = decide(replace(inputs(8, cpu=10.0), recommendations=history), p, NOW)
    assert decision.desired == desired
    assert any(why in s for s in decision.steps), decision.steps
