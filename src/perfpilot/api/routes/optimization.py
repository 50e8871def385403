"""/api/v1/performance: the Performance Optimizer's recommendations, report, execute and the
benchmark (the specification's paths)."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from perfpilot.api.auth import Writer
from perfpilot.api.deps import State
from perfpilot.api.optimize_body import OptimizeBody
from perfpilot.api.optimizer_models import (
    ActionRecordOut,
    BenchmarkOut,
    BenchmarkRunOut,
    CurrentValueOut,
    DatabaseOptimizationOut,
    ExecuteOut,
    OptimizationReportOut,
    PriorityActionOut,
    RecommendationsOut,
    ReportCountsOut,
    TypeAnalysisOut,
)
from perfpilot.api.state import ServiceState
from perfpilot.core.risk import Trigger
from perfpilot.optimizer.benchmark import MAX_DURATION_S, Benchmark, RateLimited
from perfpilot.optimizer.model import ALL_TYPES, Action, Analysis, Category, Level
from perfpilot.optimizer.service import OptimizationBusy, PerformanceOptimizer

router = APIRouter(prefix="/api/v1/performance", tags=["optimizer"])

_ORDER = {Level.HIGH: 0, Level.MEDIUM: 1, Level.LOW: 2}
_ALTER = re.compile(r"ALTER SYSTEM SET (\w+) = '(.*)'")


def _optimizer(state: ServiceState) -> PerformanceOptimizer:
    if state.optimizer is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the optimizer is not built")
    return state.optimizer


def _priority(actions: tuple[Action, ...]) -> list[Action]:
    """High impact first, then low effort, then low risk."""
    return sorted(actions, key=lambda a: (_ORDER[a.impact], -_ORDER[a.effort], a.risk != "low"))


def recommendations(analysis: Analysis) -> RecommendationsOut:
    """The specification's example shape, drawn from one analysis."""
    system, indexes, configuration, cache = [], [], [], []
    for part in analysis.types:
        for a in part.actions:
            if a.category is Category.CACHE:
                cache.append(f"{a.title}: {a.reason}")
            elif a.category is Category.DATABASE and a.statement.startswith("CREATE INDEX"):
                indexes.append(a.statement)
            elif a.category is Category.DATABASE and (m := _ALTER.match(a.statement)):
                configuration.append(f"{m.group(1)} = {m.group(2)}")
            elif a.category is not Category.DATABASE:
                system.append(a.title)
        system += [f.message for f in part.findings if part.type.value in ("cpu", "memory", "api")]
    return RecommendationsOut(
        generated_at=analysis.generated_at,
        system_optimization=system,
        database_optimization=DatabaseOptimizationOut(indexes=indexes, configuration=configuration),
        cache_optimization=cache,
        priority_actions=[PriorityActionOut.of(a) for a in _priority(analysis.actions)],
        unavailable={p.type.value: p.reason for p in analysis.types if p.reason},
    )


@router.get("/recommendations", response_model=RecommendationsOut)
async def get_recommendations(state: State) -> RecommendationsOut:
    """Consolidated recommendations of every component, with priority actions."""
    return recommendations(await _optimizer(state).analyze())


@router.post("/optimization/execute", response_model=ExecuteOut)
async def execute_optimization(state: State, _: Writer, body: OptimizeBody) -> ExecuteOut:
    """Plan (force=false) or apply (force=true, up to medium risk) for the chosen types."""
    optimizer = _optimizer(state)
    types = tuple(body.optimization_types or ALL_TYPES)
    trigger = Trigger.FORCED if body.force else Trigger.REQUEST
    try:
        run = await optimizer.execute(trigger, types, body.actions)
    except OptimizationBusy as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    return ExecuteOut(
        applied=run.applied,
        optimization_types=[t.value for t in types],
        analysis=[TypeAnalysisOut.of(t) for t in run.analysis.types],
        actions=[ActionRecordOut.of(r) for r in run.records],
    )


@router.get("/optimization/report", response_model=OptimizationReportOut)
async def optimization_report(
    state: State,
    since: Annotated[
        datetime | None, Query(description="Start of the window (default: 24 hours ago)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> OptimizationReportOut:
    """Counts by type, status and verdict; each action with evidence, before/after, verdict;
    the current values against the thresholds."""
    optimizer = _optimizer(state)
    now = state.clock.now()
    start = since or now - timedelta(hours=24)
    if start.tzinfo is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "since needs a timezone")
    records = await optimizer.history(start, limit)
    return OptimizationReportOut(
        since=start,
        generated_at=now,
        total=len(records),
        counts=ReportCountsOut(
            by_type=dict(Counter(r.type for r in records)),
            by_status=dict(Counter(r.status.value for r in records)),
            by_verdict=dict(Counter(r.verdict for r in records if r.verdict is not None)),
        ),
        actions=[ActionRecordOut.of(r) for r in records],
        current=_current(state),
    )


def _current(state: ServiceState) -> list[CurrentValueOut]:
    s, latest = state.settings, state.monitor.latest
    disk = max((d.percent for d in latest.disks), default=None) if latest else None
    values = [
        ("cpu_usage", latest.cpu_percent if latest else None, s.cpu_threshold, "%"),
        ("memory_usage", latest.memory_percent if latest else None, s.memory_threshold, "%"),
        ("disk_usage", disk, s.disk_threshold, "%"),
    ]
    cache = state.cache.latest_report if state.cache else None
    ratio = cache.window.hit_ratio if cache and cache.window else None
    values.append(("cache_hit_rate", ratio, s.file.thresholds.cache_hit_rate, "ratio"))
    out = [
        CurrentValueOut(name=n, value=v, threshold=t, unit=u, exceeded=None if v is None else v > t)
        for n, v, t, u in values
    ]
    # A hit rate is a floor, not a ceiling.
    return [
        o.model_copy(update={"exceeded": None if o.value is None else o.value < o.threshold})
        if o.name == "cache_hit_rate"
        else o
        for o in out
    ]


def _benchmark(state: ServiceState) -> Benchmark:
    if state.benchmark is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the benchmark is not built")
    return state.benchmark


@router.get("/benchmark", response_model=BenchmarkOut)
async def run_benchmark(
    state: State,
    _: Writer,
    duration_s: Annotated[float, Query(gt=0, le=MAX_DURATION_S, description="Seconds")] = 5.0,
) -> BenchmarkOut:
    """PostgreSQL round trip and reference query, Redis SET/GET 1 KB, fsync, CPU loop."""
    try:
        run, previous = await _benchmark(state).run(duration_s)
    except RateLimited as exc:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            str(exc),
            headers={"Retry-After": str(int(exc.retry_after_s) + 1)},
        ) from exc
    return BenchmarkOut(
        units={"p50_ms": "milliseconds", "p99_ms": "milliseconds", "ops_per_s": "operations/s"},
        run=BenchmarkRunOut.of(run),
        previous=BenchmarkRunOut.of(previous) if previous else None,
    )
