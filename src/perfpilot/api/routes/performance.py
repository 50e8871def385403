"""/api/v1/performance: metrics, alerts and status (the specification's paths)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Query, status

import perfpilot
from perfpilot.api.auth import Writer
from perfpilot.api.deps import State
from perfpilot.api.models import (
    AlertLevelOut,
    AlertOut,
    AlertsOut,
    AlertSummaryOut,
    AlertThresholdsOut,
    ComponentOut,
    CurrentOut,
    ForecastOut,
    HistoryOut,
    MetricsOut,
    OptimizationThresholdsOut,
    ResolveIn,
    ScheduledTaskOut,
    ScoreOut,
    StatusOut,
    ThresholdsOut,
)
from perfpilot.api.state import ServiceState
from perfpilot.core.errors import ConflictError, NotFoundError
from perfpilot.core.health import HealthState, overall
from perfpilot.core.settings import AlertLevels
from perfpilot.monitor.model import AlertStatus, Severity
from perfpilot.monitor.sample import CPU, DISK_PREFIX, MEMORY, SWAP
from perfpilot.optimizer.score import FORMULA, performance_score
from perfpilot.scheduler.status import task_views

router = APIRouter(prefix="/api/v1/performance", tags=["performance"])

MAX_POINTS = 500


def _thresholds(state: ServiceState) -> ThresholdsOut:
    s, alerts = state.settings, state.settings.file.alerts

    def level(levels: AlertLevels) -> AlertLevelOut:
        return AlertLevelOut(warning=levels.warning, critical=levels.critical, for_s=levels.for_s)

    return ThresholdsOut(
        optimization=OptimizationThresholdsOut(
            cpu_usage=s.cpu_threshold,
            memory_usage=s.memory_threshold,
            disk_usage=s.disk_threshold,
            db_connections=s.file.thresholds.db_connections,
            cache_hit_rate=s.file.thresholds.cache_hit_rate,
            api_response_time=s.file.thresholds.api_response_time,
        ),
        alerts=AlertThresholdsOut(
            cpu=level(alerts.cpu),
            memory=level(alerts.memory),
            disk=level(alerts.disk),
            swap=level(alerts.swap),
            alert_cooldown_s=alerts.alert_cooldown_s,
            hysteresis_percent=alerts.hysteresis_percent,
        ),
    )


def _default_series(names: list[str]) -> list[str]:
    return [n for n in names if n in (CPU, MEMORY, SWAP) or n.startswith(DISK_PREFIX)]


@router.get("/metrics", response_model=MetricsOut)
def current_metrics(
    state: State,
    minutes: Annotated[
        float, Query(gt=0, description="History window in minutes, ending now (default 15)")
    ] = 15,
    series: Annotated[
        list[str] | None,
        Query(description="Series to return; default the percent levels (cpu, memory, disk:…)"),
    ] = None,
    max_points: Annotated[int, Query(ge=1, le=MAX_POINTS)] = MAX_POINTS,
) -> MetricsOut:
    """Current values, thresholds, a history window and forecasts."""
    history = state.monitor.parts.history
    limit_min = state.settings.file.monitor.history_hours * 60
    if minutes > limit_min:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"minutes={minutes:g} exceeds the {limit_min:g}-minute history kept in memory",
        )
    known = history.series_names()
    if series:
        unknown = sorted(set(series) - set(known))
        if unknown:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"series: unknown {unknown}; known series are {sorted(known)}",
            )
    wanted = series or _default_series(known)
    now = state.clock.now()
    since = now - timedelta(minutes=minutes)
    window = history.window(wanted, since, now, max_points)
    latest = state.monitor.latest
    monitor_health = state.monitor.health()
    return MetricsOut(
        timestamp=now,
        monitoring=monitor_health.state,
        current=CurrentOut.of(latest) if latest else None,
        current_reason=None if latest else monitor_health.reason,
        thresholds=_thresholds(state),
        history=HistoryOut(
            since=since,
            until=now,
            points=len(window.timestamps),
            max_points=max_points,
            timestamps=list(window.timestamps),
            series={name: list(values) for name, values in window.series.items()},
        ),
        forecasts=[ForecastOut.model_validate(f) for f in state.monitor.parts.forecaster.latest()],
    )


@router.get("/alerts", response_model=AlertsOut)
def list_alerts(
    state: State,
    status_: Annotated[AlertStatus | None, Query(alias="status")] = None,
    severity: Severity | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AlertsOut:
    """Alerts newest first, filtered by status and severity."""
    alerts = state.store.list_alerts(status=status_, severity=severity, limit=limit)
    return AlertsOut(count=len(alerts), alerts=[AlertOut.model_validate(a) for a in alerts])


@router.post("/alerts/{alert_id}/resolve", response_model=AlertOut)
def resolve_alert(
    alert_id: str,
    state: State,
    _: Writer,
    body: Annotated[ResolveIn | None, Body()] = None,
) -> AlertOut:
    """Resolve a firing alert by hand, with an optional comment."""
    comment = body.comment if body else None
    try:
        alert = state.alerts.resolve(alert_id, comment, state.clock.now())
    except NotFoundError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except ConflictError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    return AlertOut.model_validate(alert)


def _score(state: ServiceState, counts: dict[Severity, int]) -> ScoreOut:
    latest, s = state.monitor.latest, state.settings
    disk = max((d.percent for d in latest.disks), default=None) if latest else None
    score = performance_score(
        {
            "cpu": (latest.cpu_percent if latest else None, s.cpu_threshold),
            "memory": (latest.memory_percent if latest else None, s.memory_threshold),
            "disk": (disk, s.disk_threshold),
        },
        critical=counts.get(Severity.CRITICAL, 0),
        warning=counts.get(Severity.WARNING, 0),
    )
    return ScoreOut(value=score.value, formula=FORMULA, components=score.penalties)


@router.get("/status", response_model=StatusOut)
def service_status(state: State) -> StatusOut:
    """Overall state, every component's health and the firing alerts."""
    components = state.health()
    counts = state.alerts.counts_by_severity()
    now = state.clock.now()
    pending = [c.name for c in components if c.state is HealthState.NOT_CONFIGURED]
    notes = [f"{name}: not installed in this version" for name in pending]
    return StatusOut(
        status=overall(components),
        timestamp=now,
        version=perfpilot.__version__,
        uptime_s=(now - state.started_at).total_seconds(),
        components=[ComponentOut.model_validate(c) for c in components],
        active_alerts=AlertSummaryOut(
            firing=sum(counts.values()), by_severity={sev: counts.get(sev, 0) for sev in Severity}
        ),
        optimization_actions_today=(
            state.optimizer.actions_today(now) if state.optimizer is not None else None
        ),
        performance_score=_score(state, counts),
        notes=notes,
        scheduled_tasks=_scheduled_tasks(state, now),
    )


def _scheduled_tasks(state: ServiceState, now: datetime) -> list[ScheduledTaskOut]:
    if state.scheduler is None:
        return []
    return [
        ScheduledTaskOut(
            id=view.task.id,
            name=view.task.name,
            cron_expression=view.task.cron_expression,
            enabled=view.task.enabled,
            next_run_at=view.next_run_at,
            unavailable_reason=view.unavailable,
            active=view.active_state,
        )
        for view in task_views(state.scheduler, now)
    ]
