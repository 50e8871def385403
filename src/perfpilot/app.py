"""The one composition root: ``build`` wires the components, ``create_app`` runs them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI

import perfpilot
from perfpilot.api.routes import health, metrics, performance
from perfpilot.api.state import ServiceState
from perfpilot.cache.connection import check_redis
from perfpilot.core.clock import Clock, SystemClock
from perfpilot.core.health import HealthSource, NotInstalled
from perfpilot.core.settings import Settings
from perfpilot.core.watch import ConnectionWatch
from perfpilot.database.connection import check_postgres
from perfpilot.metrics.registry import build_registry
from perfpilot.monitor.alerts import AlertEngine
from perfpilot.monitor.forecast import Forecaster
from perfpilot.monitor.history import SeriesHistory, history_capacity
from perfpilot.monitor.loop_lag import LoopLagProbe
from perfpilot.monitor.rollup import MinuteRollups
from perfpilot.monitor.sampler import HostSampler
from perfpilot.monitor.service import MonitorParts, ResourceMonitor
from perfpilot.store import Store
from perfpilot.store.factory import open_store

logger = logging.getLogger(__name__)

# Components of later issues; each replaces its entry here when it lands.
_NOT_YET_INSTALLED = (
    "database_tuner",
    "cache_optimizer",
    "auto_scaler",
    "scheduler",
    "performance_optimizer",
)

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


def build(settings: Settings, clock: Clock | None = None) -> Service:
    """Create every component once and wire them (blocking: opens and migrates the store)."""
    clock = clock or SystemClock()
    store = open_store(settings.store_url)
    store.migrate()
    monitor = build_monitor(settings, store, clock)
    registry = build_registry(monitor, monitor.parts.alerts)
    database = ConnectionWatch(
        "database",
        _redact(settings.database_dsn),
        lambda: check_postgres(settings.database_dsn),
        clock,
    )
    cache = ConnectionWatch(
        "cache", _redact(settings.redis_dsn), lambda: check_redis(settings.redis_dsn), clock
    )

    async def check_store() -> str:
        await asyncio.to_thread(store.ping)
        return store.describe()

    store_watch = ConnectionWatch("store", store.describe(), check_store, clock)
    sources: list[HealthSource] = [monitor, store_watch, database, cache]
    sources += [NotInstalled(name) for name in _NOT_YET_INSTALLED]
    state = ServiceState(
        settings=settings,
        clock=clock,
        started_at=clock.now(),
        monitor=monitor,
        alerts=monitor.parts.alerts,
        store=store,
        registry=registry,
        health_sources=sources,
    )
    loops: list[BackgroundLoop] = [w.run for w in (store_watch, database, cache)]
    if monitor.enabled:
        loops.append(monitor.parts.lag_probe.run)
    return Service(state=state, loops=loops, watches=[store_watch, database, cache])


def _redact(dsn: str) -> str:
    """The URL without its password, for logs and /readyz."""
    scheme, sep, rest = dsn.partition("://")
    if not sep or "@" not in rest:
        return dsn
    credentials, _, location = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}@{location}" if user else f"{scheme}://{location}"


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
    return app
