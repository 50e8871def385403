"""The predictive layer scales out ahead of a daily rise; traces, simulation and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from perfpilot.core.scaling_config import ServiceConfig
from perfpilot.scaling.decide import decide
from perfpilot.scaling.forecast import SeasonalDemand
from perfpilot.scaling.model import Direction, MetricReading, ScalingInputs
from perfpilot.scaling.simulate import CapacityModel, hpa_policy, perfpilot_policy, simulate
from perfpilot.scaling.trace import TraceError, TracePoint, parse_trace

DAY0 = datetime(2026, 3, 2, tzinfo=UTC)
STARTUP_S = 120.0


def _load(at: datetime) -> float:
    """200 rps at night, 800 rps from 09:00 to 18:00 every day: a sharp daily rise."""
    return 800.0 if 9 <= at.hour < 18 else 200.0


def test_scales_out_at_least_the_startup_time_before_the_daily_rise() -> None:
    demand = SeasonalDemand()
    for minute in range(3 * 1440):
        at = DAY0 + timedelta(minutes=minute)
        demand.record("api:rps_per_instance", at, _load(at))
    policy = ServiceConfig(
        name="api",
        min_instances=2,
        max_instances=20,
        target_cpu_percent=None,
        target_memory_percent=None,
        startup_s=STARTUP_S,
        rules=[{"name": "rps_per_instance", "target": 100}],
    )
    rise = DAY0 + timedelta(days=3, hours=9)
    first_up = None
    at = rise - timedelta(hours=1)
    while at < rise and first_up is None:
        reading = MetricReading("rps_per_instance", _load(at) / 2, at)
        forecast, why = demand.forecast("api:rps_per_instance", at, STARTUP_S + 15)
        inputs = ScalingInputs("api", 2, (reading,), forecast=forecast, forecast_reason=why)
        decision = decide(inputs, policy, at)
        if decision.direction is Direction.UP and decision.actionable:
            first_up = at
            assert decision.source.value == "forecast"
            assert decision.forecast is not None
            assert decision.forecast.confidence > 0.9
        at += timedelta(seconds=15)
    assert first_up is not None, "no scale-out before the rise"
    assert rise - first_up >= timedelta(seconds=STARTUP_S)


def test_forecast_needs_two_days() -> None:
    demand = SeasonalDemand()
    for minute in range(1440):
        demand.record("s", DAY0 + timedelta(minutes=minute), 100.0)
    forecast, why = demand.forecast("s", DAY0 + timedelta(days=1), 135)
    assert forecast is None
    assert why == "seasonal forecast needs 48 hours of demand, have 24"


def test_trace_formats_and_errors() -> None:
    iso = parse_trace(
        [
            "timestamp,requests_per_second,cpu",
            "2026-03-02T10:00:00Z,5,1",
            "2026-03-02T10:01:00+00:00,7,2",
        ]
    )
    assert [p.requests_per_second for p in iso] == [5.0, 7.0]
    epoch = parse_trace(["timestamp,requests_per_second", "1772445660,2", "1772445600,1"])
    assert [p.requests_per_second for p in epoch] == [1.0, 2.0]  # sorted by time
    with pytest.raises(TraceError, match="lacks \\['requests_per_second'\\]"):
        parse_trace(["timestamp,rps", "1,2"])
    with pytest.raises(TraceError, match="line 3: timestamp='yesterday'"):
        parse_trace(["timestamp,requests_per_second", "1,2", "yesterday,3"])
    with pytest.raises(TraceError, match="line 2: requests_per_second='-4'"):
        parse_trace(["timestamp,requests_per_second", "1,-4", "2,3"])


def _flash_trace() -> list[TracePoint]:
    return [
        TracePoint(DAY0 + timedelta(minutes=m), 1000.0 if 60 <= m < 100 else 200.0)
        for m in range(240)
    ]


def test_simulation_counts_over_target_and_instance_hours() -> None:
    model = CapacityModel(rps_per_instance=100, startup_s=120)
    service = ServiceConfig(name="api", min_instances=2, max_instances=20)
    trace = _flash_trace()
    ours = simulate(trace, perfpilot_policy(service, model), model, "perfpilot")
    hpa = simulate(trace, hpa_policy(service, model), model, "hpa", gate_confidence=False)
    for result in (ours, hpa):
        # 200 rps needs 2 instances for 4 h (8 instance-hours); the crowd needs 10 for 40 min.
        assert 8 < result.instance_hours < 20
        # At least the 2 minutes of start-up are over target after the jump.
        assert result.minutes_over_target >= 2
        assert result.peak_instances == 10
    # The HPA adds instances every 15 s; the spec's 300 s scale-up cooldown makes perfpilot
    # reach 10 in steps (2 -> 4 -> 8 -> 10), paying a few minutes over target for it.
    assert hpa.minutes_over_target < ours.minutes_over_target < 15
    # Without a cooldown the HPA follows the crowd down as soon as stabilization allows.
    assert hpa.reversals == ours.reversals == 1


def test_cli_simulate_prints_both_policies(tmp_path: Path) -> None:
    trace = tmp_path / "trace.csv"
    rows = ["timestamp,requests_per_second"] + [
        f"{p.at.isoformat()},{p.requests_per_second}" for p in _flash_trace()
    ]
    trace.write_text("\n".join(rows) + "\n")
    config = tmp_path / "perfpilot.toml"
    config.write_text('[[scaling.services]]\nname = "api"\nmin_instances = 2\nmax_instances = 20\n')
    done = subprocess.run(
        [sys.executable, "-m", "perfpilot", "scaling", "simulate", "--trace", str(trace),
         "--config", str(config), "--json"],
        capture_output=True, text=True, timeout=120, check=False,
        env={"PATH": "/usr/bin:/bin", "PERFORMANCE_STORE_URL": f"sqlite:///{tmp_path / 's.db'}"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    results = {r["policy"]: r for r in json.loads(done.stdout)}
    assert set(results) == {"perfpilot", "hpa"}
    assert results["hpa"]["peak_instances"] == 10
    bad = subprocess.run(
        [sys.executable, "-m", "perfpilot", "scaling", "simulate", "--trace",
         str(tmp_path / "absent.csv"), "--config", str(config)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert bad.returncode == 2
    assert "cannot read trace" in bad.stderr
