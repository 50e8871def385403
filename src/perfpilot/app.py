"""The one composition root: ``build`` wires the components, ``create_app`` runs them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import tempfile
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

import perfpilot
from perfpilot.api.routes import cache as cache_routes
from perfpilot.api.routes import (
    database,
    health,
    metrics,
    optimization,
    performance,
    scaling,
    scheduler,
)
from perfpilot.api.state import ServiceState
from perfpilot.appmetrics.reader import ExpositionReader, PrometheusReader
from perfpilot.cache.connection import check_redis
from perfpilot.cache.loop import CacheLoop
from perfpilot.cache.optimizer import CacheOptimizer
from perfpilot.cache.peak import CpuPeak
from perfpilot.cache.ports import PeakForecast
from perfpilot.core.clock import Clock, SystemClock
from perfpilot.core.health import HealthSource, NotInstalled
from perfpilot.core.risk import RiskPolicy
from perfpilot.core.settings import Settings
from perfpilot.core.urls import redact_url
from perfpilot.core.watch import ConnectionWatch
from perfpilot.database.activity import DatabaseActivity
from perfpilot.database.connection import check_postgres
from perfpilot.database.tuner import DatabaseTuner
from perfpilot.database.tuner_loop import TunerLoop
from perfpilot.maintenance.cleanup import RetainedRecords, Retention, SystemCleanup
from perfpilot.maintenance.database import DatabaseMaintenance
from perfpilot.maintenance.health_check import HealthCheck, HealthReader
from perfpilot.maintenance.processes import ProcessTop
from perfpilot.maintenance.quiet import QuietHours, QuietPlacement
from perfpilot.maintenance.resources import ResourceReport
from perfpilot.metrics.cache_collector import CacheCollector
from perfpilot.metrics.component_collector import ComponentCollector
from perfpilot.metrics.database_collector import DatabaseCollector
from perfpilot.metrics.registry import build_registry
from perfpilot.metrics.scheduler_metrics import SchedulerMetrics
from perfpilot.monitor.alerts import AlertEngine
from perfpilot.monitor.forecast import Forecaster
from perfpilot.monitor.history import SeriesHistory, history_capacity
from perfpilot.monitor.loop_lag import LoopLagProbe
from perfpilot.monitor.rollup import MinuteRollups
from perfpilot.monitor.sampler import HostSampler
from perfpilot.monitor.service import MonitorParts, ResourceMonitor
from perfpilot.optimizer.apply import Appliers
from perfpilot.optimizer.benchmark import Benchmark
from perfpilot.optimizer.gather import Sources
from perfpilot.optimizer.inputs import DeferredTask, Thresholds
from perfpilot.optimizer.metrics import register_optimizer_metrics
from perfpilot.optimizer.ports import AppReader
from perfpilot.optimizer.service import PerformanceOptimizer, judge_loop
from perfpilot.scaling.backends.factory import backend_for, usage_for
from perfpilot.scaling.forecast import DEMAND_LOOKBACK_DAYS, SeasonalDemand
from perfpilot.scaling.loop import ScalerLoop
from perfpilot.scaling.metrics import register_scaling_metrics
from perfpilot.scaling.parts import ScalerParts
from perfpilot.scaling.ports import AppSignals
from perfpilot.scaling.scaler import AutoScaler
from perfpilot.scaling.service import ServiceRuntime
from perfpilot.scaling.signals import AppMetricSignals
from perfpilot.scheduler.catalog import BUILTIN_TASKS, TaskRegistry, configured_tasks
from perfpilot.scheduler.engine import EngineConfig, Scheduler
from perfpilot.scheduler.status import SchedulerHealth
from perfpilot.scheduler.zone import default_zone
from perfpilot.store import Store
from perfpilot.store.audit import AuditRepository
from perfpilot.store.cache_ttl_ledger import TtlLedgerRepository
from perfpilot.store.compaction import compactor_for
from perfpilot.store.factory import open_store
from perfpilot.store.index_ledger import IndexLedgerRepository
from perfpilot.store.optimization_history import OptimizationRepository
from perfpilot.store.run_lock import run_lock_for
from perfpilot.store.scaling import ScalingRepository
from perfpilot.store.scheduler_runs import SqlRunHistory
from perfpilot.store.workload_deltas import WorkloadDeltaRepository

logger = logging.getLogger(__name__)

# Components of later issues; each replaces its entry here when it lands.
_NOT_YET_INSTALLED: tuple[str, ...] = ()

BackgroundLoop = Callable[[], Coroutine[Any, Any, None]]


@dataclass
class Service:
    """The built service: the state routes read plus the loops the lifespan runs."""

    state: ServiceState
    loops: list[BackgroundLoop] = field(default_factory=list)
    watches: list[ConnectionWatch] = field(default_factory=list)


def build_monitor(settings: Settings, store: Store, clock: Clock) -> ResourceMonitor:
    """The Resource Monitor with its sampler, history, rollups, alerts and forecaster."""
    cfg = settings.file.monitor
    capacity = history_capacity(cfg.history_hours, cfg.interval_s)
    parts = MonitorParts(
        sampler=HostSampler(clock, disk_mounts=cfg.disk_mounts, cgroup_root=cfg.cgroup_root),
        history=SeriesHistory(capacity),
        rollups=MinuteRollups(),
        alerts=AlertEngine(
            settings.file.alerts, store, horizon_min=settings.file.forecast.horizon_min
        ),
        forecaster=Forecaster(settings.file.forecast),
        store=store,
        lag_probe=LoopLagProbe(),
    )
    return ResourceMonitor(
        cfg,
        settings.file.alerts,
        settings.file.forecast,
        parts,
        clock,
        enabled=settings.monitoring_enabled,
    )


def build_scheduler(
    settings: Settings,
    store: Store,
    clock: Clock,
    monitor: ResourceMonitor,
    read_health: HealthReader,
    registry: CollectorRegistry,
    scaler: ScalerLoop | None = None,
    cache: CacheOptimizer | None = None,
    tuner: DatabaseTuner | None = None,
    activity: DatabaseActivity | None = None,
    optimizer: PerformanceOptimizer | None = None,
) -> Scheduler:
    """The Performance Scheduler with the task functions of the components built so far."""
    cfg = settings.file.scheduler
    history = SqlRunHistory(store.runner)
    functions = TaskRegistry()
    if tuner is not None:
        functions.register("run_database_maintenance", DatabaseMaintenance(tuner).run)
    retention = Retention(settings.file.monitor.rollup_retention_days, cfg.history_retention_days)
    others = [
        RetainedRecords(
            "audit entries", cfg.audit_retention_days, AuditRepository(store.runner).prune
        ),
        RetainedRecords(
            "workload deltas",
            settings.file.monitor.rollup_retention_days,
            WorkloadDeltaRepository(store.runner).prune_workload_deltas,
        ),
        RetainedRecords(
            "optimization actions",
            cfg.history_retention_days,
            OptimizationRepository(store.runner).prune,
        ),
        RetainedRecords(
            "scaling decisions",
            cfg.history_retention_days,
            ScalingRepository(store.runner).prune_decisions,
        ),
        # The seasonal forecast reads DEMAND_LOOKBACK_DAYS of demand; never prune inside it.
        RetainedRecords(
            "scaling demand minutes",
            max(settings.file.monitor.rollup_retention_days, DEMAND_LOOKBACK_DAYS),
            ScalingRepository(store.runner).prune_demand,
        ),
    ]
    cleanup = SystemCleanup(
        store, history, compactor_for(settings.store_url, store.runner), retention, clock, others
    )
    functions.register("run_system_cleanup", cleanup.run)
    report = ResourceReport(monitor.parts.forecaster.latest)
    quiet = QuietHours(
        store,
        default_zone(settings.timezone),
        cfg.quiet_window_hours,
        cfg.quiet_window_start_hour,
        clock,
    )
    # ``engine`` is assigned below, before any task can run.
    placement = QuietPlacement(quiet, lambda hour: engine.set_quiet_start(hour))

    async def resource_monitoring() -> str:
        """Top processes and forecasts, then the quiet window for ``@quiet`` tasks."""
        return f"{await report.run()}; {await placement.run()}"

    functions.register("run_resource_monitoring", resource_monitoring)
    check = HealthCheck(read_health, monitor.parts.alerts, clock)
    functions.register("run_comprehensive_health_check", check.run)
    if scaler is not None:
        functions.register("run_scaling_evaluation", scaler.run_scaling_evaluation)
    if cache is not None:
        functions.register("run_cache_optimization", cache.run_scheduled)
    if optimizer is not None:
        functions.register("run_performance_optimization", optimizer.run_scheduled)
    tasks = configured_tasks(BUILTIN_TASKS, cfg.tasks, default_zone(settings.timezone))

    def cpu_percent() -> float | None:
        latest = monitor.latest
        return None if latest is None else latest.cpu_percent

    config = EngineConfig(
        runner=f"{socket.gethostname()}:{os.getpid()}",
        max_concurrent=cfg.max_concurrent_runs,
        misfire_grace_s=cfg.misfire_grace_s,
        max_defer_s=cfg.max_defer_minutes * 60,
        busy_cpu_percent=settings.cpu_threshold,
        cron_enabled=settings.scheduler_enabled,
        quiet_start_hour=cfg.quiet_window_start_hour,
        busy_db_active_sessions=cfg.busy_db_active_sessions,
        lease_check_interval_s=cfg.lease_check_interval_s,
    )
    lock = run_lock_for(settings.store_url)
    db_active = None if activity is None else (lambda: activity.latest)
    engine = Scheduler(tasks, functions, history, lock, clock, config, cpu_percent, db_active)
    engine.add_observer(SchedulerMetrics(registry, [task.id for task in tasks]).observe)
    return engine


def build(settings: Settings, clock: Clock | None = None) -> Service:
    """Create every component once and wire them (blocking: opens and migrates the store)."""
    clock = clock or SystemClock()
    store = open_store(settings.store_url)
    store.migrate()
    monitor = build_monitor(settings, store, clock)
    registry = build_registry(monitor, monitor.parts.alerts)
    database = ConnectionWatch(
        "database",
        redact_url(settings.database_dsn),
        lambda: check_postgres(settings.database_dsn),
        clock,
    )
    cache = ConnectionWatch(
        "cache", redact_url(settings.redis_dsn), lambda: check_redis(settings.redis_dsn), clock
    )

    async def check_store() -> str:
        await asyncio.to_thread(store.ping)
        return store.describe()

    store_watch = ConnectionWatch("store", store.describe(), check_store, clock)
    tuner = build_tuner(settings, store, clock)
    activity = DatabaseActivity(settings.database_dsn)
    tuner_loop = TunerLoop(tuner, settings.file.database.snapshot_interval_s, clock)
    scaler = build_scaler(settings, store, clock, monitor.parts.alerts, build_app_signals(settings))
    scaler_loop = ScalerLoop(scaler, clock)
    register_scaling_metrics(registry, scaler)
    cache_optimizer = build_cache_optimizer(
        settings, store, clock, peak=CpuPeak(monitor.parts.forecaster.latest)
    )
    registry.register(CacheCollector(cache_optimizer))
    cache_loop = CacheLoop(cache_optimizer, settings.file.cache.interval_s, clock)
    sources: list[HealthSource] = [monitor, store_watch, database, cache, tuner_loop, scaler_loop]
    sources.append(cache_loop)
    deferrable: list[Scheduler] = []
    optimizer = build_optimizer(
        settings, store, clock, monitor, tuner, cache_optimizer, scaler,
        lambda: deferrable_due(deferrable[0], clock) if deferrable else (),
    )  # fmt: skip
    register_optimizer_metrics(registry, optimizer)
    sources.append(optimizer)
    sources += [NotInstalled(name) for name in _NOT_YET_INSTALLED]
    tasks = build_scheduler(
        settings,
        store,
        clock,
        monitor,
        lambda: [s.health() for s in sources],
        registry,
        scaler_loop,
        tuner=tuner,
        cache=cache_optimizer,
        activity=activity,
        optimizer=optimizer,
    )
    deferrable.append(tasks)
    sources.append(SchedulerHealth(tasks, clock))
    registry.register(ComponentCollector(lambda: [s.health() for s in sources]))
    registry.register(DatabaseCollector(lambda: activity.latest, lambda: tuner.workload_totals))
    state = ServiceState(
        settings=settings,
        clock=clock,
        started_at=clock.now(),
        monitor=monitor,
        alerts=monitor.parts.alerts,
        store=store,
        registry=registry,
        health_sources=sources,
        scheduler=tasks,
        tuner=tuner,
        scaler=scaler,
        cache=cache_optimizer,
        optimizer=optimizer,
        benchmark=Benchmark(
            settings.database_dsn,
            settings.redis_dsn,
            store_directory(settings.store_url),
            OptimizationRepository(store.runner),
            clock,
            settings.file.optimizer.benchmark_min_interval_s,
        ),
    )
    loops: list[BackgroundLoop] = [w.run for w in (store_watch, database, cache)]
    loops.extend([tuner_loop.run, activity.run])
    loops.append(cache_loop.run)
    loops.append(lambda: judge_loop(optimizer))
    if scaler.runtimes():
        loops.append(scaler_loop.run)
    if monitor.enabled:
        loops.append(monitor.parts.lag_probe.run)
    # Always started: with PERFORMANCE_SCHEDULER_ENABLED=false it fires nothing on cron but
    # still runs, times out and records the runs requested through the API.
    loops.append(tasks.serve)
    return Service(state=state, loops=loops, watches=[store_watch, database, cache])


def build_optimizer(
    settings: Settings,
    store: Store,
    clock: Clock,
    monitor: ResourceMonitor | None,
    tuner: DatabaseTuner | None,
    cache: CacheOptimizer | None,
    scaler: AutoScaler | None,
    deferrable: Callable[[], tuple[DeferredTask, ...]] = tuple,
) -> PerformanceOptimizer:
    """The Performance Optimizer over the other components, persisting through the store."""
    limits = Thresholds(
        cpu_usage=settings.cpu_threshold,
        memory_usage=settings.memory_threshold,
        db_connections=settings.file.thresholds.db_connections,
        cache_hit_rate=settings.file.thresholds.cache_hit_rate,
        api_response_time_ms=settings.file.thresholds.api_response_time,
        slow_query_mean_ms=settings.file.database.slow_query_mean_ms,
    )
    dsn = settings.database_dsn if tuner is not None else None
    sources = Sources(
        clock=clock,
        monitor=monitor,
        processes=ProcessTop().read,
        tuner=tuner,
        dsn=dsn,
        deltas=WorkloadDeltaRepository(store.runner),
        cache=cache,
        scaler=scaler,
        app=build_app_reader(settings),
        deferrable=deferrable,
        busy_cpu_percent=settings.cpu_threshold,
    )
    appliers = Appliers(
        clock=clock,
        tuner=tuner,
        dsn=dsn,
        database=settings.file.database,
        ledger=IndexLedgerRepository(store.runner),
        audit=AuditRepository(store.runner),
        cache=cache,
        scaler=scaler,
    )
    return PerformanceOptimizer(
        sources,
        appliers,
        limits,
        RiskPolicy(settings.auto_optimize, settings.auto_optimize_max_risk),
        OptimizationRepository(store.runner),
        monitor.parts.alerts if monitor is not None else None,
        timedelta(minutes=settings.file.optimizer.settle_minutes),
    )


def deferrable_due(scheduler: Scheduler, clock: Clock) -> tuple[DeferredTask, ...]:
    """Deferrable tasks whose next run is within the scheduler's maximum deferral."""
    now = clock.now()
    horizon = now + timedelta(seconds=scheduler.config.max_defer_s)
    due = []
    for task in scheduler.runnable():
        if not task.deferrable:
            continue
        next_run = scheduler.next_run(task, now)
        if next_run is not None and next_run <= horizon:
            due.append(DeferredTask(task.id, next_run))
    return tuple(due)


def build_app_reader(settings: Settings) -> AppReader | None:
    """The optimizer's own application-metrics reader: an exposition reader measures the time
    between its reads, so sharing the scaler's would split the windows."""
    cfg = settings.file.appmetrics
    if settings.prometheus_url:
        return PrometheusReader(settings.prometheus_url, cfg)
    if settings.api_metrics_url:
        return ExpositionReader(settings.api_metrics_url, cfg)
    return None


def store_directory(store_url: str) -> Path:
    """The directory of a SQLite store's file; the temporary directory otherwise."""
    if store_url.startswith("sqlite:///"):
        return Path(store_url.removeprefix("sqlite:///")).resolve().parent
    return Path(tempfile.gettempdir())


def build_cache_optimizer(
    settings: Settings,
    store: Store,
    clock: Clock,
    url: str | None = None,
    peak: PeakForecast | None = None,
) -> CacheOptimizer:
    """The Cache Optimizer on ``url`` (default REDIS_URL), persisting through the store;
    ``peak`` (the monitor's CPU forecast in the service) lets it preload before a peak."""
    return CacheOptimizer(
        url or settings.redis_dsn,
        redact_url(url or settings.redis_dsn),
        settings.file.cache,
        settings.cache_managed_prefixes,
        clock,
        AuditRepository(store.runner),
        TtlLedgerRepository(store.runner),
        RiskPolicy(settings.auto_optimize, settings.auto_optimize_max_risk),
        min_hit_ratio=settings.file.thresholds.cache_hit_rate,
        peak=peak,
    )


def build_tuner(
    settings: Settings, store: Store, clock: Clock, dsn: str | None = None
) -> DatabaseTuner:
    """The Database Tuner on ``dsn`` (default DATABASE_URL), persisting through the store."""
    return DatabaseTuner(
        dsn or settings.database_dsn,
        settings.file.database,
        clock,
        WorkloadDeltaRepository(store.runner),
        IndexLedgerRepository(store.runner),
        AuditRepository(store.runner),
        RiskPolicy(settings.auto_optimize, settings.auto_optimize_max_risk),
        cgroup_root=settings.file.monitor.cgroup_root,
    )


def build_app_signals(settings: Settings) -> AppSignals | None:
    """Application signals from PERFORMANCE_PROMETHEUS_URL, else PERFORMANCE_API_METRICS_URL."""
    cfg = settings.file.appmetrics
    if settings.prometheus_url:
        return AppMetricSignals(PrometheusReader(settings.prometheus_url, cfg), cfg.queue_metric)
    if settings.api_metrics_url:
        return AppMetricSignals(ExpositionReader(settings.api_metrics_url, cfg), cfg.queue_metric)
    return None


def build_scaler(
    settings: Settings,
    store: Store | None,
    clock: Clock,
    alerts: AlertEngine | None = None,
    signals: AppSignals | None = None,
) -> AutoScaler:
    """The Auto Scaler over the configured services; executes only with AUTO_SCALING_ENABLED.

    Blocking: reloads stored rule overrides, recent decisions and demand history.
    """
    cfg = settings.file.scaling
    runtimes = []
    for service in cfg.services:
        backend = backend_for(service)
        usage = usage_for(service, backend, clock.monotonic)
        runtimes.append(ServiceRuntime(service, backend, usage))
    repository = ScalingRepository(store.runner) if store is not None else None
    parts = ScalerParts(
        clock=clock,
        signals=signals,
        demand=SeasonalDemand(repository),
        records=repository,
        overrides=repository,
        audit=AuditRepository(store.runner) if store is not None else None,
        alerts=alerts,
    )
    scaler = AutoScaler(cfg, runtimes, parts, enabled=settings.auto_scaling_enabled)
    scaler.restore()
    return scaler


@contextlib.asynccontextmanager
async def _run(app: FastAPI, settings: Settings, clock: Clock | None) -> AsyncIterator[None]:
    service = await asyncio.to_thread(build, settings, clock)
    state = service.state
    app.state.perfpilot = state
    await asyncio.to_thread(state.monitor.restore)
    state.monitor.start()
    tasks = [asyncio.create_task(loop(), name=loop.__qualname__) for loop in service.loops]
    logger.info(
        "perfpilot %s started: monitoring %s, store %s",
        perfpilot.__version__,
        "on" if state.monitor.enabled else "off",
        state.store.describe(),
    )
    try:
        yield
    finally:
        await _stop_tasks(tasks)
        await asyncio.to_thread(state.monitor.stop)
        await asyncio.to_thread(state.store.close)
        logger.info("perfpilot stopped")


async def _stop_tasks(tasks: list[asyncio.Task[None]], timeout_s: float = 10.0) -> None:
    """Cancel the background loops and wait for them, bounded: shutdown must not hang."""
    for task in tasks:
        task.cancel()
    if not tasks:
        return
    done, pending = await asyncio.wait(tasks, timeout=timeout_s)
    for task in pending:
        logger.error("background loop %s did not stop within %.0fs", task.get_name(), timeout_s)
    for task in done:
        if not task.cancelled() and task.exception() is not None:
            logger.error("background loop %s ended with %r", task.get_name(), task.exception())


def create_app(settings: Settings, clock: Clock | None = None) -> FastAPI:
    """The FastAPI app; components are built and started by its lifespan."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with _run(app, settings, clock):
            yield

    app = FastAPI(
        title="perfpilot",
        version=perfpilot.__version__,
        description="Performance autopilot for FastAPI + PostgreSQL + Redis services.",
        lifespan=lifespan,
    )
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(performance.router)
    app.include_router(optimization.router)
    app.include_router(database.router)
    app.include_router(scheduler.router)
    app.include_router(scaling.router)
    app.include_router(cache_routes.router)
    return app
