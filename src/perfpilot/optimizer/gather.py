"""Collects the analysis inputs from the components; a component that fails gives its reason
instead of figures, and the others still answer. Blocking reads run in worker threads."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Sequence, Set
from dataclasses import dataclass, field
from datetime import timedelta

import psycopg
import redis.exceptions

from perfpilot.appmetrics.model import AppSnapshot
from perfpilot.cache.optimizer import CacheOptimizer
from perfpilot.cache.report import CacheReport
from perfpilot.core.clock import Clock
from perfpilot.database.connection import APPLICATION_NAME
from perfpilot.database.tuner import DatabaseTuner
from perfpilot.database.workload_delta import WorkloadDelta
from perfpilot.monitor.service import ResourceMonitor
from perfpilot.optimizer.inputs import (
    DatabaseInputs,
    DeferredTask,
    HostInputs,
    Inputs,
    ProcessReading,
)
from perfpilot.optimizer.model import OptimizationType as T
from perfpilot.optimizer.ports import AppReader, StatementDeltas
from perfpilot.scaling.model import ScalingDecision
from perfpilot.scaling.scaler import AutoScaler

logger = logging.getLogger(__name__)

# Every client backend of the target database (idle ones hold memory and a slot too), and the
# two settings whose product bounds sort/hash memory.
_DB_FIGURES = """/* perfpilot */
SELECT (SELECT count(*) FROM pg_stat_activity
        WHERE datname = current_database() AND backend_type = 'client backend'
          AND pid <> pg_backend_pid()),
       current_setting('max_connections')::int,
       pg_size_bytes(current_setting('work_mem'))"""
# Correlation of endpoints with statements looks this far back.
CORRELATION_WINDOW = timedelta(hours=1)
APP_HISTORY = 12


@dataclass
class Sources:
    """The components the optimizer reads; None where one is not built (with ``why``)."""

    clock: Clock
    monitor: ResourceMonitor | None = None
    processes: Callable[[], Sequence[ProcessReading]] | None = None
    tuner: DatabaseTuner | None = None
    dsn: str | None = None
    deltas: StatementDeltas | None = None
    cache: CacheOptimizer | None = None
    scaler: AutoScaler | None = None
    app: AppReader | None = None
    app_missing: str = "PERFORMANCE_API_METRICS_URL / PERFORMANCE_PROMETHEUS_URL not set"
    deferrable: Callable[[], tuple[DeferredTask, ...]] = tuple
    busy_cpu_percent: float = 75.0
    app_history: deque[AppSnapshot] = field(default_factory=lambda: deque(maxlen=APP_HISTORY))


def read_db_figures(dsn: str) -> tuple[int, int, int]:
    """(client backends, max_connections, work_mem bytes) of the target database (blocking)."""
    with psycopg.connect(
        dsn, autocommit=True, connect_timeout=5, application_name=APPLICATION_NAME
    ) as conn:
        row = conn.execute(_DB_FIGURES).fetchone()
    if row is None:
        raise LookupError("pg_stat_activity returned no row")
    return int(row[0]), int(row[1]), int(row[2])


async def gather(src: Sources, types: Set[T]) -> Inputs:
    now = src.clock.now()
    host, host_reason = await _host(src)
    not_requested: str | None = "not requested"
    db, db_reason = None, not_requested
    if types & {T.CPU, T.MEMORY, T.DATABASE, T.API}:
        db, db_reason = await _database(src)
    cache, cache_reason = None, not_requested
    if types & {T.MEMORY, T.CACHE}:
        cache, cache_reason = await _cache(src)
    app, app_reason = None, not_requested
    if T.API in types:
        app, app_reason = await _app(src)
    history = tuple(src.app_history)
    if app is not None and app.reason is None:
        src.app_history.append(app)
    scaling, scaling_reason = None, not_requested
    if T.CPU in types:
        scaling, scaling_reason = await _scaling(src)
    return Inputs(
        at=now, host=host, host_reason=host_reason, database=db, database_reason=db_reason,
        cache=cache, cache_reason=cache_reason, app=app, app_reason=app_reason,
        app_history=history, scaling=scaling, scaling_reason=scaling_reason,
        deferrable=src.deferrable(), busy_cpu_percent=src.busy_cpu_percent,
    )  # fmt: skip


async def _host(src: Sources) -> tuple[HostInputs | None, str | None]:
    if src.monitor is None:
        return None, "the resource monitor is not built"
    latest = src.monitor.latest
    if latest is None:
        return None, src.monitor.health().reason or "no sample yet"
    procs: Sequence[ProcessReading] = ()
    if src.processes is not None:
        procs = await asyncio.to_thread(src.processes)
    host = HostInputs(
        latest.cpu_percent, latest.memory_percent, latest.memory_total_bytes, tuple(procs)
    )
    return host, None


async def _database(src: Sources) -> tuple[DatabaseInputs | None, str | None]:
    if src.tuner is None or src.dsn is None:
        return None, "the database tuner is not built (DATABASE_URL not set)"
    try:
        report = await asyncio.to_thread(src.tuner.report)
        backends, max_conn, work_mem = await asyncio.to_thread(read_db_figures, src.dsn)
    except (psycopg.Error, LookupError) as exc:
        logger.warning("optimizer: database not read: %s", exc)
        return None, f"target database unavailable: {exc}"
    deltas: tuple[WorkloadDelta, ...] = ()
    if src.deltas is not None:
        since = src.clock.now() - CORRELATION_WINDOW
        deltas = tuple(
            await asyncio.to_thread(src.deltas.load_workload_deltas, report.database, since)
        )
    return DatabaseInputs(report, backends, max_conn, work_mem, deltas), None


async def _cache(src: Sources) -> tuple[CacheReport | None, str | None]:
    if src.cache is None:
        return None, "the cache optimizer is not built (REDIS_URL not set)"
    try:
        return await src.cache.report(), None
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        logger.warning("optimizer: cache not read: %s", exc)
        return None, f"target Redis unavailable: {exc}"


async def _app(src: Sources) -> tuple[AppSnapshot | None, str | None]:
    if src.app is None:
        return None, src.app_missing
    snapshot = await asyncio.to_thread(src.app.read, src.clock.now())
    return snapshot, snapshot.reason


async def _scaling(src: Sources) -> tuple[tuple[ScalingDecision, ...] | None, str | None]:
    if src.scaler is None or not src.scaler.runtimes():
        return None, "no scaled services configured ([[scaling.services]])"
    return tuple(await asyncio.to_thread(src.scaler.evaluate)), None
