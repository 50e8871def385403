"""Pure analysis and verdict functions on constructed readings: thresholds, cross-component
reasoning (high CPU, low hit ratio, slow endpoint <-> slow statements), unavailable parts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from perfpilot.appmetrics.model import AppSnapshot, EndpointStats
from perfpilot.cache.plan import ActionKind, CacheAction
from perfpilot.cache.report import CacheReport
from perfpilot.cache.server_info import InfoDelta, ServerSnapshot
from perfpilot.core.settings import RiskLevel
from perfpilot.database.workload import StatementCounters
from perfpilot.database.workload_delta import WorkloadDelta
from perfpilot.optimizer.analyze_api import api_analysis
from perfpilot.optimizer.analyze_data import cache_analysis, database_analysis
from perfpilot.optimizer.analyze_host import cpu_analysis, memory_analysis
from perfpilot.optimizer.correlate import statements_behind
from perfpilot.optimizer.inputs import DeferredTask, HostInputs, Inputs, Thresholds
from perfpilot.optimizer.model import Category, Executor, TypeState
from perfpilot.optimizer.score import performance_score
from perfpilot.optimizer.verdict import Samples, Verdict, bernoulli, judge, of_values
from perfpilot.scaling.model import DecisionSource, Direction, ScalingDecision

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
LIMITS = Thresholds()


def _decision(direction: Direction) -> ScalingDecision:
    return ScalingDecision(
        "d1", "agente-api", T0, 2, 4, 4, direction, DecisionSource.METRICS, 0.9, 0.8, True,
        "cpu 92% above target 70%",
    )  # fmt: skip


def test_high_cpu_scales_out_and_defers_maintenance() -> None:
    inputs = Inputs(
        at=T0, host=HostInputs(92.0, 40.0, 8 << 30), scaling=(_decision(Direction.UP),),
        deferrable=(DeferredTask("db_maintenance_daily", T0 + timedelta(minutes=30)),),
    )  # fmt: skip
    result = cpu_analysis(inputs, LIMITS)
    assert result.state is TypeState.FINDINGS
    assert result.findings[0].check == "cpu_high"
    scale, defer = result.actions
    assert scale.category is Category.SCALING
    assert scale.executor is Executor.SCALING
    assert scale.ref == "d1"
    assert scale.evidence["desired"] == 4
    assert "db_maintenance_daily" in defer.title
    assert defer.executor is Executor.ADVICE


def test_quiet_cpu_says_so_with_figures_and_missing_host_says_why() -> None:
    quiet = cpu_analysis(Inputs(at=T0, host=HostInputs(30.0, 40.0, 1)), LIMITS)
    assert quiet.state is TypeState.OK
    assert quiet.figures == {"cpu_percent": 30.0, "threshold": 75.0}
    assert "30.0%" in quiet.summary
    gone = memory_analysis(Inputs(at=T0, host=None, host_reason="monitoring disabled"), LIMITS)
    assert gone.state is TypeState.UNAVAILABLE
    assert gone.reason == "monitoring disabled"
    db = database_analysis(Inputs(at=T0, host=None, database_reason="connection refused"), LIMITS)
    assert db.reason == "connection refused"


def _server(hits: int = 0) -> ServerSnapshot:
    return ServerSnapshot(T0, "7.2.4", "master", 10, 0, "allkeys-lfu", 1 << 20, 2 << 20, 1.0,
                          hits, 0, 0, 0, 0, 0.0, 0.0, 100, 10)  # fmt: skip


def _cache_report(hits: int, misses: int, actions: tuple[CacheAction, ...]) -> CacheReport:
    fields: dict[str, Any] = {f: () for f in CacheReport.__dataclass_fields__}
    fields.update(
        generated_at=T0, target="redis://x", server=_server(), clients=1, client_window_s=300,
        window=InfoDelta(60.0, hits, misses, 0, 0, hits + misses, 0), writes="only under app:",
        sweep=None, actions=actions,
    )  # fmt: skip
    return CacheReport(**fields)


def _cache_action(kind: ActionKind, ns: str) -> CacheAction:
    return CacheAction(f"{kind}-{ns}", kind, RiskLevel.LOW, ns.encode(), ns, "HSET ...",
                       "misses on expired keys", "hit ratio up")  # fmt: skip


def test_low_hit_ratio_is_answered_by_ttl_and_preload_actions() -> None:
    actions = (
        _cache_action(ActionKind.COMPRESS_VALUES, "big"),
        _cache_action(ActionKind.TTL_POLICY, "rooms"),
        _cache_action(ActionKind.PRELOAD, "rates"),
    )
    result = cache_analysis(Inputs(at=T0, host=None, cache=_cache_report(50, 50, actions)), LIMITS)
    low = next(f for f in result.findings if f.check == "low_hit_ratio")
    assert low.evidence["ttl_preload_actions"] == 2
    assert [a.evidence["kind"] for a in result.actions[:2]] == ["ttl_policy", "preload"]
    healthy = cache_analysis(Inputs(at=T0, host=None, cache=_cache_report(95, 5, ())), LIMITS)
    assert healthy.state is TypeState.OK
    assert healthy.figures["hit_ratio"] == 0.95


def _counters(fp: str, calls: int, total_ms: float) -> StatementCounters:
    return StatementCounters(
        hash(fp) % 1000, 10, True, fp, f"SELECT {fp}", calls, total_ms, 1, 0, 0
    )


def _window(at: datetime, p95_s: float) -> AppSnapshot:
    stats = EndpointStats("/reservations", 100, 1.0, 0.0, p95_s / 2, p95_s, p95_s)
    return AppSnapshot(at, 300.0, (stats,))


def test_slow_endpoint_is_linked_to_the_statements_slow_in_the_same_periods() -> None:
    windows = [_window(T0 + timedelta(minutes=5 * i), p) for i, p in enumerate((0.3, 1.5, 2.5))]
    deltas = [
        WorkloadDelta("app", T0 + timedelta(minutes=5 * i - 5), T0 + timedelta(minutes=5 * i),
                      False, (_counters("slow", 10, m * 10), _counters("fast", 100, 50.0)))
        for i, m in enumerate((5.0, 60.0, 120.0))
    ]  # fmt: skip
    links = statements_behind("/reservations", windows, deltas, 1000.0, 20.0)
    assert [link.query for link in links] == ["SELECT slow"]
    assert links[0].correlation is not None
    assert links[0].correlation > 0.9
    inputs = Inputs(at=T0, host=None, app=windows[-1], app_history=tuple(windows[:-1]))
    result = api_analysis(inputs, LIMITS)
    assert result.state is TypeState.FINDINGS
    # Without deltas in the database inputs the endpoint is still named, with its p95.
    assert result.findings[0].subject == "/reservations"
    assert result.findings[0].evidence["p95_ms"] == 2500.0


def test_api_without_metrics_says_why() -> None:
    result = api_analysis(Inputs(at=T0, host=None, app_reason="URL not set"), LIMITS)
    assert result.state is TypeState.UNAVAILABLE
    assert result.reason == "URL not set"


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (Samples(150, 12.0, 2.0, "ms"), Samples(150, 0.3, 0.1, "ms"), Verdict.IMPROVED),
        (Samples(150, 12.0, 2.0, "ms"), Samples(150, 12.1, 2.0, "ms"), Verdict.NO_CHANGE),
        (Samples(150, 12.0, 2.0, "ms"), Samples(60, 40.0, 5.0, "ms"), Verdict.REGRESSED),
        (Samples(4, 12.0, 2.0, "ms"), Samples(150, 1.0, 0.1, "ms"), Verdict.INSUFFICIENT_DATA),
        # A big but noisy difference stays within the spread.
        (Samples(6, 10.0, 20.0, "ms"), Samples(6, 20.0, 20.0, "ms"), Verdict.NO_CHANGE),
    ],
)
def test_verdict_compares_means_with_their_spread(
    before: Samples, after: Samples, expected: Verdict
) -> None:
    assert judge(before, after, lower_is_better=True).verdict is expected


def test_verdict_on_hit_ratios_and_plain_samples() -> None:
    better = judge(bernoulli(600, 1000), bernoulli(900, 1000), lower_is_better=False)
    assert better.verdict is Verdict.IMPROVED
    same = of_values([50.0, 52.0, 49.0, 51.0, 50.0], "%")
    assert judge(same, same, lower_is_better=True).verdict is Verdict.NO_CHANGE


def test_score_formula() -> None:
    assert performance_score({"cpu": (50.0, 75.0)}, 0, 0).value == 100.0
    # cpu halfway from threshold to 100 %: penalty 0.5, weight 0.3 of (0.3 + 0.2 alerts).
    score = performance_score({"cpu": (87.5, 75.0), "memory": (None, 80.0)}, 0, 0)
    assert score.value == pytest.approx(70.0)
    assert score.penalties["memory"] is None
    assert performance_score({"cpu": (None, 75.0)}, 1, 0).value is None
