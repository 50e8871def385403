"""The Performance Optimizer: analyse, execute within the risk classes, judge, keep history."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
import redis.exceptions

from perfpilot.core.clock import Clock
from perfpilot.core.errors import PerfpilotError
from perfpilot.core.health import ComponentHealth, HealthState
from perfpilot.core.risk import RiskPolicy, Trigger, permits
from perfpilot.monitor.model import AlertKind, Severity
from perfpilot.optimizer import probes
from perfpilot.optimizer.analyze_api import api_analysis
from perfpilot.optimizer.analyze_data import cache_analysis, database_analysis
from perfpilot.optimizer.analyze_host import cpu_analysis, memory_analysis
from perfpilot.optimizer.apply import Appliers
from perfpilot.optimizer.gather import Sources, gather
from perfpilot.optimizer.inputs import Thresholds
from perfpilot.optimizer.model import ALL_TYPES, Action, Analysis, Executor, OptimizationType
from perfpilot.optimizer.ports import ActionHistory, EventAlerts
from perfpilot.optimizer.records import ActionRecord, ActionStatus, Figures, from_json, to_json
from perfpilot.optimizer.verdict import Verdict, judge

logger = logging.getLogger(__name__)

Observer = Callable[[str, str, float | None], None]


class OptimizationBusy(RuntimeError):
    """Another optimization run is in progress (HTTP 409)."""


@dataclass(frozen=True, slots=True)
class Run:
    analysis: Analysis
    records: tuple[ActionRecord, ...]
    applied: bool


class PerformanceOptimizer:
    def __init__(
        self,
        sources: Sources,
        appliers: Appliers,
        limits: Thresholds,
        policy: RiskPolicy,
        history: ActionHistory,
        alerts: EventAlerts | None,
        settle: timedelta,
    ) -> None:
        self.sources, self.appliers, self.limits = sources, appliers, limits
        self._policy, self._history, self._alerts, self._settle = policy, history, alerts, settle
        self._clock: Clock = sources.clock
        self._lock = asyncio.Lock()
        self._observers: list[Observer] = []
        self.last_run_at: datetime | None = None
        self.last_error: str | None = None

    def add_observer(self, observer: Observer) -> None:
        """``observer(type, status, duration_s)``: per action (duration None) and per run."""
        self._observers.append(observer)

    @property
    def running(self) -> bool:
        return self._lock.locked()

    async def analyze(self, types: Collection[OptimizationType] = ALL_TYPES) -> Analysis:
        """Findings and actions for each requested type; unavailable parts say why."""
        wanted = set(types)
        inputs = await gather(self.sources, wanted)
        limits = self.limits
        db = database_analysis(inputs, limits)
        parts = {
            OptimizationType.CPU: lambda: cpu_analysis(inputs, limits),
            OptimizationType.MEMORY: lambda: memory_analysis(inputs, limits),
            OptimizationType.DATABASE: lambda: db,
            OptimizationType.CACHE: lambda: cache_analysis(inputs, limits),
            OptimizationType.API: lambda: api_analysis(inputs, limits, db.actions),
        }
        return Analysis(inputs.at, tuple(parts[t]() for t in ALL_TYPES if t in wanted))

    async def execute(
        self,
        trigger: Trigger,
        types: Collection[OptimizationType] = ALL_TYPES,
        action_ids: Collection[str] | None = None,
    ) -> Run:
        """Analyse, then apply what the risk policy allows for ``trigger``; raises
        OptimizationBusy when a run is already in progress."""
        if self._lock.locked():
            raise OptimizationBusy("an optimization run is already in progress")
        async with self._lock:
            started = time.perf_counter()
            analysis = await self.analyze(types)
            chosen = [a for a in analysis.actions if action_ids is None or a.id in action_ids]
            records = [await self._one(a, trigger) for a in chosen]
            self.last_run_at = self._clock.now()
            self._notify("all", "run", time.perf_counter() - started)
            return Run(analysis, tuple(records), trigger is not Trigger.REQUEST)

    async def _one(self, action: Action, trigger: Trigger) -> ActionRecord:
        now = self._clock.now()
        if action.executor is Executor.ADVICE:
            return await self._save(
                ActionRecord.of(action, trigger, ActionStatus.ADVICE, action.reason, now)
            )
        permission = permits(self._policy, action.risk, trigger)
        if not permission.allowed:
            status = ActionStatus.PLANNED if trigger is Trigger.REQUEST else ActionStatus.SKIPPED
            return await self._save(
                ActionRecord.of(action, trigger, status, permission.reason, now)
            )
        before = await self._measure(action.executor, action.queryids, None, now)
        result = await self.appliers.apply(action, trigger)
        record = ActionRecord.of(action, trigger, result.status, result.detail, now)
        if result.status is ActionStatus.APPLIED:
            record = record.with_(before=before, settle_until=now + self._settle)
            self._alert(record)
        self._notify(action.type.value, result.status.value, None)
        return await self._save(record)

    async def judge(self) -> list[ActionRecord]:
        """Verdicts for applied actions past their settle period; regressed ones reverted."""
        now = self._clock.now()
        done = []
        for record in await self.history(now - timedelta(days=7), 1000):
            if not record.pending or record.settle_until is None or record.settle_until > now:
                continue
            done.append(await self._judge_one(record, now))
        return done

    async def _judge_one(self, record: ActionRecord, now: datetime) -> ActionRecord:
        executor = Executor(record.executor)
        after = await self._measure(executor, record.queryids, record, now)
        if not record.before or not after:
            verdict, reason = Verdict.INSUFFICIENT_DATA, "this action has no measurable figure"
        else:
            j = judge(probes.figures_samples(record.before), probes.figures_samples(after),
                      bool(record.before.get("lower_is_better")))  # fmt: skip
            verdict, reason = j.verdict, j.reason
        updated = record.with_(after=after, verdict=verdict.value, verdict_reason=reason,
                               judged_at=now)  # fmt: skip
        if verdict is Verdict.REGRESSED and record.reversible:
            undone = await self.appliers.revert(record, reason)
            updated = updated.with_(
                status=undone.status, detail=f"{record.detail}; {undone.detail}"
            )
            self._notify(record.type, undone.status.value, None)
        if self._alerts is not None:
            self._alerts.clear_event(AlertKind.OPTIMIZATION, _resource(record), now)
        logger.info("optimization %s judged %s: %s", record.title, verdict.value, reason)
        return await self._save(updated)

    async def _measure(
        self, executor: Executor, queryids: tuple[int, ...], base: ActionRecord | None,
        now: datetime,
    ) -> Figures:  # fmt: skip
        """Figures for the action's metric; empty when it has none (or it cannot be read)."""
        start = None if base is None else base.before
        src = self.sources
        if executor is Executor.DATABASE and queryids and src.dsn:
            return await asyncio.to_thread(probes.statement_times, src.dsn, queryids, start)
        if executor is Executor.CACHE and src.cache is not None:
            async with src.cache.connect() as client:
                info = await client.info("stats")
            return probes.hit_ratio(int(info["keyspace_hits"]), int(info["keyspace_misses"]), start)
        if executor is Executor.SCALING and src.monitor is not None:
            if base is None:
                return probes.cpu_window(src.monitor, now - probes.BEFORE_WINDOW, now)
            return probes.cpu_window(src.monitor, base.at, now)
        return {}

    def _alert(self, record: ActionRecord) -> None:
        if self._alerts is None:
            return
        message = f"optimization executed: {record.title} ({record.trigger}); verdict after settle"
        self._alerts.raise_event(AlertKind.OPTIMIZATION, _resource(record), Severity.INFO,
                                 message, record.at)  # fmt: skip

    async def _save(self, record: ActionRecord) -> ActionRecord:
        body = to_json(record)
        await asyncio.to_thread(
            self._history.save_action, record.id, record.at, record.type, record.status.value, body
        )
        return record

    async def history(self, since: datetime, limit: int = 1000) -> list[ActionRecord]:
        rows = await asyncio.to_thread(self._history.actions_since, since, limit)
        return [from_json(r) for r in rows]

    def actions_today(self, now: datetime) -> int:
        """Actions applied since midnight UTC (reverted ones were applied too). Blocking."""
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return sum(self._history.count_actions(midnight, s) for s in ("applied", "reverted"))

    async def run_scheduled(self) -> str:
        """The ``run_performance_optimization`` task: judge what settled, then a scheduled run."""
        judged = await self.judge()
        try:
            run = await self.execute(Trigger.SCHEDULED)
        except OptimizationBusy as exc:
            return f"judged {len(judged)}; skipped the run: {exc}"
        counts: dict[str, int] = {}
        for r in run.records:
            counts[r.status.value] = counts.get(r.status.value, 0) + 1
        findings = sum(len(t.findings) for t in run.analysis.types)
        return f"judged {len(judged)}; {findings} findings; actions: {counts or 'none'}"

    def health(self) -> ComponentHealth:
        details: dict[str, str | int | float | bool | None] = {
            "last_run_at": self.last_run_at.isoformat() if self.last_run_at else None,
            "running": self.running,
        }
        if self.last_error is not None:
            return ComponentHealth(
                "performance_optimizer",
                HealthState.DEGRADED,
                self.last_error,
                self.last_run_at,
                details,
            )
        return ComponentHealth(
            "performance_optimizer", HealthState.OK, None, self.last_run_at, details
        )

    def _notify(self, kind: str, status: str, duration_s: float | None) -> None:
        for observer in self._observers:
            observer(kind, status, duration_s)


def _resource(record: ActionRecord) -> str:
    return f"optimization:{record.action_id}"


async def judge_round(optimizer: PerformanceOptimizer) -> list[ActionRecord]:
    """One judging round. A target that went away degrades the optimizer's health with the
    reason (the actions stay pending and are judged on a later round); a round that works
    clears it."""
    try:
        judged = await optimizer.judge()
    except (psycopg.Error, redis.exceptions.RedisError, PerfpilotError, OSError) as exc:
        optimizer.last_error = f"judging failed: {type(exc).__name__}: {exc}"
        logger.warning("optimizer: %s", optimizer.last_error)
        return []
    optimizer.last_error = None
    return judged


async def judge_loop(optimizer: PerformanceOptimizer, interval_s: float = 60.0) -> None:
    """Judge settled actions every ``interval_s`` (the settle period is on the injected clock)."""
    while True:
        await asyncio.sleep(interval_s)
        await judge_round(optimizer)
