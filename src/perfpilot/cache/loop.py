"""The Cache Optimizer's background work and its health on /status: client counters for
/metrics and judging settled TTL changes, every ``interval_s``."""

from __future__ import annotations

import asyncio
import logging

import redis.asyncio as aioredis

from perfpilot.cache.optimizer import CacheOptimizer
from perfpilot.core.clock import Clock
from perfpilot.core.health import ComponentHealth, HealthState

logger = logging.getLogger(__name__)
NAME = "cache_optimizer"


class CacheLoop:
    def __init__(self, optimizer: CacheOptimizer, interval_s: float, clock: Clock) -> None:
        self._optimizer = optimizer
        self._interval_s = interval_s
        self._clock = clock
        self._health = ComponentHealth(NAME, HealthState.OK, reason="waiting for the first round")

    def health(self) -> ComponentHealth:
        return self._health

    async def tick(self) -> None:
        """One round; a Redis failure is reported on /status and retried next round."""
        now = self._clock.now()
        try:
            signal = await self._optimizer.observe()
        except (aioredis.RedisError, OSError) as exc:
            logger.warning("cache optimizer round failed: %s", exc)
            self._health = ComponentHealth(
                NAME, HealthState.UNAVAILABLE, f"{type(exc).__name__}: {exc}", now
            )
            return
        scope = self._optimizer.scope
        report = self._optimizer.latest_report
        self._health = ComponentHealth(
            NAME,
            HealthState.OK,
            reason=None,
            checked_at=now,
            details={
                "clients": signal.clients,
                "namespaces_counted": len(signal.namespaces),
                "managed_prefixes": ",".join(p.decode(errors="replace") for p in scope.prefixes)
                or None,
                "writes": "recommend only" if scope.empty else "managed prefixes only",
                "last_sweep_keys": report.sweep.keys_in_pass if report else None,
            },
        )

    async def run(self) -> None:
        while True:
            await self.tick()
            await asyncio.sleep(self._interval_s)
