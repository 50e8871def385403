"""The Cache Optimizer: sweeps the target Redis, reports, plans and applies allowed actions.

All I/O is async (redis.asyncio); the store (audit, TTL ledger) is called through
``asyncio.to_thread``. Each call opens its own single-connection client, so a Redis that went
away shows up as a clear error on the next call, and CLIENT NO-TOUCH (Redis 7.2+) holds for
every lookup of the sweep.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from typing import cast

import redis.asyncio as aioredis

from perfpilot.cache import controlkeys as ck
from perfpilot.cache import findings as fd
from perfpilot.cache import keyrank
from perfpilot.cache.client_signal import ClientSignal, read_client_signal
from perfpilot.cache.connection import CLIENT_NAME
from perfpilot.cache.executor import ActionOutcome, Executor
from perfpilot.cache.keyname import namespace_of
from perfpilot.cache.lookups import OwnLookups
from perfpilot.cache.namespaces import summarize
from perfpilot.cache.peak import PEAK_HORIZON_MIN, PreloadWindow, preload_window
from perfpilot.cache.planner import Planner
from perfpilot.cache.ports import PeakForecast, TtlLedger
from perfpilot.cache.report import CacheReport, SweepSummary, recommendations, run_summary
from perfpilot.cache.scope import ManagedScope
from perfpilot.cache.server_info import (
    read_commandstats,
    read_slowlog,
    read_snapshot,
)
from perfpilot.cache.sweep import KeyReading, SweepBudget, sweep
from perfpilot.cache.ttlpolicy import parse_policies
from perfpilot.core.audit import AuditLog
from perfpilot.core.clock import Clock
from perfpilot.core.risk import RiskPolicy, Trigger
from perfpilot.core.settings import CacheConfig

logger = logging.getLogger(__name__)

CLIENT_WINDOW_S = 300


class UnknownActions(ValueError):
    """The request named action ids the current plan does not contain."""


class CacheOptimizer:
    def __init__(
        self,
        url: str,
        target: str,
        config: CacheConfig,
        managed_prefixes: tuple[str, ...],
        clock: Clock,
        audit: AuditLog,
        ledger: TtlLedger,
        policy: RiskPolicy,
        min_hit_ratio: float = 0.7,
        peak: PeakForecast | None = None,
        peak_horizon_min: float = PEAK_HORIZON_MIN,
    ) -> None:
        self.url = url
        self.target = target
        self.config = config
        self.scope = ManagedScope.of(managed_prefixes)
        self._prefixes = managed_prefixes
        self._clock = clock
        self._ledger = ledger
        self._min_hit_ratio = min_hit_ratio
        self._delimiter = config.delimiter.encode()
        self._pass: dict[bytes, KeyReading] = {}
        self._cursor = 0
        self._own = OwnLookups()
        self._peak = peak
        self._peak_horizon_min = peak_horizon_min
        self._lock = asyncio.Lock()
        self._planner = Planner(config, self.scope)
        self.executor = Executor(self.scope, clock, audit, ledger, policy, self._own.count)
        self.latest_signal: ClientSignal | None = None
        self.latest_report: CacheReport | None = None

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[aioredis.Redis]:
        client = aioredis.Redis.from_url(
            self.url,
            single_connection_client=True,
            client_name=CLIENT_NAME,
            socket_connect_timeout=5,
            socket_timeout=30,
        )
        try:
            yield client
        finally:
            await client.aclose()

    def namespace(self, key: bytes) -> bytes:
        return namespace_of(key, self._delimiter, self.config.namespace_depth)

    async def report(self) -> CacheReport:
        """Sweep (resuming an unfinished pass), read INFO and client counters, and plan."""
        async with self._lock, self.connect() as client:
            return await self._report(client)

    async def optimize(
        self, trigger: Trigger, action_ids: Collection[str] | None = None
    ) -> tuple[CacheReport, list[ActionOutcome]]:
        """Report, then apply the allowed actions (those named, or all); each one audited."""
        async with self._lock, self.connect() as client:
            report = await self._report(client)
            chosen = list(report.actions)
            if action_ids is not None:
                known = {a.id for a in report.actions}
                unknown = sorted(set(action_ids) - known)
                if unknown:
                    raise UnknownActions(
                        f"actions: unknown ids {unknown}; the current plan has {sorted(known)}"
                    )
                chosen = [a for a in report.actions if a.id in set(action_ids)]
            replica = report.server.role != "master"
            outcomes = [
                await self.executor.apply(client, a, trigger, replica, report) for a in chosen
            ]
        return report, outcomes

    async def observe(self) -> ClientSignal:
        """Read the client counters (for /metrics) and judge settled TTL changes."""
        async with self.connect() as client:
            signal = await read_client_signal(client, CLIENT_WINDOW_S)
        self._own.count(signal.own_hits, signal.own_misses)
        self.latest_signal = signal
        await self.executor.judge(signal)
        return signal

    async def run_scheduled(self) -> str:
        """The ``run_cache_optimization`` task: report, apply what the risk policy allows."""
        report, outcomes = await self.optimize(Trigger.SCHEDULED)
        await self.observe()
        return run_summary(report, outcomes)

    async def _report(self, client: aioredis.Redis) -> CacheReport:
        now = self._clock.now()
        before = await read_snapshot(client, now)
        if before.has_no_touch:
            await client.client_no_touch("ON")
        own_before = self._own.mark()
        result = await sweep(client, self._budget(), before.lfu, self._cursor)
        self._own.count(result.own_hits, result.own_misses)
        if self._cursor == 0:
            self._pass = {}
        self._pass.update((r.key, r) for r in result.readings if r.type != "none")
        self._cursor = result.cursor
        readings = list(self._pass.values())
        signal = await read_client_signal(client, CLIENT_WINDOW_S)
        self._own.count(signal.own_hits, signal.own_misses)
        self.latest_signal = signal
        ns_of = {r.key: self.namespace(r.key) for r in readings}
        ns_of.update((h.key, self.namespace(h.key)) for h in signal.hot)
        namespaces = summarize(
            readings, self._delimiter, self.config.namespace_depth, self.scope.prefixes,
            signal.namespaces,
        )  # fmt: skip
        cfg = self.config
        big = keyrank.big_keys(readings, cfg.big_key_bytes)
        hot = keyrank.hot_keys(readings, signal.hot, before.lfu)
        cold = keyrank.cold_keys(readings, cfg.cold_idle_s, cfg.cold_freq)
        raw_policies = cast(dict[bytes, bytes], await client.hgetall(ck.TTL_POLICY))
        self._own.count(1 if raw_policies else 0, 0 if raw_policies else 1)
        policies = parse_policies(raw_policies)
        pttl = await self._pttl(client, [h.key for h in signal.hot])
        after = await read_snapshot(client, self._clock.now())
        window = self._own.window(before, after, own_before)
        decisions = self._planner.decisions(signal, policies, window)
        ahead = self._preload_window()
        actions = self._planner.plan(
            readings, ns_of, decisions, policies, hot, cold, pttl, signal, ahead
        )
        commands = await read_commandstats(client)
        slowlog = await read_slowlog(client)
        found = [
            *fd.memory_findings(after),
            *fd.policy_findings(after, namespaces),
            *fd.traffic_findings(window, self._min_hit_ratio, commands, slowlog),
            *fd.big_key_findings(big, cfg.big_key_bytes),
        ]
        changes = await asyncio.to_thread(self._ledger.recent, 20)
        report = CacheReport(
            generated_at=now,
            target=self.target,
            server=after,
            window=window,
            sweep=SweepSummary.of(result, len(self._pass), before.lfu, before.has_no_touch),
            namespaces=tuple(namespaces),
            big_keys=tuple(big),
            hot_keys=tuple(hot),
            cold_keys=tuple(cold),
            commands=tuple(commands),
            slowlog=tuple(slowlog),
            findings=tuple(found),
            recommendations=tuple(recommendations(found, actions)),
            clients=signal.clients,
            client_window_s=signal.window_s,
            managed_prefixes=self._prefixes,
            writes=self.scope.writes(after.role),
            actions=tuple(actions),
            ttl_changes=tuple(changes),
        )
        self.latest_report = report
        return report

    def _budget(self) -> SweepBudget:
        c = self.config
        return SweepBudget(
            max_keys=c.sweep_max_keys,
            time_s=c.sweep_time_budget_s,
            cpu_share=c.sweep_cpu_share,
            scan_count=c.scan_count,
            memory_samples=c.memory_samples,
            big_key_bytes=c.big_key_bytes,
        )

    def _preload_window(self) -> PreloadWindow:
        """How far ahead preloading looks: to the forecast peak when one is near."""
        minutes = self._peak.minutes_to_peak() if self._peak is not None else None
        return preload_window(minutes, self._peak_horizon_min)

    async def _pttl(self, client: aioredis.Redis, keys: list[bytes]) -> dict[bytes, int]:
        if not keys:
            return {}
        async with client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.pttl(key)
            replies = await pipe.execute()
        found = sum(1 for r in replies if r != -2)
        self._own.count(found, len(replies) - found)
        return dict(zip(keys, (int(r) for r in replies), strict=True))
